"""`scrapy crawl` from a newsmon project directory (scrapy.cfg → monitor.scrapy_settings): a wrong
source id, a source of another type or a broken config is one line (or the config's problems) on
stderr and exit 2, never a traceback, and nothing is opened or created. The real `scrapy` command, in
a subprocess, from a temporary project directory with its own scrapy.cfg and ./config.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.httpserver import LocalSite
from tests.sitedata import STORIES, article_html, rss

SOURCES = """\
store: {path: test.db}
crawl: {delay: 0s, timeout: 10s, retries: 0}
sources:
  - {id: nopa, type: feed, url: '%(base)s/feed.xml'}
  - {id: smap, type: sitemap, url: '%(base)s/sitemap.xml'}
  - {id: press, type: page, url: '%(base)s/press/'}
"""


def project(tmp_path: Path, config: str | None) -> Path:
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = monitor.scrapy_settings\n", encoding="utf-8")
    if config is not None:
        (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    return tmp_path


def scrapy(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NEWSMON_CONFIG"}  # ./config.yaml
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "scrapy", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("args", "message"), [
    (["feed", "-a", "source=nope"],
     'newsmon: unknown source "nope" (did you mean "nopa"?; known sources: nopa, smap, press)'),
    (["news", "-a", "source=nopa,zzz"], 'newsmon: unknown source "zzz" (known sources: nopa, smap, press)'),
    (["sitemap", "-a", "source=nopa"],
     'newsmon: source "nopa" is a feed, not a sitemap: use scrapy crawl feed -a source=nopa'),
    (["feed", "-a", "source=press"],
     'newsmon: source "press" is a page, not a feed: use scrapy crawl page -a source=press'),
    (["feeds"], 'newsmon: unknown spider "feeds" (spiders: feed, news, page, sitemap)'),
], ids=["unknown", "unknown-in-list", "feed-as-sitemap", "page-as-feed", "unknown-spider"])
def test_a_wrong_source_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    cwd = project(tmp_path, SOURCES % {"base": "http://127.0.0.1:9"})
    done = scrapy(cwd, "crawl", *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [message]
    assert done.stdout == ""
    assert not (cwd / "test.db").exists(), "no store opened for a mistake"


def test_a_broken_config_or_keyword_file_gives_its_problems(tmp_path: Path) -> None:
    cwd = project(tmp_path, "crawl:\n  delay: soon\nsources:\n  - {id: a, type: feed, url: 'ftp://x'}\n")
    done = scrapy(cwd, "crawl", "feed", "-a", "source=a")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "newsmon: invalid config, refusing to crawl:",
        'config.yaml:2 crawl.delay: not a duration: "soon" (use e.g. "30s", "5m", "2h", "1d")',
        "config.yaml:4 sources[0].url: not an http(s) URL",
    ]

    (cwd / "kw.yaml").write_text('language: en\ncategories:\n  outage:\n    strong: ["net* down"]\n', encoding="utf-8")
    (cwd / "config.yaml").write_text("store: {path: test.db}\nclassify: {keywords: [kw.yaml]}\nsources:\n"
                                     "  - {id: a, type: feed, url: 'http://127.0.0.1:9/x'}\n", encoding="utf-8")
    rules = scrapy(cwd, "crawl", "feed")
    assert rules.returncode == 2
    assert rules.stderr.splitlines() == [
        "newsmon: invalid config, refusing to crawl:",
        f'{cwd / "kw.yaml"}:4 categories.outage.strong[0]: term "net* down": "*" is only allowed at the start or '
        "end of a term",
    ]


def test_a_missing_config_is_reported_by_crawl_but_list_still_works(tmp_path: Path) -> None:
    cwd = project(tmp_path, None)
    listed = scrapy(cwd, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["feed", "news", "page", "sitemap"]
    done = scrapy(cwd, "crawl", "news")
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["newsmon: invalid config, refusing to crawl:", "config.yaml: no such file"]


def test_a_good_crawl_still_runs_from_the_project_directory(tmp_path: Path) -> None:
    import sqlite3

    with LocalSite() as site:
        for s in STORIES:
            site.add(f"/news/{s.slug}.html", article_html(s))
        site.add("/feed.xml", rss(site.base, STORIES[:2]), content_type="application/rss+xml")
        cwd = project(tmp_path, SOURCES % {"base": site.base})
        done = scrapy(cwd, "crawl", "feed", "-a", "source=nopa")
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    with sqlite3.connect(cwd / "test.db") as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM alert_outbox").fetchone()[0] == 2, "alerts queued, not sent"
