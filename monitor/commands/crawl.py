"""`newsmon crawl --once [-c config.yaml] [--source ID]`: poll the sources once, store new articles,
classify them, deliver the alerts, print a per-source summary and exit.

Exit 0 when every source was polled; 1 when a source failed or alerts are still pending."""

from __future__ import annotations

import argparse
import logging
import sys

from monitor.logs import redact
from monitor.textutil import table

HELP = "poll the sources once, store and classify new articles, deliver alerts, and exit"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")
    p.add_argument("--once", action="store_true", required=True, help="poll once and exit (the daemon is `newsmon run`)")
    p.add_argument("--source", action="append", metavar="ID", help="poll only this source (repeatable)")
    p.add_argument("--no-alerts", action="store_true", help="store and classify, but do not queue alerts")


def run(args: argparse.Namespace) -> int:
    from monitor.config import load_config
    from monitor.crawl import crawl_once
    from monitor.logs import setup_logging
    from monitor.runtime import Runtime

    config = load_config(args.config)
    setup_logging(config.log.format, config.log.level, verbose=args.verbose)
    try:
        for sid in args.source or []:
            config.source(sid)
    except KeyError as exc:
        print(f"newsmon crawl: {exc.args[0]}", file=sys.stderr)
        return 2
    runtime = Runtime(config, with_alerts=not args.no_alerts)
    try:
        crawl_once(runtime, args.source)
        pending = 0
        if runtime.engine is not None:
            pending = runtime.engine.drain(config.delivery.drain_timeout)
        print_summary(runtime, args.source, pending)
    finally:
        runtime.close()
    failed = any(r.errors for r in runtime.reports.values()) or runtime.store_health.total
    return 1 if failed or pending else 0


def print_summary(runtime, source_ids: list[str] | None, pending: int) -> None:
    ids = source_ids or [s.id for s in runtime.config.sources if s.enabled]
    rows = [["SOURCE", "NEW", "SEEN", "MATCHED", "ALERTS", "ERRORS", "NOTE"]]
    for sid in ids:
        r = runtime.report(sid)
        note = r.errors[-1] if r.errors else ("not modified (304)" if r.not_modified else "")
        if r.article_errors:
            note = (note + "; " if note else "") + f"{r.article_errors} article fetches failed"
        if r.old:
            note = (note + "; " if note else "") + f"{r.old} older than max_age (not alerted)"
        rows.append([sid, str(r.new), str(r.seen), str(r.matched), str(r.alerts), str(len(r.errors)), redact(note)])
    print(table(rows, numeric={1, 2, 3, 4, 5}))
    if runtime.store_health.total:
        print(f"store: {runtime.store_health.total} writes failed ({runtime.store_health.error or 'since recovered'}): "
              "what they held is polled again next time")
    if runtime.engine is not None:
        print(f"alerts still pending delivery: {pending}" if pending else "alerts: all delivered")
