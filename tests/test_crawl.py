"""`newsmon crawl --once` end to end: a real Scrapy crawl of a real HTTP server on 127.0.0.1, through
extraction, classification and the store. Each crawl runs as a subprocess, as a user runs it."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT, run_newsmon
from tests.httpserver import LocalSite
from tests.sitedata import STORIES, article_html, news_sitemap, rss

CRAWL = """\
store: {path: test.db}
crawl: {delay: 0s, timeout: 10s, retries: 0, concurrency: 8, per_domain: 8, max_size: 200KB}
"""


def config(tmp_path: Path, sources: str, extra: str = "", timeout: str = "10s") -> Path:
    """A generous timeout by default: a loaded CI machine must not turn a loopback request into a failure."""
    path = tmp_path / "config.yaml"
    path.write_text(CRAWL.replace("timeout: 10s", f"timeout: {timeout}") + extra + "sources:\n" + sources,
                    encoding="utf-8")
    return path


def rows(tmp_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "test.db") as conn:
        return conn.execute(sql).fetchall()


def summary_line(stdout: str, source: str) -> list[str]:
    for line in stdout.splitlines():
        if line.split()[:1] == [source] and not line[:1].isspace():  # alert text on the console is indented
            return line.split()
    raise AssertionError(f"no summary line for {source} in:\n{stdout}")


def serve_stories(site: LocalSite) -> None:
    for s in STORIES:
        site.add(f"/news/{s.slug}.html", article_html(s))


def test_feed_poll_stores_classifies_and_then_gets_304(tmp_path: Path) -> None:
    with LocalSite() as site:
        serve_stories(site)
        site.add("/feed.xml", rss(site.base, STORIES), content_type="application/rss+xml")
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n")

        first = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert summary_line(first.stdout, "test-feed")[:6] == ["test-feed", "4", "0", "3", "3", "0"]

        stored = dict(rows(tmp_path, "SELECT url, categories FROM articles"))
        assert stored == {
            f"{site.base}/news/telco-outage.html": '["outage"]',
            f"{site.base}/news/sparkasse-betrug.html": '["fraud"]',
            f"{site.base}/news/park-budget.html": "[]",
            f"{site.base}/news/bank-tin-don.html": '["rumor"]',
        }, "tracking parameters are stripped and each story is classified"
        langs = dict(rows(tmp_path, "SELECT url, language FROM articles"))
        assert sorted(langs.values()) == ["de", "en", "en", "vi"]
        (text,) = rows(tmp_path, "SELECT text FROM articles WHERE url LIKE '%telco-outage%'")[0]
        assert "core network" in text and "Most read" not in text, "main text without the sidebar"
        published = rows(tmp_path, "SELECT published FROM articles WHERE published IS NULL")
        assert published == [], "every article has a publication time"
        assert "Nationwide mobile network outage" in first.stdout, "console alert printed"

        second = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        line = " ".join(summary_line(second.stdout, "test-feed"))
        assert line.startswith("test-feed 0 0 0 0 0") and "not modified (304)" in line
        feed_hits = site.requests_to("/feed.xml")
        assert [h.status for h in feed_hits] == [200, 304]
        assert feed_hits[1].headers.get("If-None-Match"), "conditional GET on the second poll"
        assert len(site.requests_to("/news/telco-outage.html")) == 1, "an article page is fetched once"
        assert rows(tmp_path, "SELECT count(*) FROM articles") == [(4,)]


def test_full_text_feed_is_not_refetched_and_reposts_are_not_duplicated(tmp_path: Path) -> None:
    with LocalSite() as site:
        site.add("/full.xml", rss(site.base, STORIES[:2], summary=True), content_type="application/rss+xml",
                 etag=False)
        cfg = config(tmp_path, f"  - {{id: full, type: feed, url: '{site.url('/full.xml')}'}}\n",
                     extra="")
        (tmp_path / "config.yaml").write_text(
            cfg.read_text().replace("retries: 0,", "retries: 0, min_summary_chars: 100,"), encoding="utf-8"
        )
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert summary_line(result.stdout, "full")[1] == "2"
        assert site.requests_to("/news/telco-outage.html") == [], "full-text entries need no page fetch"
        # The same story syndicated under a new URL: recognised by content, not stored twice.
        site.add("/full.xml", rss(site.base, STORIES[:2], summary=True).replace(b"/news/", b"/syndicated/"),
                 content_type="application/rss+xml", etag=False)
        again = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert summary_line(again.stdout, "full")[1:3] == ["0", "2"]
        assert rows(tmp_path, "SELECT count(*) FROM articles") == [(2,)]


def test_failing_sources_are_reported_and_do_not_stop_the_others(tmp_path: Path) -> None:
    with LocalSite() as site:
        serve_stories(site)
        site.add("/good.xml", rss(site.base, STORIES[:1]), content_type="application/rss+xml")
        site.add("/gone.xml", b"gone", status=404)
        site.add("/broken.xml", b"oops", status=500)
        site.add("/slow.xml", rss(site.base, STORIES), delay=30, content_type="application/rss+xml")
        site.add("/truncated.xml", rss(site.base, STORIES), truncate=True, content_type="application/rss+xml")
        site.add("/garbage.xml", b"\x00\x01 this is not a feed at all <<<", content_type="application/rss+xml")
        site.add("/dropped.xml", b"", drop=True)
        site.add("/busy.xml", b"slow down", status=429, headers={"Retry-After": "120"})
        site.add("/huge.xml", b"<rss>" + b" " * 300_000 + b"</rss>", content_type="application/rss+xml")
        site.add("/moved.xml", redirect="/new-home.xml")
        site.add("/new-home.xml", rss(site.base, STORIES[1:2]), content_type="application/rss+xml")
        names = ["good", "gone", "broken", "slow", "truncated", "garbage", "dropped", "busy", "huge", "moved"]
        cfg = config(tmp_path, "".join(
            f"  - {{id: {n}, type: feed, url: '{site.url(f'/{n}.xml')}'}}\n" for n in names), timeout="5s")

        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert result.returncode == 1, "a failed source makes the exit code 1"
        assert summary_line(result.stdout, "good")[1:4] == ["1", "0", "1"], result.stdout + result.stderr
        assert summary_line(result.stdout, "moved")[1:6] == ["1", "0", "1", "1", "0"], "redirect followed"
        failing = names[1:-1]
        notes = {n: " ".join(summary_line(result.stdout, n)[6:]) for n in failing}
        assert notes == {
            "gone": "HTTP 404",
            "broken": "HTTP 500",
            "slow": "timed out",
            "truncated": "truncated response (connection closed before the end of the body)",
            "garbage": notes["garbage"],
            "dropped": "connection closed without a complete response",
            "busy": notes["busy"],
            "huge": "response larger than crawl.max_size",
        }
        assert notes["garbage"].startswith("malformed feed: ")
        assert notes["busy"].startswith("HTTP 429 (Retry-After: until ")
        for n in failing:
            assert f"source {n}: {site.url(f'/{n}.xml')}: " in result.stderr, "logged with source and URL"
        state = dict(rows(tmp_path, "SELECT source_id, consecutive_errors FROM source_state"))
        assert state == {"good": 0, "moved": 0, **{n: 1 for n in failing}}
        (until,) = rows(tmp_path, "SELECT retry_after_until FROM source_state WHERE source_id = 'busy'")[0]
        delay = datetime.fromisoformat(until) - datetime.now(timezone.utc)
        assert timedelta(seconds=100) < delay <= timedelta(seconds=120)


def test_json_logs_carry_stable_keys(tmp_path: Path) -> None:
    import json

    with LocalSite() as site:
        serve_stories(site)
        site.add("/feed.xml", rss(site.base, STORIES[:1]), content_type="application/rss+xml")
        cfg = config(tmp_path, f"  - {{id: ok, type: feed, url: '{site.url('/feed.xml')}'}}\n"
                               f"  - {{id: gone, type: feed, url: '{site.url('/gone.xml')}'}}\n",
                     extra="log: {format: json}\n")
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
    records = [json.loads(line) for line in result.stderr.splitlines()]
    failed = [r for r in records if r["level"] == "error"]
    assert [(r["source"], r["url"], r["error"]) for r in failed] == [("gone", site.url("/gone.xml"), "HTTP 404")]
    matched = [r for r in records if r.get("categories")]
    assert [(r["source"], r["categories"], r["alerted"]) for r in matched] == [("ok", "outage", True)]


def test_robots_txt_is_obeyed(tmp_path: Path) -> None:
    with LocalSite() as site:
        site.add("/robots.txt", b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        site.add("/private/feed.xml", rss(site.base, STORIES[:1]), content_type="application/rss+xml")
        cfg = config(tmp_path, f"  - {{id: private, type: feed, url: '{site.url('/private/feed.xml')}'}}\n")
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert result.returncode == 1
        assert " ".join(summary_line(result.stdout, "private")[6:]) == "forbidden by robots.txt"
        assert site.requests_to("/private/feed.xml") == []
        robots = site.requests_to("/robots.txt")
        assert robots and robots[0].headers["User-Agent"].startswith("newsmon/")


def test_news_sitemap_only_fetches_entries_newer_than_max_age(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with LocalSite() as site:
        serve_stories(site)
        site.add("/sitemap-news.xml", news_sitemap(site.base, [
            ("/news/telco-outage.html", now - timedelta(hours=2), STORIES[0].title),
            ("/news/park-budget.html", now - timedelta(hours=3), STORIES[2].title),
            ("/news/sparkasse-betrug.html", now - timedelta(days=10), STORIES[1].title),
        ]), content_type="application/xml", gzip=True)
        cfg = config(tmp_path, f"  - {{id: smap, type: sitemap, url: '{site.url('/sitemap-news.xml')}', max_age: 2d}}\n")
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert summary_line(result.stdout, "smap")[1] == "2"
        assert len(site.requests_to("/news/telco-outage.html")) == 1
        assert site.requests_to("/news/sparkasse-betrug.html") == [], "old entries are not fetched"
        published = dict(rows(tmp_path, "SELECT url, published FROM articles"))
        assert published[f"{site.base}/news/telco-outage.html"] == (now - timedelta(hours=2)).isoformat()


@pytest.mark.parametrize("selectors", [None, ["a.story"]], ids=["default-links", "css-selector"])
def test_listing_page_links_are_followed(tmp_path: Path, selectors: list[str] | None) -> None:
    with LocalSite() as site:
        serve_stories(site)
        links = "".join(
            f'<li><a class="story" href="/news/{s.slug}.html">{s.title}</a></li>' for s in STORIES[:3]
        )
        site.add("/press/", f"""<html><body><nav><a href="/">Home</a><a href="/about/">About us</a>
            <a href="/login">Login</a></nav><h1>Press releases</h1><ul>{links}</ul>
            <footer><a href="/privacy">Privacy</a></footer></body></html>""")
        sel = f", selectors: {selectors}" if selectors else ""
        cfg = config(tmp_path, f"  - {{id: press, type: page, url: '{site.url('/press/')}'{sel}}}\n")
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert summary_line(result.stdout, "press")[1] == "3"
        assert site.requests_to("/about/") == [] and site.requests_to("/login") == []


@pytest.mark.conformance
def test_six_cyrillic_encodings_of_one_feed_store_identical_titles(tmp_path: Path) -> None:
    encodings = ["windows-1251-russian", "KOI8-R", "iso-8859-5-russian", "IBM866", "IBM855", "MacCyrillic"]
    with LocalSite() as site:
        sources = ""
        for i, enc in enumerate(encodings):
            site.add(f"/{i}.xml", (CORPUS / "feeds/chardet" / enc / "newsru.com.xml").read_bytes(),
                     content_type="application/xml")
            sources += f"  - {{id: newsru-{i}, type: feed, url: '{site.url(f'/{i}.xml')}', fetch_articles: false}}\n"
        cfg = config(tmp_path, sources)
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        counts = {summary_line(result.stdout, f"newsru-{i}")[1] for i in range(6)}
        assert counts != {"0"}
    # The first poll stores the entries; the same texts from the other five are recognised as seen.
    titles = rows(tmp_path, "SELECT title FROM articles ORDER BY id")
    assert titles and all("\ufffd" not in t for (t,) in titles)
    assert any("Росси" in t or "Москв" in t for (t,) in titles), titles[:3]


def test_page_without_declared_charset_is_decoded(tmp_path: Path) -> None:
    story = STORIES[0]
    from tests.sitedata import Story

    zh = Story("zh-outage", "zh", "中国联通部分地区网络故障 用户无法上网", [
        "11月20日上午，中国联通多个省份的用户反映手机无法上网、无法拨打电话，网络中断持续约三个小时。",
        "中国联通客服表示，故障原因是核心网设备异常，目前服务已全部恢复，公司向受影响用户致歉。",
    ])
    with LocalSite() as site:
        site.add("/news/zh-outage.html", article_html(zh, charset="gbk", declare=False), content_type="text/html")
        site.add("/feed.xml", rss(site.base, [zh]), content_type="application/rss+xml")
        cfg = config(tmp_path, f"  - {{id: zh, type: feed, url: '{site.url('/feed.xml')}'}}\n")
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert story.slug
    ((title, text, categories, language),) = rows(tmp_path, "SELECT title, text, categories, language FROM articles")
    assert title == zh.title
    assert "核心网设备异常" in text
    assert language == "zh" and categories == '["outage"]'


def test_scrapy_list_and_crawl_from_project_root(tmp_path: Path) -> None:
    import subprocess
    import sys

    listed = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["feed", "news", "page", "sitemap"]
    with LocalSite() as site:
        serve_stories(site)
        site.add("/feed.xml", rss(site.base, STORIES[:2]), content_type="application/rss+xml")
        cfg = config(tmp_path, f"  - {{id: via-scrapy, type: feed, url: '{site.url('/feed.xml')}'}}\n")
        import os

        env = dict(os.environ, NEWSMON_CONFIG=str(cfg))
        crawled = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "feed", "-a", "source=via-scrapy"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert crawled.returncode == 0, crawled.stderr
    assert rows(tmp_path, "SELECT count(*) FROM articles") == [(2,)]


# -- nothing lost: a feed's validators advance only with its entries queued -----------------------------


def test_a_transient_500_on_an_article_page_is_retried_not_lost(tmp_path: Path) -> None:
    """The feed answers 304 from the second poll on; the page that failed once must still be fetched."""
    with LocalSite() as site:
        serve_stories(site)
        site.add("/news/telco-outage.html", b"busy", status=500)
        site.add("/feed.xml", rss(site.base, STORIES), content_type="application/rss+xml")
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n")
        first = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "telco-outage.html: HTTP 500" in first.stderr
        assert rows(tmp_path, "SELECT count(*) FROM articles") == [(3,)]
        assert rows(tmp_path, "SELECT url, attempts, last_error FROM pending_articles") == [
            (f"{site.base}/news/telco-outage.html", 1, "HTTP 500")
        ], "the failed entry stays queued, with its error"

        site.add("/news/telco-outage.html", article_html(STORIES[0]))
        early = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)  # before the retry is due
        assert early.returncode == 0, early.stderr
        assert len(site.requests_to("/news/telco-outage.html")) == 1, "the retry waits for crawl.page_retry"
        (next_try,), = rows(tmp_path, "SELECT next_try FROM pending_articles")
        assert 55 < (datetime.fromisoformat(next_try) - datetime.now(timezone.utc)).total_seconds() <= 60
        with sqlite3.connect(tmp_path / "test.db") as conn:  # a minute passes
            conn.execute("UPDATE pending_articles SET next_try = '2000-01-01T00:00:00+00:00'")
        again = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert [h.status for h in site.requests_to("/feed.xml")] == [200, 304, 304]
        assert "Nationwide mobile network outage" in again.stdout, "alerted once the page answered"
        assert rows(tmp_path, "SELECT categories FROM articles WHERE url LIKE '%telco-outage%'") == [('["outage"]',)]
        assert rows(tmp_path, "SELECT count(*) FROM pending_articles") == [(0,)]


def test_a_page_that_keeps_failing_falls_back_to_the_feed_summary(tmp_path: Path) -> None:
    with LocalSite() as site:
        site.add("/news/telco-outage.html", b"bad gateway", status=502)
        site.add("/feed.xml", rss(site.base, STORIES[:1]), content_type="application/rss+xml")
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n")
        cfg.write_text(cfg.read_text().replace("retries: 0,", "retries: 0, page_retry: 0s,"))
        for _ in range(8):
            done = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
            assert done.returncode == 0, done.stderr
        assert len(site.requests_to("/news/telco-outage.html")) == 8
        assert "giving up on the page after 8 attempts" in done.stderr
        (title, text), = rows(tmp_path, "SELECT title, text FROM articles")
        assert title == STORIES[0].title and text == STORIES[0].paragraphs[0][:120]
        assert rows(tmp_path, "SELECT count(*) FROM pending_articles") == [(0,)]


def test_a_poll_that_dies_before_its_articles_are_stored_is_redone(tmp_path: Path) -> None:
    """kill -9 between the feed's response and its articles: nothing was committed, or the entries were
    queued together with the validators. Simulated by a page slower than the crawl is allowed to run."""
    with LocalSite() as site:
        serve_stories(site)
        site.add("/news/telco-outage.html", article_html(STORIES[0]), delay=30)
        site.add("/feed.xml", rss(site.base, STORIES), content_type="application/rss+xml")
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n")
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "crawl", "--once", "-c", str(cfg)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not site.requests_to("/news/telco-outage.html") and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        queued = {u for (u,) in rows(tmp_path, "SELECT url FROM pending_articles")}
        assert f"{site.base}/news/telco-outage.html" in queued, "queued with the validators that were saved"
        assert rows(tmp_path, "SELECT count(*) FROM articles") == [(4 - len(queued),)]

        site.add("/news/telco-outage.html", article_html(STORIES[0]))
        again = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert [h.status for h in site.requests_to("/feed.xml")] == [200, 304]
        assert rows(tmp_path, "SELECT count(*) FROM articles") == [(4,)]
        assert "Nationwide mobile network outage" in again.stdout
