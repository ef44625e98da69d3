"""A config file can be anything a user (or an editor accident) writes: loading it either succeeds or
raises ConfigError naming the file — never another exception, never unbounded time or memory.

Random mutations of the shipped config.yaml and of a config using every section: values replaced by
odd YAML (.nan, .inf, huge and negative numbers, empty, text, lists, maps, tags), keys deleted or
added, deep nesting, anchors and aliases (recursive, billion laughs), random bytes, invalid UTF-8,
tabs. NEWSMON_FUZZ_EXAMPLES scales the run (default 150, about 10 s; `make faults` may use more)."""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.classify import load_ruleset
from monitor.config import load_config
from monitor.durations import parse_duration
from monitor.errors import ConfigError
from tests.conftest import ROOT

EXAMPLES = int(os.environ.get("NEWSMON_FUZZ_EXAMPLES", "150"))
NEWSMON = Path(sys.executable).parent / "newsmon"
ENV = {"SLACK_URL": "https://hooks.slack.com/services/T0/B0/x", "TOKEN": "t0ken-value"}

RICH = """\
store: {path: data/newsmon.db}
crawl:
  user_agent: newsmon-test
  obey_robots: false
  concurrency: 8
  per_domain: 2
  delay: 250ms
  timeout: 10s
  max_size: 5MB
  retries: 1
  max_age: 2d
  fetch_articles: true
  min_summary_chars: 300
  max_articles_per_poll: 50
  backoff_max: 6h
  health_after: 3
  jitter: 0.2
  shutdown_grace: 20s
classify:
  defaults: true
  languages: [en, de]
  title_weight: 2.0
  entities:
    - {name: MoMo, aliases: [Ví MoMo, M_Service]}
  categories:
    outage: {threshold: 4, require_entity: false}
    rumor: {enabled: true, title_weight: 1.5}
channels:
  ops-slack: {type: slack, url: "${SLACK_URL}", rate_limit: 1/s}
  hook: {type: webhook, url: "https://hooks.example.com/in?token=${TOKEN}", secret: "${TOKEN}",
         headers: {X-Team: ops}, timeout: 5s}
  mail: {type: email, host: smtp.example.com, port: 587, security: starttls, username: u,
         password: "${TOKEN}", from: "newsmon <n@example.com>", to: [ops@example.com]}
  tg: {type: apprise, url: "tgram://bot/chat"}
  console: {type: console, rate_limit: 30/m}
routes:
  - match: {category: outage, language: [en, de], source: "~^bbc"}
    channels: [ops-slack, hook]
    continue: true
    group_by: [category, entity]
    group_wait: 30s
    group_interval: 5m
  - match: {tag: press}
    channels: [mail]
    digest: 1h
  - channels: [console]
delivery: {timeout: 10s, backoff_base: 5s, backoff_max: 10m, max_age: 1d, max_attempts: 5,
           drain_timeout: 30s, poll_interval: 1s}
server: {enabled: true, listen: "127.0.0.1:9464"}
log: {format: json, level: info}
sources:
  - {id: bbc-world, type: feed, url: "https://feeds.bbci.co.uk/news/world/rss.xml", interval: &i 5m,
     language: en, tags: &t [en, press], max_age: 1d, timezone: Europe/London,
     headers: {Authorization: "Bearer ${TOKEN}"}}
  - {id: heise, type: page, url: "https://www.heise.de/newsticker/", selectors: ["article a"],
     cron: "*/10 * * * *", fetch_articles: false}
  - {id: sitemap, type: sitemap, url: "https://www.theguardian.com/sitemaps/news.xml", enabled: false,
     tags: *t, interval: *i}
"""

BASES = {
    "shipped": yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8")),
    "rich": yaml.safe_load(RICH),
}

# Written as YAML text in place of a value: what a data structure cannot express.
RAW = [
    ".nan", ".NaN", ".inf", "-.inf", "+.inf", "1.0e+999", "-1", "0", "-0.0", str(10**30), str(-(10**400)),
    "''", "~", "null", "true", "no", "0x7fffffffffffffffff", "0o777", "1_000", "190:20:30", "2024-13-45",
    "2024-02-30 25:61:61", "'nan'", "'inf'", "'-inf'", "'1e999'", "'9" + "9" * 400 + "s'", "'1.5TB'",
    "'-5m'", "'  '", '"\\0"', '"a\\r\\nb"', '"\\u2028"', "'${UNSET_VARIABLE}'", "'${TOKEN}'", "!!binary /w==",
    "!!python/object/apply:os.system ['true']", "!!set {a, b}", "!!omap [a: 1]", "!!str", "!!int x",
    "!!float x", "!!timestamp x", "!custom x", "&a [*a]", "&m {k: *m}", "*undefined_alias",
    "[" * 60 + "]" * 60, "{a: " * 60 + "1" + "}" * 60, "[" * 5000 + "]" * 5000,
    "[&l0 [x,x,x,x,x,x,x,x,x], &l1 [*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0], &l2 [*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1],"
    " &l3 [*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2], &l4 [*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3],"
    " &l5 [*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4], &l6 [*l5,*l5,*l5,*l5,*l5,*l5,*l5,*l5,*l5]]",
    "{<<: {a: 1}}", "? [a]\n", "[a, b", "{a: 1, a: 2}", "'\u00e9\u4e2d'",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", " ", "5m", "0s", "1/s", "10MB", "feed", "page", "https://e.com/", "ftp://x",
                     "127.0.0.1:0", "*/5 * * * *", "UTC", "en", "~(", "json", "debug", "console"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                      max_leaves=10)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


@st.composite
def config_texts(draw: st.DrawFn) -> bytes:
    data = yaml.safe_load(yaml.safe_dump(BASES[draw(st.sampled_from(sorted(BASES)))]))
    raws: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(data)))
        if not path:
            continue
        *head, last = path
        parent = data
        for step in head:
            parent = parent[step]
        op = draw(st.sampled_from(["replace", "raw", "delete", "unknown", "nest"]))
        if op == "replace":
            parent[last] = draw(values)
        elif op == "raw":
            parent[last] = f"RAWTOKEN{len(raws)}"
            raws.append(draw(st.sampled_from(RAW)))
        elif op == "delete":
            del parent[last]
        elif op == "unknown" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
        elif op == "nest":
            value = parent[last]
            for _ in range(draw(st.integers(1, 80))):
                value = [value] if draw(st.booleans()) else {"k": value}
            parent[last] = value
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)
    for i, raw in enumerate(raws):
        text = text.replace(f"RAWTOKEN{i}", raw)
    blob = text.encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 2))):  # byte-level damage
        at = draw(st.integers(0, len(blob)))
        junk = draw(st.sampled_from([b"\t", b"\xff\xfe", b"\x00", b"\r", b"\r\n", b"\xef\xbb\xbf", b"\xc3",
                                     b"\x1b[31m", b": ", b"- ", b"&a ", b"*a", b"'", b'"', b"{", b"]", b"#"]))
        blob = blob[:at] + (junk if draw(st.booleans()) else draw(st.binary(min_size=1, max_size=8))) + blob[at:]
    if draw(st.integers(0, 9)) == 0:
        blob = blob[: draw(st.integers(0, len(blob)))]
    return blob


def check_loads_or_config_error(path: Path) -> None:
    """What `newsmon validate` does: the config, then the keyword files it names."""
    try:
        config = load_config(path, env=ENV)
        load_ruleset(config.classify, config.base_dir)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file, problem


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(blob=config_texts())
def test_mutated_config_loads_or_raises_config_error(fuzz_dir: Path, blob: bytes) -> None:
    path = fuzz_dir / "config.yaml"
    path.write_bytes(blob)
    started = time.monotonic()
    check_loads_or_config_error(path)
    assert time.monotonic() - started < 10


KEYWORDS = (ROOT / "monitor" / "keywords" / "fr.yaml").read_text(encoding="utf-8")


@settings(max_examples=max(10, EXAMPLES // 5), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.sampled_from(RAW), line=st.integers(0, KEYWORDS.count("\n")))
def test_mutated_keyword_file_loads_or_raises_config_error(fuzz_dir: Path, raw: str, line: int) -> None:
    """Keyword files go through the same loader, with the same bounds."""
    lines = KEYWORDS.splitlines()
    target = lines[line] if line < len(lines) else ""
    key, sep, _ = target.partition(": ")
    lines[line:line + 1] = [f"{key}: {raw}" if sep else f"{target} {raw}"]
    (fuzz_dir / "kw.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (fuzz_dir / "config.yaml").write_text("classify: {defaults: false, keywords: [kw.yaml]}\n", encoding="utf-8")
    check_loads_or_config_error(fuzz_dir / "config.yaml")


# -- explicit regressions --------------------------------------------------------------------------


def problems(tmp_path: Path, text: str, name: str = "config.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    return [str(p).replace(str(path), name) for p in info.value.problems]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN", "+.inf"])
@pytest.mark.parametrize("key", ["crawl.delay", "crawl.timeout", "crawl.shutdown_grace", "sources.interval",
                                 "delivery.backoff_max", "crawl.jitter"])
def test_non_finite_numbers_are_rejected_with_file_and_line(tmp_path: Path, key: str, value: str) -> None:
    section, name = key.split(".")
    if section == "sources":
        text = f"sources:\n  - id: a\n    type: feed\n    url: https://e.com/\n    {name}: {value}\n"
        where = f"config.yaml:5 sources[0].{name}"
    else:
        text = f"# comment\n{section}:\n  {name}: {value}\n"
        where = f"config.yaml:3 {section}.{name}"
    assert problems(tmp_path, text) == [f"{where}: not a finite number: {value}"]


@pytest.mark.parametrize("value, message", [
    ("'inf'", "not a finite number"), ("'Infinity'", "not a finite number"),
    ("'nan'", "not a finite number"),
])
def test_non_finite_numbers_written_as_strings_are_rejected(tmp_path: Path, value: str, message: str) -> None:
    """Pydantic turns the strings "inf" and "nan" into floats: checked after validation, in every section."""
    text = f"classify:\n  title_weight: 2\n  categories:\n    outage: {{title_weight: {value}}}\n"
    assert problems(tmp_path, text) == [f"config.yaml:4 classify.categories.outage.title_weight: {message}"]


@pytest.mark.parametrize("value, message", [
    (float("nan"), "not a finite number: nan"),
    (float("inf"), "too long: inf (at most 3650d)"),
    (10**400, "too long"),
    ("9" * 400 + "s", "too long"),
    ("3651d", 'too long: "3651d" (at most 3650d)'),
])
def test_durations_are_finite_and_bounded(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("text, expected", [
    (f"crawl:\n  max_articles_per_poll: {10**30}\n", "config.yaml:2 crawl.max_articles_per_poll: number too large"),
    (f"crawl:\n  max_size: '{'9' * 40}GB'\n", f'config.yaml:2 crawl.max_size: too large: "{"9" * 40}GB" (at most 1TiB)'),
    (f"channels:\n  c: {{type: console, rate_limit: '{'9' * 40}/s'}}\n",
     f'config.yaml:2 channels.c.rate_limit: not a rate: "{"9" * 40}/s" (use e.g. "1/s", "30/m", or "none")'),
    (f"channels:\n  c: {{type: console, rate_limit: '1/{'9' * 400}s'}}\n",
     f'config.yaml:2 channels.c.rate_limit: too long: "{"9" * 35}…9s" (at most 3650d)'),
], ids=["int", "size", "rate-count", "rate-period"])
def test_huge_numbers_are_rejected(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_list_nested_500_deep(tmp_path: Path) -> None:
    text = "crawl:\n  delay: " + "[" * 500 + "]" * 500 + "\n"
    [problem] = problems(tmp_path, text)
    assert problem.startswith("config.yaml:2 crawl.delay[0]") and problem.endswith(": nested deeper than 50 levels")


def test_nesting_far_beyond_the_parser_stack_fails_fast(tmp_path: Path) -> None:
    """libyaml's composer recurses in C: 100,000 levels crash the interpreter before Python sees them."""
    started = time.monotonic()
    [problem] = problems(tmp_path, "sources: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert problem.endswith("nested deeper than 50 levels") and time.monotonic() - started < 2


def test_recursive_alias(tmp_path: Path) -> None:
    assert problems(tmp_path, "sources: &s\n  - *s\n") == ["config.yaml:2 sources[0]: recursive alias *s"]
    assert problems(tmp_path, "crawl: &c {delay: *c}\n") == ["config.yaml:1 crawl.delay: recursive alias *c"]


def test_undefined_alias(tmp_path: Path) -> None:
    assert problems(tmp_path, "crawl:\n  delay: *d\n") == ["config.yaml:2 crawl.delay: undefined alias *d"]


def billion_laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_fails_fast_with_bounded_memory(tmp_path: Path) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        [problem] = problems(tmp_path, billion_laughs())
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert problem.endswith("aliases expand to more than 100000 values")
    assert time.monotonic() - started < 2
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MB"


def test_aliases_within_bounds_still_work(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("sources:\n  - &a {id: a, type: feed, url: 'https://e.com/', tags: &t [en, press]}\n"
                    "  - {id: b, type: feed, url: 'https://f.com/', tags: *t, interval: &i 5m, max_age: *i}\n",
                    encoding="utf-8")
    config = load_config(path, env={})
    assert [s.tags for s in config.sources] == [["en", "press"], ["en", "press"]]
    assert config.sources[1].max_age == 300


def test_file_size_is_bounded(tmp_path: Path) -> None:
    text = "# padding\n" * 500_000
    assert problems(tmp_path, text) == ["config.yaml: larger than 4 MB"]


def test_keyword_file_bounds(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("classify: {defaults: false, keywords: [kw.yaml]}\n", encoding="utf-8")
    config = load_config(tmp_path / "config.yaml", env={})
    for text, message in [
        ("language: en\ncategories:\n  outage:\n    strong: [{term: net down, weight: .nan}]\n",
         "kw.yaml:4: invalid YAML: not a finite number: .nan"),
        ("language: en\ncategories: " + "[" * 500 + "]" * 500 + "\n",
         "kw.yaml:2: invalid YAML: nested deeper than 50 levels"),
        (billion_laughs(), "kw.yaml:6: invalid YAML: aliases expand to more than 100000 values"),
        ("language: en\ncategories: &c {outage: *c}\n", "kw.yaml:2: invalid YAML: recursive alias *c"),
    ]:
        (tmp_path / "kw.yaml").write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_ruleset(config.classify, config.base_dir)
        assert [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems] == [message]


# -- the real command line -------------------------------------------------------------------------

CLI_CASES = {
    "nan-duration": "crawl: {delay: .nan}\n",
    "inf-grace": "crawl: {shutdown_grace: .inf}\n",
    "deep": "sources: " + "[" * 500 + "]" * 500 + "\n",
    "very-deep": "sources: " + "[" * 200_000 + "]" * 200_000 + "\n",
    "recursive-alias": "sources: &s [*s]\n",
    "billion-laughs": billion_laughs(),
    "invalid-utf8": "crawl: {user_agent: \udcff}\n",
    "tabs": "crawl:\n\tdelay: 1s\n",
    "binary": "\x00\x01\x02\x7f",
    "nul-path": 'store: {path: "a\\0b"}\n',
    "bad-listen": 'server: {listen: "h\\u00e9st:1"}\n',
}


def _limit_memory() -> None:  # what "bounded memory" means for a whole `newsmon validate`
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


@pytest.mark.parametrize("command, case", [("validate", case) for case in sorted(CLI_CASES)] + [
    ("run", case) for case in ("nan-duration", "inf-grace", "billion-laughs", "very-deep")])  # run loads it the same way
def test_cli_reports_bad_config_without_traceback(tmp_path: Path, command: str, case: str) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_bytes(CLI_CASES[case].encode("utf-8", "surrogateescape"))
    proc = subprocess.run([str(NEWSMON), command, "-c", str(cfg)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, preexec_fn=_limit_memory)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(str(cfg)), proc.stderr
    assert proc.stderr.rstrip().endswith("problem(s), nothing loaded"), proc.stderr


def test_cli_on_random_mutations(tmp_path: Path) -> None:
    """A few of the fuzzed files through the real `newsmon validate`: exit 0 or 2, never a traceback."""
    rng = random.Random(8)
    cfg = tmp_path / "config.yaml"
    for _ in range(4):
        cfg.write_bytes(_mutate(rng))
        proc = subprocess.run([str(NEWSMON), "validate", "-c", str(cfg)], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path, env={**os.environ, **ENV})
        assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr, proc.stderr


def _mutate(rng: random.Random) -> bytes:
    data = yaml.safe_load(yaml.safe_dump(BASES["rich"]))
    section = rng.choice(sorted(data))
    data[section] = "RAWTOKEN"
    return yaml.safe_dump(data, sort_keys=False).replace("RAWTOKEN", rng.choice(RAW)).encode()
