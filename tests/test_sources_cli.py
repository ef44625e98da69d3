"""`newsmon sources list|export|import|test` as a user meets them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from monitor.cli import main
from tests.conftest import ROOT, run_newsmon
from tests.httpserver import LocalSite
from tests.sitedata import STORIES, article_html, rss
from tests.test_opml import only_added

FEEDS = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Security">
      <outline type="rss" text="Krebs on Security" xmlUrl="https://krebsonsecurity.com/feed/"/>
      <outline type="rss" text="BBC World (again)" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml?utm_source=reader"/>
    </outline>
    <outline type="rss" text="bbc-world" xmlUrl="https://www.bbc.co.uk/news/world/other.xml"/>
    <outline type="rss" text="FTP feed" xmlUrl="ftp://old.example/feed"/>
    <outline type="rss" text="Script" xmlUrl="javascript:alert(1)"/>
    <outline type="rss" text="Sneaky" xmlUrl="https://evil.example/?k=${SLACK_WEBHOOK_URL}"/>
    <outline type="rss" text="Krebs twice" xmlUrl="https://krebsonsecurity.com/feed/"/>
    <outline type="rss" text="Tuổi Trẻ – Thời sự" xmlUrl="https://tuoitre.vn/rss/thoi-su.rss" language="vi"/>
  </body>
</opml>
"""


@pytest.fixture()
def shipped(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.yaml"
    shutil.copy(ROOT / "config.yaml", cfg)
    return cfg


def write_opml(tmp_path: Path, text: str = FEEDS) -> Path:
    path = tmp_path / "feeds.opml"
    path.write_text(text, encoding="utf-8")
    return path


def test_list(shipped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "list", "-c", str(shipped)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "TYPE", "URL", "INTERVAL", "ENABLED", "TAGS"]
    assert lines[1].split() == ["bbc-world", "feed", "https://feeds.bbci.co.uk/news/world/rss.xml", "5m", "yes", "en,press"]
    assert len(lines) == 16
    assert main(["sources", "list", "-c", str(shipped), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[2] == {"id": "guardian-news-sitemap", "type": "sitemap", "url": "https://www.theguardian.com/sitemaps/news.xml",
                       "interval": 600.0, "cron": None, "enabled": True, "tags": ["en", "press"], "language": "en"}


def test_list_masks_secrets_in_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEED_KEY", "k3y-value-123")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("sources:\n  - {id: a, type: feed, url: 'https://x.example/rss?key=${FEED_KEY}', enabled: false}\n")
    assert main(["sources", "list", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "k3y-value-123" not in out and "https://x.example/rss?key=***" in out
    assert out.splitlines()[1].split()[-1] == "no"


def test_export_to_stdout_and_file(shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_newsmon("sources", "export", "-c", str(shipped), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml')
    assert result.stdout.count("<outline ") == 15
    out = tmp_path / "out.opml"
    assert main(["sources", "export", "-c", str(shipped), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1 sitemap/page source(s) (guardian-news-sitemap)" in err and f"{out}: 15 source(s)" in err
    assert out.read_bytes().count(b"<outline ") == 15


def test_import_prints_new_entries_and_reports_each_skip(shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    opml = write_opml(tmp_path)
    before = shipped.read_text()
    assert main(["sources", "import", str(opml), "-c", str(shipped)]) == 0
    out, err = capsys.readouterr()
    assert yaml.safe_load(out) == {"sources": [
        {"id": "krebs-on-security", "type": "feed", "url": "https://krebsonsecurity.com/feed/", "tags": ["Security"]},
        {"id": "bbc-world-2", "type": "feed", "url": "https://www.bbc.co.uk/news/world/other.xml"},
        {"id": "tuoi-tre-thoi-su", "type": "feed", "url": "https://tuoitre.vn/rss/thoi-su.rss", "language": "vi"},
    ]}
    assert err.splitlines() == [
        f'{opml}:7: "BBC World (again)" https://feeds.bbci.co.uk/news/world/rss.xml?utm_source=reader is already configured as bbc-world: skipped',
        f'{opml}:10: "FTP feed" url: not an http(s) URL (ftp://old.example/feed): skipped',
        f'{opml}:11: "Script" url: not an http(s) URL (javascript:alert(1)): skipped',
        f'{opml}:12: "Sneaky" contains ${{...}}, which the config would read as an environment variable: skipped',
        f'{opml}:13: "Krebs twice" https://krebsonsecurity.com/feed/ is listed before, at line 6: skipped',
        f"{opml}: 8 feed(s), 3 new, 5 skipped (add them with --write, or paste them into {shipped})",
    ]
    assert shipped.read_text() == before  # without --write nothing is written


def test_import_write_appends_keeps_the_file_and_validates(shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    opml = write_opml(tmp_path)
    before = shipped.read_text()
    assert main(["sources", "import", str(opml), "-c", str(shipped), "--write", "--interval", "15m", "--tag", "imported"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (f"{opml}: 8 feed(s), 3 new, 5 skipped: added to {shipped} "
                                    "(krebs-on-security, bbc-world-2, tuoi-tre-thoi-su)")
    after = shipped.read_text()
    assert only_added(before, after) == [
        '  - {id: krebs-on-security, type: feed, url: "https://krebsonsecurity.com/feed/", interval: 15m, tags: [Security, imported]}',
        '  - {id: bbc-world-2, type: feed, url: "https://www.bbc.co.uk/news/world/other.xml", interval: 15m, tags: [imported]}',
        '  - {id: tuoi-tre-thoi-su, type: feed, url: "https://tuoitre.vn/rss/thoi-su.rss", interval: 15m, language: vi, tags: [imported]}',
    ]
    result = run_newsmon("validate", "-c", str(shipped), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK — 18 sources" in result.stdout
    # a second import finds nothing new
    assert main(["sources", "import", str(opml), "-c", str(shipped), "--write"]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == f"{opml}: 8 feed(s), 0 new, 8 skipped: nothing to add"
    assert shipped.read_text() == after


def test_import_round_trips_an_export(shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exported = tmp_path / "all.opml"
    assert main(["sources", "export", "-c", str(shipped), "-o", str(exported)]) == 0
    fresh = tmp_path / "fresh" / "config.yaml"
    fresh.parent.mkdir()
    assert main(["sources", "import", str(exported), "-c", str(fresh), "--write"]) == 0  # created
    capsys.readouterr()
    from monitor.config import load_config

    assert [s.model_dump() for s in load_config(fresh).sources] == [s.model_dump() for s in load_config(shipped).sources]


@pytest.mark.parametrize("text, message", [
    ('<?xml version="1.0"?>\n<opml version="2.0">\n<body>\n<outline text="a" xmlUrl="https://a/x">\n</body>\n</opml>\n',
     ":5: malformed XML: mismatched tag (column 3)"),
    ("<opml version='2.0'><head/><body/></opml>", ": no outlines: not a subscription list (expected <body><outline ...>)"),
    ("<html><body>hello</body></html>", ":1: not an OPML file (the root element is <html>, not <opml>)"),
])
def test_unreadable_opml_is_exit_2_with_file_and_line(shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      text: str, message: str) -> None:
    opml = write_opml(tmp_path, text)
    assert main(["sources", "import", str(opml), "-c", str(shipped), "--write"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"{opml}{message}"]


def test_import_argument_errors(shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "import", str(tmp_path / "nope.opml"), "-c", str(shipped)]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'nope.opml'}: no such file\n"
    opml = write_opml(tmp_path)
    assert main(["sources", "import", str(opml), "-c", str(shipped), "--interval", "0s"]) == 2
    assert capsys.readouterr().err == "newsmon sources import: --interval: at least 1s\n"
    assert main(["sources", "import", str(opml), "-c", str(shipped), "--interval", "soon"]) == 2
    assert "--interval: not a duration" in capsys.readouterr().err


def test_import_refuses_a_list_it_cannot_append_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "config.yaml"
    text = "sources: [{id: a, type: feed, url: 'https://a.example/rss'}]\n"
    cfg.write_text(text)
    assert main(["sources", "import", str(write_opml(tmp_path)), "-c", str(cfg), "--write"]) == 2
    out, err = capsys.readouterr()
    assert "krebs-on-security" in out  # printed, to paste by hand
    assert err.splitlines()[-1].startswith(f"newsmon sources import: cannot add to {cfg}: `sources:` is written as a flow list")
    assert cfg.read_text() == text


# --- sources test ---------------------------------------------------------------------------------

def test_test_unknown_id_suggests(shipped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "test", "bbc-wrld", "-c", str(shipped)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith('newsmon sources test: unknown source "bbc-wrld" (did you mean "bbc-world"?) (known: bbc-world, guardian-tech, ')


def test_test_calls_the_dry_run_for_that_source(shipped: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract with monitor.commands.crawl.dry_run(config, ids, out=, verbose=) -> exit code."""
    from monitor.commands import crawl

    calls = []

    def fake(config, source_ids, out=None, verbose=False):
        calls.append(([s.id for s in config.sources], source_ids, out, verbose))
        print("dry run output", file=out)
        return 1

    monkeypatch.setattr(crawl, "dry_run", fake, raising=False)
    import sys

    assert main(["sources", "test", "heise", "-c", str(shipped)]) == 1
    assert calls == [(calls[0][0], ["heise"], sys.stdout, True)] and len(calls[0][0]) == 15
    assert capsys.readouterr().out == "dry run output\n"


def test_test_polls_a_real_source_and_stores_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    with LocalSite() as site:
        for s in STORIES:
            site.add(f"/news/{s.slug}.html", article_html(s))
        site.add("/feed.xml", rss(site.base, STORIES), content_type="application/rss+xml")
        cfg.write_text("store: {path: test.db}\ncrawl: {obey_robots: false, delay: 0s, timeout: 10s}\n"
                       f"sources:\n  - {{id: local, type: feed, url: '{site.url('/feed.xml')}'}}\n"
                       f"  - {{id: other, type: feed, url: '{site.url('/other.xml')}'}}\n", encoding="utf-8")
        result = run_newsmon("sources", "test", "local", "-c", str(cfg), cwd=tmp_path)
        paths = [h.path for h in site.hits]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/other.xml" not in paths and "/feed.xml" in paths
    assert "would alert" in result.stdout
    assert STORIES[0].title in result.stdout
    assert not (tmp_path / "test.db").exists()
