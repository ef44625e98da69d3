"""`newsmon replay [--since 7d] [--keywords DIR] [-c config.yaml] [--format text|json]`: re-run the
keyword rules over the articles already in the store and show what would change.

The rules are the ones in force (the config's `classify:` section), or with `--keywords DIR` candidate
rules: every *.yaml in DIR loaded instead of the config's `classify.keywords` files, the shipped
defaults still on unless the config says `defaults: false` (as `backtest --against`). Each article
fetched within `--since` (a duration, default 7d) is classified again from its stored title, text and
language, and compared with the categories stored when it was crawled:

- would newly alert: categories flagged now that were not stored;
- would stop alerting: categories stored that are not flagged now;

each listed with its URL, title, `categories stored -> now` and the classifier's reason per changed
category, then the totals. Freshness (`max_age`), routes and silences are not applied: this compares
the rules' decisions only.

Nothing is sent and nothing is written: the store (`store.path`) is opened read-only, and the command
refuses to create it. Exit codes: 0 done (whether or not anything changed); 2 a missing or unreadable
store, an invalid `--since`, config or keyword files (one line each).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError, StoreError

HELP = "re-run the rules over stored articles: what would newly alert or stop alerting (writes nothing)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")
    p.add_argument("--since", default="7d", metavar="DURATION",
                   help='articles fetched within this long (default: "7d")')
    p.add_argument("--keywords", metavar="DIR", help="candidate keyword directory, instead of the config's keyword files")
    p.add_argument("--format", choices=("text", "json"), default="text")


@dataclass
class Change:
    url: str
    title: str
    language: str | None
    source: str
    fetched: str
    stored: list[str]
    now: list[str]
    reasons: dict[str, str] = field(default_factory=dict)   # changed category -> why (not) flagged now

    @property
    def added(self) -> list[str]:
        return [c for c in self.now if c not in self.stored]

    @property
    def removed(self) -> list[str]:
        return [c for c in self.stored if c not in self.now]

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "title": self.title, "language": self.language, "source": self.source,
                "fetched": self.fetched, "stored": self.stored, "now": self.now, "added": self.added,
                "removed": self.removed, "reasons": self.reasons}


class ReplayError(Exception):
    """Why replay cannot run: one line."""


def replay(conn: sqlite3.Connection, rules: Any, cutoff: datetime) -> tuple[int, list[Change]]:
    """(articles replayed, those whose categories changed), oldest first."""
    from monitor.classify import classify
    from monitor.store.sqlite import to_iso

    rows = conn.execute(
        "SELECT url, source_id, title, text, language, fetched, categories FROM articles "
        "WHERE fetched >= ? ORDER BY fetched, id", (to_iso(cutoff),)).fetchall()
    out = []
    for r in rows:
        result = classify(r["title"], r["text"], r["language"], rules)
        stored = [str(c) for c in json.loads(r["categories"] or "[]")]
        now = list(result.categories)
        if set(stored) == set(now):
            continue
        change = Change(r["url"], r["title"], r["language"] or result.language, r["source_id"], r["fetched"],
                        stored, now)
        for cat in [*change.added, *change.removed]:
            change.reasons[cat] = result.reasons.get(cat) or (
                "the rules define no such category" if cat not in rules.categories else "no terms matched")
        out.append(change)
    return len(rows), out


def _cats(names: list[str]) -> str:
    return ", ".join(names) or "(none)"


def render_text(total: int, changes: list[Change], since: str, cutoff: datetime, store: Path,
                keywords: str | None) -> str:
    rules = f"candidate rules {keywords}" if keywords else "the rules in force"
    lines = [f"replayed {total} article(s) fetched since {cutoff.isoformat(timespec='seconds')} ({since}) "
             f"from {store} with {rules}"]
    newly = [c for c in changes if c.added]
    stopped = [c for c in changes if c.removed]
    for title, items, which in (("would newly alert", newly, "added"), ("would stop alerting", stopped, "removed")):
        lines += ["", f"{title}: {len(items)}"]
        for c in items:
            lines.append(f"  {c.url}")
            lines.append(f"    {c.title}")
            lines.append(f"    categories: {_cats(c.stored)} -> {_cats(c.now)}")
            for cat in getattr(c, which):
                lines.append(f"    {cat}: {c.reasons[cat]}")
    lines += ["", f"total: {len(newly)} would newly alert, {len(stopped)} would stop alerting, "
                  f"{total - len(changes)} unchanged (of {total}); nothing sent, nothing written"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from monitor.classify import load_ruleset
    from monitor.commands.backtest import candidate_rules
    from monitor.config import load_config
    from monitor.durations import parse_duration
    from monitor.store.sqlite import open_readonly

    try:
        seconds = parse_duration(args.since)
    except ValueError as exc:
        print(f"newsmon replay: --since: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        if args.keywords:
            rules = candidate_rules(config.classify, config.base_dir, args.keywords)
        else:
            rules = load_ruleset(config.classify, config.base_dir)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"newsmon replay: {problem}", file=sys.stderr)
        return 2
    now = datetime.now(timezone.utc)
    cutoff = now - timedelta(seconds=seconds)
    store = config.store_path
    try:
        conn = open_readonly(store, require="articles")
        try:
            total, changes = replay(conn, rules, cutoff)
        except sqlite3.Error as exc:
            raise ReplayError(f"store {store}: cannot read: {exc}") from None
        finally:
            conn.close()
    except (ReplayError, StoreError) as exc:
        print(f"newsmon replay: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        newly = [c for c in changes if c.added]
        stopped = [c for c in changes if c.removed]
        print(json.dumps({
            "store": str(store), "since": args.since, "cutoff": cutoff.isoformat(timespec="seconds"),
            "keywords": args.keywords, "articles": total,
            "newly_alerting": [c.as_dict() for c in newly],
            "stopped_alerting": [c.as_dict() for c in stopped],
            "totals": {"articles": total, "newly_alerting": len(newly), "stopped_alerting": len(stopped),
                       "changed": len(changes), "unchanged": total - len(changes)},
        }, ensure_ascii=False))
    else:
        print(render_text(total, changes, args.since, cutoff, store, args.keywords))
    return 0
