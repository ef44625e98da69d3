"""`newsmon status [-c config.yaml] [--format text|json]`: sources (last poll, next poll, new articles,
entries queued for their page, consecutive errors, last error) and the alert outbox, read from the store — works while the daemon runs.
The first line says whether a daemon runs on the store (pid, since when, its health URL); when none does,
NEXT POLL is "-". The same data as the status page and /api/v1/sources (monitor/views.py, which masks the
config's secrets in source URLs and errors)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from monitor.textutil import table
from monitor.views import ago, next_poll_text

HELP = "show each source's polling state and the alert outbox"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")
    p.add_argument("--format", choices=["text", "json"], default="text")


def run(args: argparse.Namespace) -> int:
    from monitor import views
    from monitor.config import load_config
    from monitor.store import open_store

    config = load_config(args.config)
    store = open_store(config.store_path)
    try:
        now = datetime.now(timezone.utc)
        daemon = views.daemon(config)
        sources = views.sources(config, store, now)
        out = views.outbox(store, now)
    finally:
        store.close()
    channels, oldest = out["channels"], out["oldest_pending"]

    if args.format == "json":
        print(json.dumps({"daemon": daemon, "sources": sources, "outbox": channels, "oldest_pending": oldest},
                         indent=2))
        return 0
    print(views.daemon_text(daemon, now))
    rows = [["SOURCE", "TYPE", "LAST POLL", "NEXT POLL", "NEW 24H", "ARTICLES", "QUEUED", "ERRORS", "LAST ERROR"]]
    for s in sources:
        rows.append([
            s["id"] + ("" if s["enabled"] else " (disabled)"), s["type"],
            ago(datetime.fromisoformat(s["last_poll"]) if s["last_poll"] else None, now),
            next_poll_text(s["next_poll"], now, daemon["running"]),
            str(s["new_24h"]), str(s["articles"]), str(s["queued"]), str(s["consecutive_errors"]),
            s["last_error"] or "",
        ])
    print(table(rows) if sources else "no sources configured")
    print()
    out_rows = [["CHANNEL", "SENT", "PENDING", "DEAD"]]
    for name, c in channels.items():
        out_rows.append([name, str(c.get("sent", 0)), str(c.get("pending", 0)), str(c.get("dead", 0))])
    print(table(out_rows) if len(out_rows) > 1 else "outbox: empty")
    if oldest:
        print(f"oldest pending alert queued {ago(datetime.fromisoformat(oldest), now)}")
    return 0
