"""`newsmon validate` (and every command that loads the config) reports every problem of the file in one
pass, each as `file:line key.path: reason` in plain words: pydantic's errors translated (never its own
phrasing), a "did you mean" for misspelt keys, choices, channel types and channel names, and the
cross-checks (duplicate ids, routes to channels, categories, numbers) run on every part that parsed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.yamlfile import explain
from tests.conftest import run_newsmon
from tests.test_config_fuzz import ENV as FUZZ_ENV
from tests.test_config_fuzz import config_texts

PYDANTIC = re.compile(r"Input should|input_value|input_type|type=|For further information|errors\.pydantic|"
                      r"Value error,|Extra inputs|Field required|\[type=|validation error", re.I)

EXAMPLE = """\
crawl:
  delay: 5x
  timout: 3s
  concurrency: -1
sources:
  - id: a
    type: fed
    url: ftp://x
  - id: a
    type: feed
    url: https://x.test/
    intervl: 5m
channels:
  ops:
    type: slak
    url: x
routes:
  - channels: [opz]
    match: {categry: outage}
store:
  pth: x
"""

EXPECTED = [
    'c.yaml:2 crawl.delay: not a duration: "5x" (use e.g. "30s", "5m", "2h", "1d")',
    'c.yaml:3 crawl.timout: unknown key (did you mean "timeout"?)',
    "c.yaml:4 crawl.concurrency: must be at least 1 (got -1)",
    'c.yaml:7 sources[0].type: must be one of feed, sitemap, page (got "fed"; did you mean "feed"?)',
    "c.yaml:8 sources[0].url: not an http(s) URL",
    'c.yaml:9 sources[1].id: duplicate source id "a" (first at line 6)',
    'c.yaml:12 sources[1].intervl: unknown key (did you mean "interval"?)',
    'c.yaml:15 channels.ops.type: unknown channel type "slak" (did you mean "slack"?; '
    "one of slack, webhook, email, apprise, console)",
    'c.yaml:18 routes[0].channels[0]: undefined channel "opz" (did you mean "ops"?)',
    'c.yaml:19 routes[0].match: unknown match key "categry" (did you mean "category"?; '
    "use one of: category, entity, language, source, tag)",
    'c.yaml:21 store.pth: unknown key (did you mean "path"?)',
]


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None, name: str = "config.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    out = [str(p).replace(str(path), name) for p in info.value.problems]
    for line in out:
        assert not PYDANTIC.search(line), line
    return out


# -- the example: one run, every problem -----------------------------------------------------


def test_the_example_gives_every_problem_in_one_pass(tmp_path: Path) -> None:
    assert problems(tmp_path, EXAMPLE, name="c.yaml") == EXPECTED


@pytest.mark.parametrize("command", [["validate"], ["run"], ["crawl", "--once"]])
def test_every_command_that_loads_the_config_prints_the_same_list(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "c.yaml").write_text(EXAMPLE, encoding="utf-8")
    proc = run_newsmon(*command, "-c", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [*EXPECTED, f"newsmon {command[0]}: {len(EXPECTED)} problem(s), nothing loaded"]


# -- every pydantic error type, in plain words -------------------------------------------------------

CASES = [
    ("missing", "sources:\n  - {id: a, url: 'https://e.com/'}\n",
     "config.yaml:2 sources[0].type: required key is missing"),
    ("extra_forbidden", "crawl:\n  timout: 3s\n", 'config.yaml:2 crawl.timout: unknown key (did you mean "timeout"?)'),
    ("extra_forbidden-no-suggestion", "crawl:\n  bogus: 1\n", "config.yaml:2 crawl.bogus: unknown key"),
    ("extra_forbidden-alias", "routes:\n  - {channels: [c], contnue: true}\nchannels: {c: {type: console}}\n",
     'config.yaml:2 routes[0].contnue: unknown key (did you mean "continue"?)'),
    ("extra_forbidden-in-channel", "channels:\n  s: {type: slack, url: 'https://h.test/x', rate_limt: 1/s}\n",
     'config.yaml:2 channels.s.rate_limt: unknown key (did you mean "rate_limit"?)'),
    ("extra_forbidden-section", "stor: {path: x.db}\n", 'config.yaml:1 stor: unknown key (did you mean "store"?)'),
    ("greater_than_equal", "crawl:\n  concurrency: 0\n", "config.yaml:2 crawl.concurrency: must be at least 1 (got 0)"),
    ("greater_than", "classify:\n  categories:\n    outage: {threshold: -1}\n",
     "config.yaml:3 classify.categories.outage.threshold: must be more than 0 (got -1)"),
    ("greater_than-duration", "delivery:\n  timeout: 0s\n", "config.yaml:2 delivery.timeout: must be more than 0s (got 0s)"),
    ("greater_than_equal-duration", "stories:\n  window: 30s\n",
     "config.yaml:2 stories.window: must be at least 1m (got 30s)"),
    ("less_than_equal", "crawl:\n  per_domain: 100\n", "config.yaml:2 crawl.per_domain: must be at most 64 (got 100)"),
    ("less_than_equal-float", "crawl:\n  jitter: 0.75\n", "config.yaml:2 crawl.jitter: must be at most 0.5 (got 0.75)"),
    ("literal_error", "log:\n  level: loud\n", 'config.yaml:2 log.level: must be one of debug, info, warning, error (got "loud")'),
    ("literal_error-did-you-mean", "log:\n  format: jsn\n",
     'config.yaml:2 log.format: must be one of text, json (got "jsn"; did you mean "json"?)'),
    ("literal_error-not-text", "sources:\n  - {id: a, type: 5, url: 'https://e.com/'}\n",
     "config.yaml:2 sources[0].type: must be one of feed, sitemap, page (got 5)"),
    ("union_tag_invalid", "channels:\n  x:\n    type: pager\n",
     'config.yaml:3 channels.x.type: unknown channel type "pager" (one of slack, webhook, email, apprise, console)'),
    ("union_tag_invalid-did-you-mean", "channels:\n  x: {type: emial}\n",
     'config.yaml:2 channels.x.type: unknown channel type "emial" (did you mean "email"?; '
     "one of slack, webhook, email, apprise, console)"),
    ("union_tag_not_found", "channels:\n  x: {url: 'https://h.test/'}\n",
     "config.yaml:2 channels.x.type: required key is missing (one of slack, webhook, email, apprise, console)"),
    ("int_parsing", "crawl:\n  retries: two\n", 'config.yaml:2 crawl.retries: must be a whole number (got "two")'),
    ("int_from_float", "crawl:\n  retries: 1.5\n", "config.yaml:2 crawl.retries: must be a whole number (got 1.5)"),
    ("float_parsing", "crawl:\n  jitter: lots\n", 'config.yaml:2 crawl.jitter: must be a number (got "lots")'),
    ("bool_parsing", "crawl:\n  obey_robots: maybe\n", 'config.yaml:2 crawl.obey_robots: must be true or false (got "maybe")'),
    ("bool_type", "sources:\n  - {id: a, type: feed, url: 'https://e.com/', enabled: 2024-01-01}\n",
     "config.yaml:2 sources[0].enabled: must be true or false (got a date)"),
    ("string_type", "crawl:\n  user_agent: [a]\n", "config.yaml:2 crawl.user_agent: must be text (got a list)"),
    ("string_type-empty", "server:\n  listen:\n", "config.yaml:2 server.listen: must be text (got nothing)"),
    ("string_type-key", "channels:\n  5: {type: console}\n", "config.yaml:2 channels: key 5 must be text"),
    ("list_type", "sources:\n  - {id: a, type: feed, url: 'https://e.com/', tags: press}\n",
     'config.yaml:2 sources[0].tags: must be a list (got "press")'),
    ("dict_type", "sources:\n  - {id: a, type: feed, url: 'https://e.com/', headers: [X]}\n",
     "config.yaml:2 sources[0].headers: must be a mapping (got a list)"),
    ("model_type", "crawl: 5\n", "config.yaml:1 crawl: must be a mapping (got 5)"),
    ("model_attributes_type", "channels:\n  x: 5\n", "config.yaml:2 channels.x: must be a mapping (got 5)"),
    ("model_type-root", "- a\n- b\n", "config.yaml:1: must be a mapping (got a list)"),
    ("too_short", "channels: {c: {type: console}}\nroutes:\n  - channels: []\n",
     "config.yaml:3 routes[0].channels: must list at least one item"),
    ("string_too_short", "classify:\n  entities: [{name: ''}]\n",
     "config.yaml:2 classify.entities[0].name: must not be empty"),
    ("value_error", "sources:\n  - {id: a, type: feed, url: 'ftp://e.com/'}\n",
     "config.yaml:2 sources[0].url: not an http(s) URL"),
    ("value_error-match-value", "channels: {c: {type: console}}\nroutes:\n  - {channels: [c], match: {tag: 5}}\n",
     "config.yaml:3 routes[0].match.tag: must be text or a list of texts (got a number)"),
    ("nan-as-text", "classify:\n  title_weight: 'nan'\n", "config.yaml:2 classify.title_weight: not a finite number"),
    ("inf-as-text", "classify:\n  title_weight: 'inf'\n", "config.yaml:2 classify.title_weight: not a finite number"),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_pydantic_error_type_reads_in_plain_words(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_an_error_type_without_its_own_wording_loses_pydantics_phrasing() -> None:
    err = {"type": "date_from_datetime_inexact", "loc": ("crawl", "x"), "input": "2024-01-01T10:00",
           "msg": "Input should be a valid date with zero time, got a datetime with non-zero time"}
    loc, message = explain(err)
    assert loc == ["crawl", "x"]
    assert message == 'must be a valid date with zero time, got a datetime with non-zero time (got "2024-01-01T10:00")'
    err = {"type": "something_new", "loc": ("a",), "input": 1, "msg": "Input is not what was expected"}
    assert explain(err) == (["a"], "value is not what was expected")


# -- did you mean --------------------------------------------------------------------------------------

DID_YOU_MEAN = [
    ("crawl:\n  concurrancy: 4\n", 'config.yaml:2 crawl.concurrancy: unknown key (did you mean "concurrency"?)'),
    ("sources:\n  - {id: a, type: sitemp, url: 'https://e.com/'}\n",
     'config.yaml:2 sources[0].type: must be one of feed, sitemap, page (got "sitemp"; did you mean "sitemap"?)'),
    ("channels:\n  x: {type: webhok, url: 'https://h.test/'}\n",
     'config.yaml:2 channels.x.type: unknown channel type "webhok" (did you mean "webhook"?; '
     "one of slack, webhook, email, apprise, console)"),
    ("channels:\n  ops-slack: {type: console}\nroutes:\n  - channels: [ops-slak]\n",
     'config.yaml:4 routes[0].channels[0]: undefined channel "ops-slak" (did you mean "ops-slack"?)'),
    ("channels:\n  a: {type: console}\nroutes:\n  - channels: [zzz]\n", 'config.yaml:4 routes[0].channels[0]: undefined channel "zzz"'),
    ("channels:\n  a: {type: console}\nroutes:\n  - {channels: [a], match: {entty: MoMo}}\n",
     'config.yaml:4 routes[0].match: unknown match key "entty" (did you mean "entity"?; '
     "use one of: category, entity, language, source, tag)"),
    ("channels:\n  m: {type: email, host: h, from: a@b.test, to: [c@d.test], securty: ssl}\n",
     'config.yaml:2 channels.m.securty: unknown key (did you mean "security"?)'),
]


@pytest.mark.parametrize("text, expected", DID_YOU_MEAN, ids=["key", "choice", "channel-type", "channel", "no-close-channel",
                                                              "match-key", "channel-key"])
def test_did_you_mean(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


# -- cross-checks run on every part that parsed ---------------------------------------------------------


def test_cross_checks_run_beside_schema_problems(tmp_path: Path) -> None:
    text = """\
crawl: {bogus: 1}
classify:
  categories:
    outage: {title_weight: 'inf'}
sources:
  - {id: a, type: feed, url: 'https://e.com/', intervl: 5m}
  - {id: a, type: feed, url: 'https://e.com/', max_age: 1d}
  - {id: b, type: feed, url: 'https://e.com/', language: 5}
channels:
  a: {type: console, colour: red}
routes:
  - {channels: [a, b], group_wait: soon}
  - {channels: [a]}
  - {channels: [a]}
delivery: {max_attempts: 100000000000000000000, bogus: 1}
"""
    assert problems(tmp_path, text) == [
        "config.yaml:1 crawl.bogus: unknown key",
        "config.yaml:4 classify.categories.outage.title_weight: not a finite number",
        "config.yaml:6 sources[0].intervl: unknown key (did you mean \"interval\"?)",
        'config.yaml:7 sources[1].id: duplicate source id "a" (first at line 6)',
        "config.yaml:8 sources[2].language: must be text (got 5)",
        "config.yaml:10 channels.a.colour: unknown key",
        'config.yaml:12 routes[0].group_wait: not a duration: "soon" (use e.g. "30s", "5m", "2h", "1d")',
        'config.yaml:12 routes[0].channels[1]: undefined channel "b"',
        'config.yaml:13 routes[1]: unreachable: routes[0] has no match and no "continue: true"',
        'config.yaml:14 routes[2]: unreachable: routes[0] has no match and no "continue: true"',
        "config.yaml:15 delivery.bogus: unknown key",
        "config.yaml:15 delivery.max_attempts: number too large",
    ]


def test_checks_whose_inputs_are_invalid_are_skipped(tmp_path: Path) -> None:
    """An invalid id is no duplicate, a channel list that is no list names no channel, a route whose
    `continue` is invalid is not taken for a catch-all (so no route after it is called unreachable)."""
    text = """\
sources:
  - {id: "a b", type: feed, url: 'https://e.com/'}
  - {id: "a b", type: feed, url: 'https://e.com/'}
routes:
  - {channels: nope, match: {tag: x}}
  - {channels: [x], continue: perhaps}
  - {channels: [x]}
channels:
  x: {type: console}
"""
    assert problems(tmp_path, text) == [
        "config.yaml:2 sources[0].id: use letters, digits, '.', '_' and '-' (at most 64)",
        "config.yaml:3 sources[1].id: use letters, digits, '.', '_' and '-' (at most 64)",
        'config.yaml:5 routes[0].channels: must be a list (got "nope")',
        'config.yaml:6 routes[1].continue: must be true or false (got "perhaps")',
    ]


def test_validate_checks_categories_and_keyword_files_when_the_config_has_other_problems(tmp_path: Path) -> None:
    (tmp_path / "kw.yaml").write_text("language: en\ncategories:\n  outage:\n    strong: [a]\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text("""\
crawl: {delay: soon}
classify:
  keywords: [kw.yaml]
  categories:
    outgae: {threshold: -1}
channels:
  ops: {type: slak}
routes:
  - {channels: [ops], match: {category: rumour, tagg: x}}
""", encoding="utf-8")
    proc = run_newsmon("validate", "-c", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    kw = str((tmp_path / "kw.yaml").resolve())
    assert lines[:5] == [
        'c.yaml:1 crawl.delay: not a duration: "soon" (use e.g. "30s", "5m", "2h", "1d")',
        "c.yaml:5 classify.categories.outgae.threshold: must be more than 0 (got -1)",
        'c.yaml:5 classify.categories.outgae: unknown category "outgae" (did you mean "outage"?) '
        "(known: fraud, outage, rumor)",
        'c.yaml:7 channels.ops.type: unknown channel type "slak" (did you mean "slack"?; '
        "one of slack, webhook, email, apprise, console)",
        'c.yaml:9 routes[0].match: unknown match key "tagg" (did you mean "tag"?; '
        "use one of: category, entity, language, source, tag)",
    ]
    assert lines[5] == ('c.yaml:9 routes[0].match.category: unknown category "rumour" (did you mean "rumor"?) '
                        "(known: fraud, outage, rumor, source_health)")
    assert lines[6].startswith(f"{kw}:4 categories.outage.strong[0]: ")
    assert lines[7:] == ["newsmon validate: 7 problem(s), nothing loaded"]
    for line in lines:
        assert not PYDANTIC.search(line), line


# -- secrets -----------------------------------------------------------------------------------------


def test_values_from_the_environment_stay_masked_in_every_message(tmp_path: Path) -> None:
    secret = "nwsm-onepass-5ecret"
    text = ('crawl: {concurrency: "${S}", obey_robots: "${S}"}\nlog: {level: "${S}"}\n'
            'channels:\n  x: {type: "${S}"}\n  h: {type: webhook, url: 5, secret: [1]}\n')
    out = problems(tmp_path, text, env={"S": secret})
    assert out == [
        'config.yaml:1 crawl.obey_robots: must be true or false (got "***")',
        'config.yaml:1 crawl.concurrency: must be a whole number (got "***")',
        'config.yaml:2 log.level: must be one of debug, info, warning, error (got "***")',
        'config.yaml:4 channels.x.type: unknown channel type "***" (one of slack, webhook, email, apprise, console)',
        "config.yaml:5 channels.h.url: must be text (got 5)",
        "config.yaml:5 channels.h.secret: must be text (got a list)",
    ]


def test_text_under_secret_keys_is_never_echoed(tmp_path: Path) -> None:
    text = "sources:\n  - {id: a, type: feed, url: 'https://e.com/', headers: {Authorization: [tok-123456]}}\n"
    assert problems(tmp_path, text) == ["config.yaml:2 sources[0].headers.Authorization: must be text (got a list)"]
    text = "channels:\n  m: {type: email, host: h, from: a@b.test, to: [c@d.test], password: [hunter22]}\n"
    assert problems(tmp_path, text) == ["config.yaml:2 channels.m.password: must be text (got a list)"]


# -- never pydantic's wording, on random configs -------------------------------------------------------


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(blob=config_texts())
def test_random_configs_never_show_pydantic_wording(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(blob)
    try:
        load_config(path, env=FUZZ_ENV)
    except ConfigError as exc:
        for problem in exc.problems:
            assert not PYDANTIC.search(str(problem)), str(problem)
            assert problem.file and problem.message, problem
