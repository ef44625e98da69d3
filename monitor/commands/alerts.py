"""`newsmon alerts`: look at and act on alert delivery.

    newsmon alerts test CHANNEL [-c config.yaml]   send a sample alert directly (not via the outbox);
                                                    exit 1 with the reason when it fails
    newsmon alerts list [--pending | --dead] [--format table|json]
                                                    the outbox, newest first, each message's state:
                                                    held for grouping (due when its group_wait or
                                                    group_interval ends), ready to send, sending,
                                                    waiting for retry (next attempt, last error),
                                                    sent, dead (with the reason)
    newsmon alerts retry ID... | --all-dead         put dead letters back in the queue
Reads `channels`, `delivery` and `store.path` from the config.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from monitor.errors import NotifyError
from monitor.logs import redact

HELP = "test a channel, list the alert outbox, retry dead letters"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = sub.add_parser("test", help="send a sample alert to one channel now")
    t.add_argument("channel", metavar="CHANNEL")
    ls = sub.add_parser("list", help="list alert messages in the outbox")
    which = ls.add_mutually_exclusive_group()
    which.add_argument("--pending", action="store_const", const="pending", dest="status", help="only pending")
    which.add_argument("--dead", action="store_const", const="dead", dest="status", help="only dead letters")
    ls.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    r = sub.add_parser("retry", help="requeue dead letters")
    r.add_argument("ids", metavar="ID", nargs="*", type=int)
    r.add_argument("--all-dead", action="store_true", help="requeue every dead letter")
    for sp in (t, ls, r):
        sp.add_argument("-c", "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)")


def run(args: argparse.Namespace) -> int:
    from monitor.config import load_config

    config = load_config(args.config)
    if args.action == "test":
        return _test(config, args.channel)
    from monitor.store import open_store

    store = open_store(config.store_path)
    try:
        if args.action == "list":
            return _list(config, store, args.status, args.limit, args.format)
        return _retry(config, store, args)
    finally:
        store.close()


def _test(config: object, name: str) -> int:
    from alerts.config import ConsoleConfig
    from alerts.message import sample_notification
    from alerts.registry import build_channel

    channels = dict(config.channels) or {"console": ConsoleConfig(type="console")}
    if name not in channels:
        print(f'alerts test: unknown channel "{name}" (configured: {", ".join(channels)})', file=sys.stderr)
        return 2
    channel = build_channel(name, channels[name], config.delivery.timeout)
    try:
        channel.send(sample_notification(name))
    except NotifyError as exc:
        kind = "temporary" if exc.retryable else "permanent"
        print(f"alerts test: {redact(exc.reason)} ({kind} failure)", file=sys.stderr)
        return 1
    print(f"alerts test: sent a test alert to {name}")
    return 0


STATE_TEXT = {"held": "held for grouping", "ready": "ready to send", "sending": "sending",
              "retrying": "waiting for retry", "sent": "sent", "dead": "dead"}
WHEN_TEXT = {"held": "due", "ready": "due", "sending": "lease ends", "retrying": "next attempt", "sent": "sent",
             "dead": "given up"}


def _list(config: object, store: object, status: str | None, limit: int, fmt: str = "table") -> int:
    from alerts.engine import utcnow
    from monitor import views
    from monitor.textutil import table

    now = utcnow()
    rows = views.alerts(config, store, status, limit, now)
    if fmt == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))   # views masked the secrets
        return 0
    if not rows:
        print("no alert messages" + (f" ({status})" if status else ""))
        return 0
    cells = [["ID", "STATE", "WHEN (UTC)", "CHANNEL", "MODE", "ALERTS", "ATTEMPTS", "CREATED (UTC)", "TITLE"]]
    for r in rows:
        when = f"{WHEN_TEXT[r['state']]} {_time(_dt(r['due']))}" if r["due"] else "-"
        cells.append([str(r["id"]), STATE_TEXT[r["state"]], when, r["channel"], r["mode"], str(r["alerts"]),
                      str(r["attempts"]), _time(_dt(r["created"])), " ".join(r["title"].split())[:80]])
    lines = table(cells, numeric={0, 5, 6}).splitlines()
    print(lines[0])
    indent = " " * (len(str(max(r["id"] for r in rows))) + 2)
    for r, line in zip(rows, lines[1:], strict=True):
        print(line)
        if r["last_error"]:
            label = "reason" if r["state"] == "dead" else "last error"
            print(f"{indent}{label}: {r['last_error']}")
    return 0


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _time(dt: datetime | None) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if dt else "-"


def _retry(config: object, store: object, args: argparse.Namespace) -> int:
    from alerts.engine import utcnow
    from monitor import views

    if bool(args.ids) == bool(args.all_dead):
        print("alerts retry: give message IDs or --all-dead", file=sys.stderr)
        return 2
    n = views.retry(config, store, None if args.all_dead else args.ids, utcnow())
    print(f"requeued {n} dead message{'s' if n != 1 else ''}")
    if args.ids and n < len(args.ids):
        print(f"alerts retry: {len(args.ids) - n} of the IDs given are not dead letters", file=sys.stderr)
        return 1
    return 0
