"""config.yaml loading: every problem named with file, line and key path; exact messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.durations import parse_duration
from monitor.errors import ConfigError
from tests.conftest import ROOT

GOOD = """\
store: {path: data/newsmon.db}
crawl:
  delay: 1s
  max_size: 5MB
sources:
  - id: vnexpress
    type: feed
    url: https://vnexpress.net/rss/tin-moi-nhat.rss
    interval: 5m
    language: vi
    tags: [vn, press]
  - id: heise
    type: page
    url: https://www.heise.de/newsticker/
    selectors: ["article a.a-article-teaser__link"]
    cron: "*/10 * * * *"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return [str(p).replace(str(path), "config.yaml") for p in info.value.problems]


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    assert [s.id for s in config.sources] == ["vnexpress", "heise"]
    assert config.sources[0].interval == 300
    assert config.sources[0].tags == ["vn", "press"]
    assert config.crawl.delay == 1.0
    assert config.crawl.max_size == 5_000_000
    assert config.store_path == tmp_path / "data" / "newsmon.db"
    assert config.source("heise").selectors == ["article a.a-article-teaser__link"]


def test_shipped_config_is_valid() -> None:
    config = load_config(ROOT / "config.yaml", env={})
    assert config.sources, "the shipped config monitors real outlets"
    languages = {s.language for s in config.sources}
    assert {"en", "de", "fr", "es", "pt", "vi", "id", "ar", "zh", "ru"} <= languages


def test_empty_file_gives_embedded_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "# nothing yet\n"), env={})
    assert config.sources == []
    assert config.store.path == "newsmon.db"
    assert config.crawl.obey_robots is True


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "sources:\n  - id: a\n    type: feed\n    url: ftp://example.com/x\n",
            ["config.yaml:4 sources[0].url: not an http(s) URL"],
        ),
        (
            "crawl:\n  delay: 5 minutes\n",
            ['config.yaml:2 crawl.delay: not a duration: "5 minutes" (use e.g. "30s", "5m", "2h", "1d")'],
        ),
        ("crawl:\n  bogus: 1\n", ["config.yaml:2 crawl.bogus: unknown key"]),
        ("sources:\n  - id: a\n    url: https://e.com/\n", ["config.yaml:2 sources[0].type: required key is missing"]),
        (
            "sources:\n  - {id: a, type: rss, url: 'https://e.com/'}\n",
            ['config.yaml:2 sources[0].type: must be one of feed, sitemap, page (got "rss")'],
        ),
        (
            "sources:\n  - {id: a, type: feed, url: 'https://e.com/', interval: 500ms}\n",
            ["config.yaml:2 sources[0].interval: at least 1s (minutes are kinder to the sites you poll)"],
        ),
        (
            "sources:\n  - {id: a, type: feed, url: 'https://e.com/', selectors: [a]}\n",
            ["config.yaml:2 sources[0].selectors: selectors apply to type: page only (this source is type: feed)"],
        ),
        (
            "sources:\n  - {id: a, type: feed, url: 'https://e.com/', cron: 'every day'}\n",
            ["config.yaml:2 sources[0].cron: invalid cron expression: Wrong number of fields; got 2, expected 5"],
        ),
        (
            "sources:\n  - {id: a, type: feed, url: 'https://e.com/', timezone: Mars/Base}\n",
            ['config.yaml:2 sources[0].timezone: unknown time zone "Mars/Base"'],
        ),
        (
            "sources:\n  - {id: a, type: feed, url: 'https://e.com/'}\n  - {id: a, type: feed, url: 'https://f.com/'}\n",
            ['config.yaml:3 sources[1].id: duplicate source id "a" (first at line 2)'],
        ),
        ("sources: [\n", ["config.yaml:2: YAML syntax: did not find expected node content (while parsing a flow node)"]),
        ("crawl: {delay: 1s}\ncrawl: {delay: 2s}\n", ['config.yaml:2: YAML syntax: found duplicate key "crawl"']),
        (
            "routes:\n  - channels: [ops]\n",
            ['config.yaml:2 routes[0].channels[0]: undefined channel "ops"'],
        ),
    ],
    ids=[
        "url-scheme", "duration", "unknown-key", "missing-type", "bad-type", "interval-too-short",
        "selectors-on-feed", "bad-cron", "bad-timezone", "duplicate-id", "yaml-syntax", "duplicate-key",
        "undefined-channel",
    ],
)
def test_bad_config_names_file_line_and_path(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, text) == expected


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = "crawl:\n  bogus: 1\n  delay: x\nsources:\n  - {id: a, type: feed, url: 'gopher://x'}\n"
    assert problems(tmp_path, text) == [
        "config.yaml:2 crawl.bogus: unknown key",
        'config.yaml:3 crawl.delay: not a duration: "x" (use e.g. "30s", "5m", "2h", "1d")',
        "config.yaml:5 sources[0].url: not an http(s) URL",
    ]


def test_env_vars_substituted_and_missing_ones_named(tmp_path: Path) -> None:
    text = "sources:\n  - {id: a, type: feed, url: '${FEED_URL}'}\n  - {id: b, type: feed, url: 'https://x/${TOKEN}'}\n"
    config = load_config(write(tmp_path, text), env={"FEED_URL": "https://example.com/feed", "TOKEN": "t"})
    assert config.sources[0].url == "https://example.com/feed"
    assert problems(tmp_path, text, env={"FEED_URL": "https://example.com/feed"}) == [
        "config.yaml:3 sources[1].url: environment variable TOKEN is not set"
    ]


def test_missing_env_var_is_the_only_problem_reported_for_its_value(tmp_path: Path) -> None:
    text = "channels:\n  ops: {type: slack, url: '${SLACK_WEBHOOK_URL}'}\n"
    assert problems(tmp_path, text) == ["config.yaml:2 channels.ops.url: environment variable SLACK_WEBHOOK_URL is not set"]


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    text = ("store: {path: db/n.db}\nchannels:\n  m: {type: email, host: relay.example, from: a@example.com, "
            "to: [b@example.com], ca_file: certs/ca.pem}\n")
    config = load_config(write(tmp_path, text), env={})
    assert config.store_path == tmp_path / "db" / "n.db"
    assert config.channels["m"].ca_file == str(tmp_path / "certs" / "ca.pem")


def test_env_default_syntax(tmp_path: Path) -> None:
    text = "store: {path: '${DB:-fallback.db}'}\n"
    assert load_config(write(tmp_path, text), env={}).store.path == "fallback.db"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: no such file"


@pytest.mark.parametrize(
    "text, seconds",
    [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), (45, 45), ("250ms", 0.25)],
    ids=["s", "m", "h", "d", "compound", "number", "ms"],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds
