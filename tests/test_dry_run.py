"""`newsmon crawl --once --dry-run`: the same crawl as a real run (fetch, extract, dedupe against what is
stored, classify, cluster), on a temporary copy of the store; prints what would alert and sends and
stores nothing. A real local news site, a real local webhook receiver, each crawl a subprocess."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_newsmon
from tests.httpserver import LocalSite
from tests.receiver import Receiver
from tests.sitedata import STORIES, article_html, rss
from tests.test_crawl import config, summary_line

BY_SLUG = {s.slug: s for s in STORIES}


def serve(site: LocalSite, slugs: list[str]) -> None:
    for s in STORIES:
        site.add(f"/news/{s.slug}.html", article_html(s))
    site.add("/feed.xml", rss(site.base, [BY_SLUG[x] for x in slugs]), content_type="application/rss+xml")


def hook(rx: Receiver) -> str:
    return f"channels:\n  soc-hook: {{type: webhook, url: '{rx.url}/hook'}}\ndelivery: {{drain_timeout: 10s}}\n"


def dump(db: Path) -> list[str]:
    """Every table's rows (and the schema), read without writing."""
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


def test_dry_run_prints_what_would_alert_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "test.db"
    with LocalSite() as site, Receiver() as rx:
        serve(site, ["telco-outage"])
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n", extra=hook(rx))
        first = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr
        assert len(rx.succeeded()) == 1
        before, before_counts = dump(db), counts(db)
        with sqlite3.connect(db) as conn:
            (etag,), = conn.execute("SELECT etag FROM source_state WHERE source_id = 'test-feed'").fetchall()
        assert etag, "the feed's validators are stored: the dry run must neither use them up nor change them"

        serve(site, ["telco-outage", "sparkasse-betrug", "park-budget", "bank-tin-don"])  # 3 new stories
        dry = run_newsmon("crawl", "--once", "--dry-run", "-c", str(cfg), cwd=tmp_path)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert len(rx.requests) == 1, "nothing sent"
        assert dump(db) == before and counts(db) == before_counts, "the store is unchanged"
        out = dry.stdout
        assert out.count("would alert on soc-hook:") == 2
        assert "=== Sparkasse · fraud · Polizei warnt vor Betrugsanrufen im Namen der Sparkasse" in out
        assert "Ngân hàng bác bỏ tin đồn mất khả năng thanh toán" in out
        assert f"{site.base}/news/sparkasse-betrug.html" in out
        assert any(x.strip().startswith("Strong match: ") and "Betrugsanrufen" in x for x in out.splitlines()), \
            "the deciding terms"
        assert "Nationwide mobile network outage" not in out, "already stored: deduped as a real run would"
        assert summary_line(out, "test-feed")[:6] == ["test-feed", "3", "1", "2", "2", "0"]
        assert out.rstrip().splitlines()[-1] == (
            f"dry run: 2 articles would alert; nothing stored, nothing sent (ran on a temporary copy of {db}, "
            "now deleted)")
        assert "alerts:" not in out, "no delivery happened"

        real = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert real.returncode == 0, real.stdout + real.stderr
        assert summary_line(real.stdout, "test-feed")[:6] == ["test-feed", "3", "1", "2", "2", "0"]
        assert "alerts: all delivered (2 messages to soc-hook)" in real.stdout
        titles = sorted(r.json()["alerts"][0]["title"] for r in rx.succeeded()[1:])
        assert titles == sorted([BY_SLUG["sparkasse-betrug"].title, BY_SLUG["bank-tin-don"].title])
    assert counts(db)["articles"] == 4


def test_dry_run_without_a_store_creates_none(tmp_path: Path) -> None:
    with LocalSite() as site:
        serve(site, ["telco-outage"])
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n"
                               f"  - {{id: gone, type: feed, url: '{site.url('/gone.xml')}'}}\n")
        dry = run_newsmon("crawl", "--once", "--dry-run", "--source", "test-feed", "-c", str(cfg), cwd=tmp_path)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "=== Telstra · outage · Nationwide mobile network outage" in dry.stdout
        assert "a temporary empty store (none exists yet)" in dry.stdout
        assert "gone" not in dry.stdout.split("SOURCE", 1)[1], "--source polls only that source"
        failing = run_newsmon("crawl", "--once", "--dry-run", "-c", str(cfg), cwd=tmp_path)
        assert failing.returncode == 1, "a failed source fails a dry run too"
        assert " ".join(summary_line(failing.stdout, "gone")[6:]) == "HTTP 404"
    assert list(tmp_path.iterdir()) == [cfg], "no store, no -wal, nothing left behind"


def test_dry_run_function_lists_every_article_when_verbose(tmp_path: Path) -> None:
    """`dry_run(config, ids, out, verbose=True)`, as `newsmon sources test ID` calls it."""
    with LocalSite() as site:
        serve(site, ["telco-outage", "park-budget"])
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n")
        code = ("import io, sys\nfrom monitor.config import load_config\nfrom monitor.commands.crawl import dry_run\n"
                f"buf = io.StringIO()\nrc = dry_run(load_config({str(cfg)!r}), ['test-feed'], out=buf, verbose=True)\n"
                "sys.stdout.write('RC=%d\\n' % rc + buf.getvalue())\n")
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "RC=0"
    assert lines[1] == "source test-feed: 2 articles yielded"
    park = lines.index(next(x for x in lines if x.endswith(BY_SLUG["park-budget"].title)))
    assert lines[park].startswith("  [en] 20") and " UTC  " in lines[park]
    assert lines[park + 1].strip().startswith("no match (")
    assert lines[park + 2].strip() == f"{site.base}/news/park-budget.html"
    telco = lines.index(next(x for x in lines if x.endswith(BY_SLUG["telco-outage"].title)))
    assert lines[telco + 1].strip() == "outage (would alert)"
    assert "=== Telstra · outage · Nationwide mobile network outage" in done.stdout
    assert not (tmp_path / "test.db").exists()


def test_dry_run_is_documented_and_excludes_no_alerts(tmp_path: Path) -> None:
    helped = run_newsmon("crawl", "--help", cwd=tmp_path)
    text = " ".join(helped.stdout.split())
    assert "--dry-run" in text and "temporary copy of the store" in text
    assert "as large as the store itself, in $NEWSMON_TMPDIR (default: $TMPDIR" in text
    assert "marked as seen" in text, "--no-alerts says that it stores"
    both = run_newsmon("crawl", "--once", "--dry-run", "--no-alerts", cwd=tmp_path)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--dry-run" in readme
    row = next(line for line in readme.splitlines() if line.startswith("| `newsmon crawl --once"))
    assert "`NEWSMON_TMPDIR`" in row and "as large as the store" in row


def big_store(db: Path, megabytes: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE filler (data BLOB)")
        conn.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 100_000,)] * (megabytes * 10))
    conn.close()


def test_a_copy_that_does_not_fit_is_one_line_naming_store_directory_and_size(tmp_path: Path) -> None:
    """A full $TMPDIR (here: a file size limit, which fails SQLite's writes as a full disk does) is exit 2
    with one line, no traceback; NEWSMON_TMPDIR says where the copy goes, and nothing is left there."""
    db = tmp_path / "test.db"
    big_store(db, 2)
    cfg = config(tmp_path, "  - {id: test-feed, type: feed, url: 'http://127.0.0.1:9/feed.xml'}\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    code = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_FSIZE, (500_000, 500_000))\n"
            "from monitor.cli import main\n"
            f"sys.exit(main(['crawl', '--once', '--dry-run', '-c', {str(cfg)!r}]))\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "NEWSMON_CONFIG"}
    env["NEWSMON_TMPDIR"] = str(scratch)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"newsmon crawl: store {db}: cannot copy it to {scratch} for the dry run "
                               "(the copy needs 2.0 MB): "), lines[0]
    assert "NEWSMON_TMPDIR" in lines[0]
    assert list(scratch.iterdir()) == [], "the partial copy is deleted"


def test_a_missing_newsmon_tmpdir_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "test.db"
    big_store(db, 1)
    cfg = config(tmp_path, "  - {id: test-feed, type: feed, url: 'http://127.0.0.1:9/feed.xml'}\n")
    done = run_newsmon("crawl", "--once", "--dry-run", "-c", str(cfg), cwd=tmp_path,
                       env={"NEWSMON_TMPDIR": str(tmp_path / "nope")})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        f"newsmon crawl: store {db}: cannot copy it to {tmp_path / 'nope'} for the dry run (the copy needs 1.0 MB): "
        "No such file or directory; make room there or set NEWSMON_TMPDIR to a directory with enough space"]
