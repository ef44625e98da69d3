"""`newsmon validate [-c config.yaml]`: check the config and every keyword file it uses.

Exit 0 when valid; otherwise print every problem, in one pass, as `file:line key.path: reason` and exit 2:
- the config file itself (syntax, unknown keys, bad values, undefined channels, ...);
- every keyword file (syntax, unknown keys, terms that can never match once folded, ...), also when the
  config has problems elsewhere;
- category names no rule defines, with a "did you mean": in `classify.categories`, in a route's
  `match: {category: ...}` (a `~regex` must match at least one category; `source_health` is the
  source-health alerts' category), and in an active silence in the store (`newsmon silence add
  --match category=...`; reported as `STORE silences[ID].category: ...`). The store is read without
  writing, and only when it exists; a store that cannot be read is a warning, not a problem.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from monitor.classify.rules import did_you_mean
from monitor.errors import ConfigError, ConfigProblem, StoreError

HELP = "check config.yaml and the keyword files it uses"
HEALTH_CATEGORY = "source_health"   # alerts.message.HEALTH: routes and silences may name it



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")


def unknown_category(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    return f'unknown category "{name}"{did_you_mean(name, known)} (known: {", ".join(known) or "none"})'


def category_problems(values: Any, known: Iterable[str]) -> list[tuple[int | None, str]]:
    """(index in the list or None, message) for each value of a `category` matcher that can match no
    category: a name (compared as routing does, ignoring case) or a "~regex" (matching whole names)."""
    known = sorted(known)
    folded = {k.casefold() for k in known}
    items = list(enumerate(values)) if isinstance(values, list) else [(None, values)]
    out = []
    for index, value in items:
        if not isinstance(value, str):
            continue
        if value.startswith("~"):
            try:
                rx = re.compile(value[1:])
            except re.error:
                continue  # the config schema reports it
            if not any(rx.fullmatch(k) for k in known):
                out.append((index, f'category "{value}" matches no category (known: {", ".join(known)})'))
        elif value.casefold() not in folded:
            out.append((index, unknown_category(value, known)))
    return out


def _classify_section(parts: Any) -> Any:
    """The classify section as far as it is valid, when the config has problems: so that the keyword
    files are still checked. A key with a problem is left at its default (an override with a problem
    is left out); None when the section is not even a mapping."""
    from monitor.classify import ClassifyConfig
    from monitor.yamlfile import to_plain

    raw = parts.raw("classify")
    if raw is None:
        return ClassifyConfig()
    if not isinstance(raw, dict):
        return None
    data: dict[Any, Any] = {}
    for key, value in raw.items():
        if parts.usable("classify", key):
            data[key] = value
        elif key == "categories" and isinstance(value, dict):
            data[key] = {k: v for k, v in value.items() if parts.usable("classify", "categories", k)}
    try:
        return ClassifyConfig.model_validate(to_plain(data))
    except ValueError:
        return None


def _store_path(parts: Any, base_dir: Path) -> Path | None:
    """Where the store is, when `store.path` is valid (or not written)."""
    from monitor.config import StoreConfig, _resolve

    if not isinstance(parts.raw("store"), (dict, type(None))) or not parts.usable("store", "path"):
        return None
    value = parts.get("store", "path")
    if value is None:
        value = StoreConfig().path
    if not isinstance(value, str):
        return None
    try:
        return _resolve(base_dir, value)
    except (RuntimeError, OSError, ValueError):
        return None


def _declared_categories(cfg: Any, base_dir: Path) -> set[str] | None:
    """Categories the keyword files name, read leniently, for cross-checks when the files have problems
    (the loader then returns no rules). None when a file cannot be read as a mapping at all."""
    import yaml

    from monitor import classify

    defaults = Path(classify.__file__).resolve().parent.parent / "keywords"
    files = [p for p in sorted(defaults.glob("*.yaml")) if p.name != "entities.yaml"] if cfg.defaults else []
    for entry in cfg.keywords:
        path = Path(entry) if Path(entry).is_absolute() else base_dir / entry
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        elif path.is_file():
            files.append(path)
    names: set[str] = set()
    wanted = set(cfg.languages) if cfg.languages is not None else None
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None
        if not isinstance(data, dict):
            return None
        lang = data.get("language")
        if wanted is not None and lang != "*" and lang not in wanted:
            continue
        if isinstance(data.get("categories"), dict):
            names.update(str(k) for k in data["categories"])
    return names


def _located(problems: Iterable[ConfigProblem], doc: Any, display: str) -> list[ConfigProblem]:
    """The loader names the config as "config" (no line): point at the config file and the line."""
    out = []
    for p in problems:
        if p.file == "config" and p.path:
            loc: list[str | int] = [int(k) if k.isdigit() else k for k in p.path.split(".")]
            p = ConfigProblem(display, doc.line_of(loc) if doc.root is not None else None, p.path, p.message)
        out.append(p)
    return out


def _silence_problems(store: Path, known: set[str]) -> list[ConfigProblem]:
    """Active silences whose category matcher can match no category. Reads the store without writing;
    raises StoreError when it cannot be read."""
    import sqlite3

    from alerts.outbox import ts
    from monitor.store.sqlite import open_readonly

    if not store.is_file():
        return []
    conn = open_readonly(store)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alert_silences" not in tables:
            return []
        rows = conn.execute("SELECT id, matchers FROM alert_silences WHERE ends_at > ? ORDER BY id",
                            (ts(datetime.now(timezone.utc)),)).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"store {store}: cannot read: {exc}") from None
    finally:
        conn.close()
    out = []
    for row in rows:
        try:
            match = json.loads(row["matchers"])
        except ValueError:
            continue
        if not isinstance(match, dict) or "category" not in match:
            continue
        for index, message in category_problems(match["category"], known):
            where = f"silences[{row['id']}].category" + (f"[{index}]" if index is not None else "")
            out.append(ConfigProblem(str(store), None, where,
                                     f'{message}; end it with "newsmon silence expire {row["id"]}"'))
    return out


def run(args: argparse.Namespace) -> int:
    from monitor.classify import load_ruleset
    from monitor.config import check_config
    from monitor.errors import KeywordError
    from monitor.yamlfile import to_plain

    display = str(args.config)
    config, found, parts = check_config(args.config)
    problems: list[ConfigProblem] = list(found)
    base_dir = Path(args.config).resolve().parent
    doc = parts.doc if parts is not None else None
    cfg = config.classify if config is not None else _classify_section(parts) if parts is not None else None

    rules = None
    known: set[str] | None = None
    if cfg is not None and parts is not None:
        try:  # every category the files define, before the config's overrides (which may name unknown ones)
            rules = load_ruleset(cfg.model_copy(update={"categories": {}}), base_dir)
            known = set(rules.categories)
        except KeywordError as exc:
            problems += _located(exc.problems, doc, display)
            known = _declared_categories(cfg, base_dir)
        if known is not None:  # names of overrides, also of those whose settings have problems
            for name, _ in parts.items("classify", "categories"):
                if isinstance(name, str) and name not in known:
                    problems.append(doc.problem(["classify", "categories", name], unknown_category(name, known)))
    if parts is not None and known is not None:
        targets = known | {HEALTH_CATEGORY}
        for i, _ in parts.items("routes"):
            values = parts.get("routes", i, "match", "category")
            if isinstance(values, (str, list)):
                for index, message in category_problems(to_plain(values), targets):
                    loc: list[str | int] = ["routes", i, "match", "category"]
                    problems.append(doc.problem(loc + ([index] if index is not None else []), message))
        store = config.store_path if config is not None else _store_path(parts, base_dir)
        if store is not None:
            try:
                problems += _silence_problems(store, targets)
            except StoreError as exc:
                print(f"newsmon validate: warning: silences not checked: {exc}", file=sys.stderr)
    if not problems and cfg is not None and cfg.categories:
        rules = load_ruleset(cfg, base_dir)   # with the overrides: what the daemon will run
    if problems or config is None or rules is None:
        mine = sorted((p for p in problems if p.file == display), key=lambda p: p.line or 0)
        raise ConfigError(mine + [p for p in problems if p.file != display])
    print(
        f"{args.config}: OK — {len(config.sources)} sources, {len(config.channels)} channels, "
        f"{len(config.routes)} routes; categories: {', '.join(rules.categories)}; {len(rules.files)} keyword files"
    )
    return 0
