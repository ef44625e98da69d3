"""`newsmon demo`: the demo site serves valid feeds, sitemaps and listing pages with conditional GET and
publishes on schedule; the classifier flags exactly the stories meant to alert (this keeps the demo
honest); a real `newsmon crawl --once` of the site stores the intended categories; the command runs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerts.message import category_label
from monitor.classify import ClassifyConfig, classify, load_ruleset
from monitor.commands.demo import ALERT_PREFIX, SOURCE_KINDS, demo_config
from monitor.demo.site import DemoSite, DemoStory, load_stories, release_order
from monitor.extract import extract_page
from monitor.feeds import parse_feed
from monitor.listing import find_article_links
from monitor.sitemaps import parse_sitemap
from tests.conftest import ROOT, run_newsmon, wait_until

STORIES = load_stories()
LANGUAGES = ["en", "de", "vi", "zh", "ar", "es", "fr"]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


wait_for = wait_until


def first_alert_title(story: DemoStory) -> str:
    """The console title of a demo story's first alert (alerts/message.py `Notification.title`): the demo
    watches no entity, so `categories · headline`."""
    return f"{category_label(story.expect)} · {story.title}"


def console_titles(stdout: str) -> list[str]:
    """The title of every console message (its first line, "=== <title>", alerts/console.py)."""
    return [line[len(ALERT_PREFIX):] for line in stdout.splitlines() if line.startswith(ALERT_PREFIX)]


@pytest.fixture(scope="module")
def rules():
    return load_ruleset(ClassifyConfig(), ROOT)


# -- the stories ---------------------------------------------------------------------------------


def test_stories_cover_every_language_and_category() -> None:
    by_lang = {lang: [s for s in STORIES if s.language == lang] for lang in LANGUAGES}
    assert sorted({s.language for s in STORIES}) == sorted(LANGUAGES)
    for lang, stories in by_lang.items():
        assert any(s.alerting for s in stories), f"{lang}: no alerting story"
        assert any(not s.alerting for s in stories), f"{lang}: no ordinary story"
    counts = {c: sum(s.expect == c for s in STORIES) for c in ("outage", "fraud", "rumor", "none")}
    assert min(counts.values()) >= 4, counts
    assert len({s.slug for s in STORIES}) == len(STORIES)


def test_release_order_starts_with_one_alert_per_language_then_mixes() -> None:
    order = release_order(STORIES)
    assert sorted(s.slug for s in order) == sorted(s.slug for s in STORIES)
    first = order[: len(LANGUAGES)]
    assert sorted(s.language for s in first) == sorted(LANGUAGES) and all(s.alerting for s in first)
    next_ten = order[len(LANGUAGES): len(LANGUAGES) + 10]
    assert [s.alerting for s in next_ten] == [False, True] * 5, "then quiet and alerting stories alternate"


def test_a_malformed_story_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "xx.yaml").write_text(
        "language: xx\noutlet: X\nstories:\n  - {slug: a, section: b, expect: scandal, title: t, paragraphs: [p]}\n",
        encoding="utf-8")
    with pytest.raises(ValueError) as exc:
        load_stories(tmp_path)
    assert str(exc.value) == 'xx.yaml: stories[0]: expect must be one of outage, fraud, rumor or "none"'


@pytest.mark.parametrize("story", STORIES, ids=[f"{s.language}-{s.expect}-{s.slug[:40]}" for s in STORIES])
def test_classifier_flags_exactly_the_intended_category(story: DemoStory, rules) -> None:  # type: ignore[no-untyped-def]
    expected = [] if story.expect == "none" else [story.expect]
    result = classify(story.title, "\n\n".join(story.paragraphs), story.language, rules)
    assert result.categories == expected, result.scores
    # the article page as the crawler extracts it says the same
    with DemoSite([story], initial=1) as site:
        status, headers, body = get(site.url(story.path))
    assert status == 200
    page = extract_page(body, site.url(story.path), headers["Content-Type"], None)
    assert page.language == story.language and page.title == story.title
    assert classify(page.title, page.text, page.language, rules).categories == expected


# -- the site ------------------------------------------------------------------------------------


def test_site_serves_valid_feeds_sitemaps_and_listings() -> None:
    now = datetime.now(timezone.utc)
    with DemoSite(initial=14) as site:
        published = site.published
        assert len(published) == 14 and site.remaining == len(STORIES) - 14
        for lang in LANGUAGES:
            mine = [p for p in reversed(published) if p.story.language == lang]   # newest first
            urls = [site.url(p.story.path) for p in mine]
            assert [p.story for p in mine] == [s for s in reversed(release_order(STORIES)[:14]) if s.language == lang]
            assert mine, f"{lang}: nothing published"
            for doc, version in (("rss.xml", "rss20"), ("atom.xml", "atom10")):
                status, headers, body = get(site.url(f"/{lang}/{doc}"))
                feed = parse_feed(body, site.url(f"/{lang}/{doc}"), headers["Content-Type"])
                assert (status, feed.error, feed.version, feed.language) == (200, None, version, lang)
                assert [e.url for e in feed.entries] == urls
                assert [e.title for e in feed.entries] == [p.story.title for p in mine]
                assert [e.published for e in feed.entries] == [p.at for p in mine]
            status, _, body = get(site.url(f"/{lang}/sitemap-news.xml"))
            sitemap = parse_sitemap(body, site.url(f"/{lang}/sitemap-news.xml"), now=now, max_age=timedelta(days=2))
            assert (status, sitemap.error, sitemap.kind) == (200, None, "urlset")
            assert [(e.url, e.language, e.title) for e in sitemap.entries] == [
                (site.url(p.story.path), lang, p.story.title) for p in mine]
            status, headers, body = get(site.url(f"/{lang}/"))
            links = find_article_links(body, site.url(f"/{lang}/"), content_type=headers["Content-Type"])
            assert status == 200 and [link.url for link in links] == urls
            for url in urls:
                assert get(url)[0] == 200
        status, _, body = get(site.url("/sitemap-news.xml"))
        sitemap = parse_sitemap(body, site.url("/sitemap-news.xml"), now=now, max_age=timedelta(days=2))
        assert status == 200 and len(sitemap.entries) == 14
        status, _, body = get(site.url("/robots.txt"))
        assert status == 200 and body.startswith(b"User-agent: *\nAllow: /\n")
        unpublished = release_order(STORIES)[14]
        assert get(site.url(unpublished.path))[0] == 404, "an article exists only once published"
        assert get(site.url("/en/nothing.xml"))[0] == 404


def test_conditional_get_answers_304_until_something_is_published() -> None:
    with DemoSite(initial=7) as site:
        status, headers, body = get(site.url("/de/atom.xml"))
        etag, last_modified = headers["ETag"], headers["Last-Modified"]
        assert status == 200 and etag.startswith('"') and last_modified.endswith(" GMT")
        status, headers304, body304 = get(site.url("/de/atom.xml"), {"If-None-Match": etag})
        assert (status, body304, headers304["ETag"]) == (304, b"", etag)
        assert get(site.url("/de/atom.xml"), {"If-Modified-Since": last_modified})[0] == 304
        assert get(site.url("/de/atom.xml"), {"If-None-Match": '"other"'})[0] == 200
        other_etags = {lang: get(site.url(f"/{lang}/rss.xml"))[1]["ETag"] for lang in LANGUAGES}
        assert site.not_modified == 2
        assert get(site.url("/de/atom.xml"), {"If-None-Match": etag})[0] == 304

        # a story in another language: the German feed stays unchanged, that language's feed changes
        nxt = release_order(STORIES)[7]
        assert nxt.language != "de"
        assert site.publish_next().story == nxt  # type: ignore[union-attr]
        assert get(site.url("/de/atom.xml"), {"If-None-Match": etag})[0] == 304
        status, headers, body = get(site.url(f"/{nxt.language}/rss.xml"))
        assert status == 200 and nxt.title in body.decode("utf-8")
        assert headers["ETag"] != other_etags[nxt.language]

        while site.publish_next().story.language != "de":  # type: ignore[union-attr]
            pass
        status, headers, _ = get(site.url("/de/atom.xml"), {"If-None-Match": etag})
        assert status == 200 and headers["ETag"] != etag


def test_publish_next_and_the_timer_release_every_story_once() -> None:
    with DemoSite(initial=2) as site:
        seen: list[str] = []
        site.on_publish = lambda p: seen.append(p.story.slug)
        site.start_timer(0.05)
        wait_for(lambda: site.remaining == 0, 10, "every story to be published")
        site.stop_timer()
        assert site.publish_next() is None
        published = site.published
        assert [p.story.slug for p in published] == [s.slug for s in release_order(STORIES)]
        assert seen == [p.story.slug for p in published[2:]]
        times = [p.at for p in published]
        assert times == sorted(times) and times[0] < times[2] - timedelta(minutes=4), "initial ones back-dated"


# -- end to end ----------------------------------------------------------------------------------


def test_crawl_once_of_the_demo_site_stores_the_intended_categories(tmp_path: Path) -> None:
    with DemoSite(initial=len(STORIES)) as site:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(demo_config(site.base, interval=10, listen="127.0.0.1:1"), encoding="utf-8")
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        with sqlite3.connect(tmp_path / "demo.db") as conn:
            stored = dict(conn.execute("SELECT url, categories FROM articles").fetchall())
        expected = {site.url(s.path): f'["{s.expect}"]' if s.alerting else "[]" for s in STORIES}
        assert stored == expected
        for lang, (kind, _) in SOURCE_KINDS.items():
            line = next(x.split() for x in result.stdout.splitlines() if x.startswith(f"demo-{lang} "))
            n = sum(s.language == lang for s in STORIES)
            alerting = sum(s.language == lang and s.alerting for s in STORIES)
            assert line[1:6] == [str(n), "0", str(alerting), str(alerting), "0"], (kind, line)
        # every alerting story is a story of its own: one first alert each, no update, nothing else
        assert sorted(console_titles(result.stdout)) == sorted(first_alert_title(s) for s in STORIES if s.alerting)
        assert "Also in this message" not in result.stdout, "no demo story joined another"
        assert "alerts: all delivered" in result.stdout


def test_demo_site_only_serves_until_its_duration(tmp_path: Path) -> None:
    start = time.monotonic()
    result = run_newsmon("demo", "--site-only", "--duration", "2s", "--every", "0.5s", "--dir", str(tmp_path),
                         cwd=tmp_path, timeout=30)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 20
    lines = result.stdout.splitlines()
    assert lines[0].startswith("demo: news site on http://127.0.0.1:")
    assert sum(line.startswith("demo: published [") for line in lines) >= 8
    assert lines[-1].startswith("demo: ") and " stories published, " in lines[-1]
    config = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    assert config.count("type: feed") == 4 and "type: sitemap" in config and config.count("type: page") == 2


def test_demo_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "demo", "--site-only", "--duration", "5m"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.startswith("demo: news site on http://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    last = out.splitlines()[-1]
    assert last.startswith("demo: ") and " stories published, " in last and "requests served" in last


def test_demo_counts_console_messages_first_alerts_and_updates() -> None:
    import io

    from monitor.commands.demo import _Stream

    lines = ["=== outage · Stratus Cloud region outage takes down banking and shopping apps\n",
             "    outage: service down or failing\n",
             "    Story #2 · first alert · 1 source, language en so far\n",
             "=== Update 1 · outage · 2 sources (en, de)\n",
             "    New sources: demo-de (de)\n",
             "=== Source demo-en is failing (5 errors)\n",
             "demo: published [en] x (should not alert)\n"]
    dst = io.StringIO()
    stream = _Stream(iter(lines), dst)
    stream.run()
    assert (stream.alerts, stream.updates, dst.getvalue()) == (3, 1, "".join(lines))


@pytest.mark.parametrize("name", ["plain", "what?", "no#1", "100%25 sure"])
def test_delivered_reads_a_store_whose_path_has_uri_characters(tmp_path: Path, name: str) -> None:
    """The demo polls its daemon's store read-only: a '?', '#' or '%' in --dir is a path, not URI syntax."""
    from monitor.commands.demo import delivered

    directory = tmp_path / name
    directory.mkdir()
    db = directory / "demo.db"
    with sqlite3.connect(db) as conn:
        conn.executescript("""
            CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT, categories TEXT);
            CREATE TABLE alert_items (id INTEGER PRIMARY KEY, article_id INTEGER);
            CREATE TABLE alert_outbox (id INTEGER PRIMARY KEY, status TEXT);
            CREATE TABLE alert_outbox_items (outbox_id INTEGER, item_id INTEGER);
            INSERT INTO articles VALUES (1, 'https://d/a', '["outage"]'), (2, 'https://d/b', '[]');
            INSERT INTO alert_items VALUES (1, 1);
            INSERT INTO alert_outbox VALUES (1, 'sent');
            INSERT INTO alert_outbox_items VALUES (1, 1);
        """)
    conn.close()
    before = sorted(x.name for x in directory.iterdir())
    assert delivered(db, ["https://d/a", "https://d/b", "https://d/c"]) == {
        "https://d/a": (True, True, True), "https://d/b": (True, False, False), "https://d/c": (False, False, False)}
    assert sorted(x.name for x in directory.iterdir()) == before, "read without writing"
    assert delivered(directory / "none.db", ["https://d/a"]) == {"https://d/a": (False, False, False)}


def test_demo_rejects_a_too_short_interval(tmp_path: Path) -> None:
    result = run_newsmon("demo", "--interval", "5s", cwd=tmp_path, timeout=30)
    assert (result.returncode, result.stderr.strip()) == (2, "newsmon demo: --interval must be at least 10s")


def test_demo_runs_the_daemon_and_shows_only_the_intended_alerts(tmp_path: Path) -> None:
    """Every story that should alert is printed exactly once, including one published just before the end
    (the demo waits for the daemon to poll it), no `matched ...` log line repeats a printed alert, and the
    final line's counts agree."""
    result = run_newsmon("demo", "--duration", "20s", "--every", "2s", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    alerts = console_titles(result.stdout)
    assert len(alerts) >= 3, result.stdout + result.stderr
    published = [line for line in result.stdout.splitlines() if line.startswith("demo: published [")]
    assert len(published) >= 12 and any("should not alert" in line for line in published)
    # each alert is the first alert of a published alerting story, in its category, and each story prints once
    by_title = {s.title: s for s in STORIES}
    out = [first_alert_title(by_title[line.split("] ", 1)[1].rsplit(" (should alert: ", 1)[0]])
           for line in published if "(should alert: " in line]
    assert not [t for t in alerts if t.startswith("Update ")], "no demo story is an update of another"
    assert sorted(alerts) == sorted(out), "every published alerting story alerts, once; nothing else does"
    for line in published:
        story = by_title[line.split("] ", 1)[1].rsplit(" (should", 1)[0]]
        assert line.endswith(f"(should alert: {category_label(story.expect)})" if story.alerting else "(should not alert)")
    assert "demo: missed:" not in result.stdout
    # the alert printed on the console is not logged again
    assert " matched " not in result.stderr, result.stderr[-3000:]
    assert "first cycle: 7 sources polled, none failing" in result.stderr
    summary = result.stdout.splitlines()[-1]
    assert summary.startswith(f"demo: {len(published)} stories published ({len(out)} should alert), "
                              f"{len(out)} alerts printed by the daemon in "), summary
    assert summary.endswith("daemon exit code 0")


def test_the_demo_waits_at_most_two_intervals_and_names_what_was_missed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """No daemon store at all (nothing polled): after 2 x --interval the demo gives up and names each story."""
    import argparse
    import threading

    from monitor.commands.demo import _wait_for_the_last_stories, outstanding

    with DemoSite(initial=2) as site:
        assert [len(x) for x in outstanding(site, tmp_path / "demo.db")] == [2, 0]
        daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            start = time.monotonic()
            args = argparse.Namespace(interval=0.5, duration=3.0)
            assert _wait_for_the_last_stories(args, site, tmp_path / "demo.db", daemon, threading.Event()) is None
            took = time.monotonic() - start
        finally:
            daemon.kill()
            daemon.wait()
        assert 0.9 <= took < 5
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == ("demo: 3s are up, no more stories; waiting for the daemon to poll and alert the last "
                            "2 stories (at most 1s)")
        assert lines[1:] == [f"demo: missed: [{p.story.language}] {p.story.title} was published but not polled "
                             "within 1s of the end" for p in site.published]
