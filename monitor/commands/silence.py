"""`newsmon silence`: suppress matching alerts for a while.

    newsmon silence add --match entity=MoMo [--match category=~fraud|outage] --for 2h --reason "..."
    newsmon silence list [--all]
    newsmon silence expire ID
Matchers use the route `match` keys (category, entity, language, source, tag); KEY=~REGEX matches the
whole value; several values for one key mean any of them. Expired silences stop applying by themselves.
Reads `store.path` from the config.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import timedelta

from monitor.durations import format_duration, parse_duration

HELP = "add, list and expire alert silences"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = sub.add_parser("add", help="silence matching alerts")
    a.add_argument("--match", action="append", required=True, metavar="KEY=VALUE", help="repeatable")
    a.add_argument("--for", dest="duration", required=True, metavar="DURATION", help='e.g. "2h"')
    a.add_argument("--reason", default="", help="why (shown in list)")
    ls = sub.add_parser("list", help="active silences")
    ls.add_argument("--all", action="store_true", help="include expired ones")
    e = sub.add_parser("expire", help="end a silence now")
    e.add_argument("id", metavar="ID", type=int)
    for sp in (a, ls, e):
        sp.add_argument("-c", "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)")


def run(args: argparse.Namespace) -> int:
    from alerts.engine import utcnow
    from alerts.routing import parse_matchers
    from alerts.silences import add_silence, expire_silence, list_silences
    from monitor.config import load_config
    from monitor.store import open_store

    now = utcnow()
    if args.action == "add":
        try:
            match = parse_matchers(args.match)
            seconds = parse_duration(args.duration)
            if seconds <= 0:
                raise ValueError(f'--for must be positive: "{args.duration}"')
        except ValueError as exc:
            print(f"silence add: {exc}", file=sys.stderr)
            return 2
    config = load_config(args.config)
    store = open_store(config.store_path)
    try:
        if args.action == "add":
            sid = add_silence(store, match, timedelta(seconds=seconds), now, args.reason, _user())
            print(f"silence {sid} added for {format_duration(seconds)}")
            return 0
        if args.action == "expire":
            if expire_silence(store, args.id, now):
                print(f"silence {args.id} expired")
                return 0
            print(f"silence expire: no active silence {args.id}", file=sys.stderr)
            return 1
        silences = list_silences(store, now, include_expired=args.all)
        if not silences:
            print("no active silences" if not args.all else "no silences")
        for s in silences:
            state = "active" if s.active(now) else "expired"
            print(f"{s.id:>4}  {state:<7}  until {s.ends_at.strftime('%Y-%m-%d %H:%M')} UTC  {s.matchers}"
                  + (f"  — {s.reason}" if s.reason else "") + (f"  ({s.created_by})" if s.created_by else ""))
        return 0
    finally:
        store.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
