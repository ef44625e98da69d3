"""The README's reference stays true: every config key its tables document exists (and every key the
config accepts is documented), and every `newsmon` command line it shows parses with the real command
line and is run by some test."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from pydantic import BaseModel

from alerts.config import AppriseConfig, DeliveryConfig, EmailConfig, RouteConfig, SlackConfig, WebhookConfig
from monitor.cli import build_parser
from monitor.config import (
    ClassifyConfig,
    CrawlConfig,
    LogConfig,
    ServerConfig,
    SourceConfig,
    StoreConfig,
    StoriesConfig,
)

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i:text.index(end, i)]


def table_keys(text: str) -> list[str]:
    """The first cell of every table row, with its backticked keys, e.g. `| slack: `url` |` -> ["slack: url"]."""
    keys = []
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("| key ") or line.startswith("|---"):
            continue
        cell = line.split("|")[1].strip()
        prefix = cell.split(":")[0] + ": " if re.match(r"^[a-z]+: `", cell) else ""
        row = re.findall(r"`([^`]+)`", cell)
        for i, key in enumerate(row):
            if i and "." in row[0] and "." not in key:   # `delivery.backoff_base` / `backoff_max`
                key = row[0].rsplit(".", 1)[0] + "." + key
            keys.append(prefix + key)
    return keys


def fields(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items() if not f.exclude}


CONFIG_REF = section(README, "## Configuration reference", "## Keyword files")


def documented() -> dict[str, set[str]]:
    """Model name -> the keys the README documents for it."""
    out: dict[str, set[str]] = {}

    def add(model: str, key: str) -> None:
        out.setdefault(model, set()).add(key)

    for title, model in (("### `sources:`", "sources"), ("### `crawl:`", "crawl"), ("### `store:`", "store"),
                         ("### `classify:`", "classify")):
        for key in table_keys(section(CONFIG_REF, title, "\n### ")):
            add(model, key.split(".")[0])
    rest = CONFIG_REF[CONFIG_REF.index("### `channels:`"):]
    for key in table_keys(rest):
        if ": " in key:                       # "slack: url" -> a channel type's own keys
            kind, name = key.split(": ")
            add(kind, name)
        elif key.startswith("channels.<name>."):
            add("channel", key.removeprefix("channels.<name>."))
        elif key.startswith("routes[]."):
            add("routes", key.removeprefix("routes[]."))
        elif "." in key:
            model, name = key.split(".", 1)
            add(model, name)
    return out


MODELS: dict[str, type[BaseModel]] = {
    "sources": SourceConfig, "crawl": CrawlConfig, "store": StoreConfig, "classify": ClassifyConfig,
    "routes": RouteConfig, "delivery": DeliveryConfig, "stories": StoriesConfig, "server": ServerConfig,
    "log": LogConfig, "slack": SlackConfig, "webhook": WebhookConfig, "email": EmailConfig,
    "apprise": AppriseConfig,
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_config_key_is_documented_and_every_documented_key_exists(name: str) -> None:
    doc = documented()
    model = MODELS[name]
    common = doc.get("channel", set()) | {"type"} if name in ("slack", "webhook", "email", "apprise") else set()
    have = fields(model) - common
    said = doc.get(name, set())
    assert said, f"README documents no keys of {name}"
    assert have - said == set(), f"{name}: accepted by the config but not in the README: {sorted(have - said)}"
    assert said - fields(model) == set(), f"{name}: in the README but not accepted: {sorted(said - fields(model))}"


def readme_commands() -> list[str]:
    """Every `newsmon …` command line the README shows, in code blocks and in backticks."""
    lines: list[str] = []
    for block in re.findall(r"```(?:sh|console|bash)?\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip().removeprefix("$ ")
            if line.startswith("newsmon "):
                lines.append(line)
    for span in re.findall(r"`(newsmon [^`]+)`", README):
        lines.append(span)
    lines = [re.split(r" >>? ", line)[0] for line in lines if "<Tab>" not in line]  # keystrokes are no command
    return sorted(set(lines))


PLACEHOLDERS = {"ID": "1", "A": "1", "B": "2", "ARTICLE": "1", "N": "1", "F1": "0.5"}


def concrete(line: str) -> list[str] | None:
    """The command line with its placeholders filled in: `[--a\\|--b]` -> `--a`, `text|json` -> `text`,
    `ID` -> `1`, `FILE_OR_DIR` -> `x`; None for a line that names no command."""
    line = line.replace("\\|", "|").replace("…", "x")
    line = re.sub(r"\[([^\]]*)\]", lambda m: m.group(1).split("|")[0], line)
    words = []
    for w in shlex.split(line)[1:]:
        w = w.split("|")[0].removesuffix("...")
        if re.fullmatch(r"[A-Z][A-Z0-9_]*(\.[a-z]+)?", w):
            w = PLACEHOLDERS.get(w, "x")
        if w:
            words.append(w)
    return words or None


@pytest.mark.parametrize("line", readme_commands())
def test_every_readme_command_line_parses(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = concrete(line)
    assert argv, f"README shows {line!r}, which names no command"
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse's way of saying the line is wrong (or --help/--version)
        err = capsys.readouterr().err
        assert exc.code == 0, f"README shows {line!r}, which newsmon does not accept: {err.strip()}"
        return
    assert getattr(args, "_run", None), f"README shows {line!r}, which runs no command"


def test_every_readme_command_is_run_by_a_test() -> None:
    """Each command (and subcommand) the README shows appears in some test's invocation of newsmon:
    `run_newsmon("stories", "merge", …)`, `main(["stories", "merge", …])`, a helper `stories(cfg, "merge", …)`
    or a shell line `newsmon stories merge`."""
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py")
                      if p.name != Path(__file__).name)
    missing = []
    parser = build_parser()
    for line in readme_commands():
        argv = concrete(line) or []
        path = [w for w in argv[:2] if not w.startswith("-")]
        sub = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
        if not path or path[0] not in sub:
            continue
        # a second word is a subcommand only when the first command has subcommands
        nested = sub[path[0]]._subparsers
        words = path[:2] if nested is not None and len(path) > 1 else path[:1]
        pattern = r"""["']""" + r"""["'],\s*["']""".join(map(re.escape, words)) + r"""["']"""
        spaced = re.escape(" ".join(words))
        helper = r"\b" + re.escape(words[0]) + r"\([^)]*" + (r"""["']""" + re.escape(words[1]) + r"""["']""" if len(words) > 1 else "")
        if not (re.search(pattern, tests) or re.search(r"newsmon\s+" + spaced, tests) or re.search(helper, tests)):
            missing.append(" ".join(words))
    assert not sorted(set(missing)), f"README commands no test runs: {sorted(set(missing))}"


def test_every_command_is_in_the_readme() -> None:
    parser = build_parser()
    shown = {(concrete(line) or [""])[0] for line in readme_commands()}
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert commands - shown == set(), f"commands the README does not show: {sorted(commands - shown)}"
