"""`newsmon sources list|export|import|test` as a user meets them."""

from __future__ import annotations

import json
import os
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


ONE_FEED = ('<?xml version="1.0"?>\n<opml version="2.0"><body>\n'
            '<outline type="rss" text="New one" xmlUrl="https://new.example/feed"/>\n</body></opml>\n')
NEW_LINE = '  - {id: new-one, type: feed, url: "https://new.example/feed"}'


def test_import_write_through_a_symlinked_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`-c /etc/newsmon/config.yaml` is often a link into a checkout: the file it points to is edited,
    the link stays a link."""
    real_dir = tmp_path / "checkout"
    real_dir.mkdir()
    real = real_dir / "config.yaml"
    text = "sources:\n  - {id: a, type: feed, url: 'https://a.example/rss'}\n"
    real.write_text(text)
    real.chmod(0o640)
    link = tmp_path / "config.yaml"
    link.symlink_to(real)
    assert main(["sources", "import", str(write_opml(tmp_path, ONE_FEED)), "-c", str(link), "--write"]) == 0
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"added to {link} (new-one)")
    assert link.is_symlink() and link.resolve() == real
    assert only_added(text, real.read_text()) == [NEW_LINE]
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(x.name for x in real_dir.iterdir()) == ["config.yaml"]   # no temporary file left


def test_import_write_keeps_crlf_and_bom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "config.yaml"
    before = ("\ufeff# written on Windows\r\nsources:\r\n  - {id: a, type: feed, url: 'https://a.example/rss'}\r\n"
              "\r\nlog: {level: info}\r\n").encode("utf-8")
    cfg.write_bytes(before)
    assert main(["sources", "import", str(write_opml(tmp_path, ONE_FEED)), "-c", str(cfg), "--write"]) == 0
    capsys.readouterr()
    after = cfg.read_bytes()
    line = (NEW_LINE + "\r\n").encode()
    at = before.index(b"\r\n\r\nlog") + 2
    assert after == before[:at] + line + before[at:]


def test_import_write_keeps_the_owner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("sources:\n  - {id: a, type: feed, url: 'https://a.example/rss'}\n")
    # root (CI) hands the file to another user; anyone else can still give it another of their groups
    owner = (12345, 23456) if os.geteuid() == 0 else (os.getuid(), os.getgroups()[-1])
    os.chown(cfg, *owner)
    cfg.chmod(0o640)
    assert main(["sources", "import", str(write_opml(tmp_path, ONE_FEED)), "-c", str(cfg), "--write"]) == 0
    capsys.readouterr()
    st = cfg.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (*owner, 0o640)
    assert "new-one" in cfg.read_text()


UNSET_SECRET = """channels:
  ops: {type: slack, url: "${NEWSMON_TEST_UNSET_WEBHOOK}"}
routes:
  - channels: [ops]
server: {token: "${NEWSMON_TEST_UNSET_TOKEN}"}
sources:
  - {id: a, type: feed, url: 'https://a.example/rss', tags: [x]}
"""


def test_sources_commands_need_no_secret_of_other_sections(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin shell has no SLACK_WEBHOOK_URL: list, export and import --write work all the same; the
    daemon (validate) still refuses the file until the variable is set."""
    monkeypatch.delenv("NEWSMON_TEST_UNSET_WEBHOOK", raising=False)
    monkeypatch.delenv("NEWSMON_TEST_UNSET_TOKEN", raising=False)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(UNSET_SECRET)
    assert main(["sources", "list", "-c", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split() == ["a", "feed", "https://a.example/rss", "10m", "yes", "x"] and not err
    assert main(["sources", "list", "-c", str(cfg), "--format", "json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["a"]
    exported = tmp_path / "out.opml"
    assert main(["sources", "export", "-c", str(cfg), "-o", str(exported)]) == 0
    assert capsys.readouterr().err == f"{exported}: 1 source(s)\n"
    assert b"https://a.example/rss" in exported.read_bytes()
    assert main(["sources", "import", str(write_opml(tmp_path, ONE_FEED)), "-c", str(cfg), "--write"]) == 0
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"added to {cfg} (new-one)")
    assert only_added(UNSET_SECRET, cfg.read_text()) == [NEW_LINE]
    assert main(["validate", "-c", str(cfg)]) == 2   # the daemon does need it
    assert "NEWSMON_TEST_UNSET_WEBHOOK is not set" in capsys.readouterr().err


def test_sources_commands_still_refuse_other_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSMON_TEST_UNSET_FEED", raising=False)
    cfg = tmp_path / "config.yaml"
    # an unset variable in a source: the source is what these commands are about
    cfg.write_text("sources:\n  - {id: a, type: feed, url: '${NEWSMON_TEST_UNSET_FEED}'}\n")
    assert main(["sources", "list", "-c", str(cfg)]) == 2
    assert "sources[0].url: environment variable NEWSMON_TEST_UNSET_FEED is not set" in capsys.readouterr().err
    # any other problem elsewhere, as before
    cfg.write_text(UNSET_SECRET.replace("routes:\n  - channels: [ops]", "routes:\n  - channels: [opz]"))
    assert main(["sources", "export", "-c", str(cfg)]) == 2
    assert 'routes[0].channels[0]' in capsys.readouterr().err


def test_import_write_refuses_only_new_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A problem the file already had (a ${VAR} this shell lacks) is not the import's; a new one is."""
    import monitor.opml

    monkeypatch.delenv("NEWSMON_TEST_UNSET_WEBHOOK", raising=False)
    monkeypatch.delenv("NEWSMON_TEST_UNSET_TOKEN", raising=False)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(UNSET_SECRET)
    add = monitor.opml.add_sources
    monkeypatch.setattr(monitor.opml, "add_sources", lambda text, entries: add(text, entries).replace(
        "id: new-one", "id: a"))   # an edit that would break the file: a duplicate id
    assert main(["sources", "import", str(write_opml(tmp_path, ONE_FEED)), "-c", str(cfg), "--write"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f'{cfg}:8 sources[1].id: duplicate source id "a" (first at line 7)',
        f"newsmon sources import: {cfg} would not load with the new sources; nothing written",
    ]
    assert cfg.read_text() == UNSET_SECRET
    assert sorted(x.name for x in tmp_path.iterdir()) == ["config.yaml", "feeds.opml"]


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
