"""`newsmon replay` end to end: a real `newsmon crawl --once` of a local site on 127.0.0.1 fills a real
SQLite store, then replay (a subprocess, as a user runs it) re-runs the rules in force and candidate
rules over the stored articles. It must list exactly the articles whose categories would change, and
leave the store byte-identical (no -wal or -shm file either)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from tests.conftest import run_newsmon
from tests.httpserver import LocalSite
from tests.sitedata import STORIES, article_html, rss

CONFIG = """\
store: {{path: test.db}}
crawl: {{delay: 0s, timeout: 10s, retries: 0, concurrency: 8, per_domain: 8}}
classify: {{keywords: [local/]}}
sources:
  - {{id: test-feed, type: feed, url: '{feed}'}}
"""


def snapshot(folder: Path) -> dict[str, str]:
    """Every file in the folder (the store and any -wal/-shm beside it) with its content hash."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def stored(tmp_path: Path) -> dict[str, str]:
    with sqlite3.connect(f"{(tmp_path / 'test.db').as_uri()}?mode=ro&immutable=1", uri=True) as conn:
        return dict(conn.execute("SELECT url, categories FROM articles"))


def test_replay_lists_exactly_the_changed_articles_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()   # the rules in force: the shipped ones plus a veto on "Sparkasse"
    (tmp_path / "local" / "de.yaml").write_text("language: de\ncategories:\n  fraud:\n    veto: [Sparkasse]\n",
                                               encoding="utf-8")
    with LocalSite() as site:
        for s in STORIES:
            site.add(f"/news/{s.slug}.html", article_html(s))
        site.add("/feed.xml", rss(site.base, STORIES), content_type="application/rss+xml")
        (tmp_path / "config.yaml").write_text(CONFIG.format(feed=site.url("/feed.xml")), encoding="utf-8")
        crawl = run_newsmon("crawl", "--once", "-c", "config.yaml", cwd=tmp_path)
        assert crawl.returncode == 0, crawl.stderr
    url = {s.slug: f"{site.base}/news/{s.slug}.html" for s in STORIES}
    assert stored(tmp_path) == {
        url["telco-outage"]: '["outage"]',
        url["sparkasse-betrug"]: "[]",          # vetoed by local/de.yaml
        url["park-budget"]: "[]",
        url["bank-tin-don"]: '["rumor"]',
    }
    before = snapshot(tmp_path)
    assert "test.db" in before

    same = run_newsmon("replay", "-c", "config.yaml", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines()[-1] == ("total: 0 would newly alert, 0 would stop alerting, 4 unchanged (of 4); "
                                            "nothing sent, nothing written"), same.stdout
    assert "would newly alert: 0" in same.stdout and "would stop alerting: 0" in same.stdout

    # The candidate replaces local/ (the Sparkasse veto goes), adds a fraud term and vetoes the rumor story.
    cand = tmp_path / "cand"
    cand.mkdir()
    (cand / "en.yaml").write_text("language: en\ncategories:\n  fraud:\n    strong: [riverside park]\n",
                                  encoding="utf-8")
    (cand / "vi.yaml").write_text("language: vi\ncategories:\n  rumor:\n    veto: [ngân hàng]\n", encoding="utf-8")
    js = run_newsmon("replay", "-c", "config.yaml", "--keywords", "cand", "--format", "json", cwd=tmp_path)
    assert js.returncode == 0, js.stderr
    r = json.loads(js.stdout)
    assert r["totals"] == {"articles": 4, "newly_alerting": 2, "stopped_alerting": 1, "changed": 3, "unchanged": 1}
    newly = {c["url"]: (c["stored"], c["now"], c["added"]) for c in r["newly_alerting"]}
    assert newly == {url["sparkasse-betrug"]: ([], ["fraud"], ["fraud"]),
                     url["park-budget"]: ([], ["fraud"], ["fraud"])}
    (stopped,) = r["stopped_alerting"]
    assert (stopped["url"], stopped["stored"], stopped["now"], stopped["removed"]) == (
        url["bank-tin-don"], ["rumor"], [], ["rumor"])
    assert "veto" in stopped["reasons"]["rumor"].lower()
    assert all(c["reasons"]["fraud"].startswith("flagged") for c in r["newly_alerting"])
    assert {c["title"] for c in r["newly_alerting"]} == {STORIES[1].title, STORIES[2].title}

    text = run_newsmon("replay", "-c", "config.yaml", "--keywords", "cand", "--since", "1h", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    out = text.stdout.splitlines()
    assert out[0].startswith("replayed 4 article(s) fetched since ") and "with candidate rules cand" in out[0]
    i = out.index("would stop alerting: 1")
    assert out[i + 1:i + 5] == [f"  {url['bank-tin-don']}", f"    {STORIES[3].title}",
                                "    categories: rumor -> (none)", out[i + 4]]
    assert out[i + 4].startswith("    rumor: ")
    j = out.index("would newly alert: 2")
    assert {out[j + 1], out[j + 5]} == {f"  {url['sparkasse-betrug']}", f"  {url['park-budget']}"}
    assert out[j + 3] == out[j + 7] == "    categories: (none) -> fraud"
    assert out[-1] == "total: 2 would newly alert, 1 would stop alerting, 1 unchanged (of 4); nothing sent, nothing written"

    time.sleep(2.1)  # fetched times are stored to the second
    recent = run_newsmon("replay", "-c", "config.yaml", "--keywords", "cand", "--since", "1s", "--format", "json",
                         cwd=tmp_path)
    assert recent.returncode == 0, recent.stderr
    assert json.loads(recent.stdout)["totals"]["articles"] == 0, "articles fetched before --since are left out"

    assert snapshot(tmp_path) == before, "the store is byte-identical and no -wal/-shm file appeared"
    assert stored(tmp_path)[url["park-budget"]] == "[]"

    # While another process has the store open (as the daemon does: a -wal file exists), replay reads
    # through the WAL like any reader and still leaves the database file as it was.
    daemon = sqlite3.connect(tmp_path / "test.db")
    try:
        assert daemon.execute("SELECT count(*) FROM articles").fetchone() == (4,)
        assert (tmp_path / "test.db-wal").exists()
        busy = run_newsmon("replay", "-c", "config.yaml", "--keywords", "cand", "--format", "json", cwd=tmp_path)
        assert busy.returncode == 0, busy.stderr
        assert json.loads(busy.stdout)["totals"]["changed"] == 3
    finally:
        daemon.close()
    assert snapshot(tmp_path)["test.db"] == before["test.db"]


def test_replay_refuses_a_missing_store_a_bad_config_and_a_bad_duration(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("store: {path: missing/news.db}\n", encoding="utf-8")
    proc = run_newsmon("replay", "-c", "config.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"newsmon replay: store {tmp_path / 'missing' / 'news.db'}: no such file")
    assert not (tmp_path / "missing").exists(), "replay never creates the store"

    (tmp_path / "bad.yaml").write_text("store: {path: x.db}\ncrawl: {delay: soon}\n", encoding="utf-8")
    proc = run_newsmon("replay", "-c", "bad.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        'newsmon replay: bad.yaml:2 crawl.delay: not a duration: "soon" (use e.g. "30s", "5m", "2h", "1d")']

    proc = run_newsmon("replay", "-c", "nowhere.yaml", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (2, "newsmon replay: nowhere.yaml: no such file\n")

    proc = run_newsmon("replay", "-c", "config.yaml", "--since", "a while", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == 'newsmon replay: --since: not a duration: "a while" (use e.g. "30s", "5m", "2h", "1d")\n'

    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    (tmp_path / "junk.yaml").write_text("store: {path: junk.db}\n", encoding="utf-8")
    proc = run_newsmon("replay", "-c", "junk.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"newsmon replay: store {tmp_path / 'junk.db'}: cannot read: file is not a database")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "config.yaml", "junk.db", "junk.yaml"]
