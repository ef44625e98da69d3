"""`newsmon silence`: suppress matching alerts for a while.

    newsmon silence add --match entity=MoMo [--match category=~fraud|outage] --for 2h --reason "..."
    newsmon silence list [--all]
    newsmon silence expire ID
Matchers use the route `match` keys (category, entity, language, source, tag); KEY=~REGEX matches the
whole value; several values for one key mean any of them. Expired silences stop applying by themselves.
Reads `store.path` from the config. The same functions as the status page and /api/v1/silences
(monitor/views.py).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

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
    from monitor import views
    from monitor.config import load_config
    from monitor.store import open_store

    now = utcnow()
    if args.action == "add":
        try:
            views.parse_silence(args.match, args.duration)
        except ValueError as exc:
            print(f"silence add: {exc}", file=sys.stderr)
            return 2
    config = load_config(args.config)
    store = open_store(config.store_path)
    try:
        if args.action == "add":
            made = views.add_silence(config, store, args.match, args.duration, args.reason, _user(), now)
            print(f"silence {made['id']} added for {made['duration']}")
            return 0
        if args.action == "expire":
            try:
                views.expire_silence(config, store, args.id, now)
            except views.NotFound as exc:
                print(f"silence expire: {exc}", file=sys.stderr)
                return 1
            print(f"silence {args.id} expired")
            return 0
        silences = views.silences(config, store, include_expired=args.all, now=now)
        if not silences:
            print("no active silences" if not args.all else "no silences")
        for s in silences:
            state = "active" if s["active"] else "expired"
            ends = datetime.fromisoformat(s["ends_at"])
            print(f"{s['id']:>4}  {state:<7}  until {ends.strftime('%Y-%m-%d %H:%M')} UTC  {s['matchers']}"
                  + (f"  — {s['reason']}" if s["reason"] else "") + (f"  ({s['created_by']})" if s["created_by"] else ""))
        return 0
    finally:
        store.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
