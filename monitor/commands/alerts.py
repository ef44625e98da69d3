"""`newsmon alerts`: look at and act on alert delivery.

    newsmon alerts test CHANNEL [-c config.yaml]   send a sample alert directly (not via the outbox);
                                                    exit 1 with the reason when it fails
    newsmon alerts list [--pending | --dead]        the outbox, newest first
    newsmon alerts retry ID... | --all-dead         put dead letters back in the queue
Reads `channels`, `delivery` and `store.path` from the config.
"""

from __future__ import annotations

import argparse
import sys

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
        return _list(store, args.status, args.limit) if args.action == "list" else _retry(store, args)
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


def _list(store: object, status: str | None, limit: int) -> int:
    from alerts.outbox import list_rows

    rows = list_rows(store, status, limit)  # type: ignore[arg-type]
    if not rows:
        print("no alert messages" + (f" ({status})" if status else ""))
        return 0
    for r in rows:
        when = r.created.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{r.id:>6}  {r.status:<7}  {r.channel:<16} {when}  {r.alerts} alert{'s' if r.alerts != 1 else ''}"
              f"  attempts={r.attempts}  {redact(r.title[:80])}")
        if r.status == "pending" and r.next_attempt:
            print(f"        next attempt {r.next_attempt.strftime('%Y-%m-%d %H:%M:%S')} UTC")
        if r.last_error:
            print(f"        {redact(r.last_error)}")
    return 0


def _retry(store: object, args: argparse.Namespace) -> int:
    from alerts.engine import utcnow
    from alerts.outbox import retry

    if bool(args.ids) == bool(args.all_dead):
        print("alerts retry: give message IDs or --all-dead", file=sys.stderr)
        return 2
    n = retry(store, utcnow(), None if args.all_dead else args.ids)  # type: ignore[arg-type]
    print(f"requeued {n} dead message{'s' if n != 1 else ''}")
    if args.ids and n < len(args.ids):
        print(f"alerts retry: {len(args.ids) - n} of the IDs given are not dead letters", file=sys.stderr)
        return 1
    return 0
