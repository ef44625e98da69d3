"""`newsmon status [-c config.yaml] [--format text|json]`: sources (last poll, next poll, new articles,
entries queued for their page, consecutive errors, last error) and the alert outbox, read from the store — works while the daemon runs."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

from monitor.logs import redact
from monitor.textutil import table

HELP = "show each source's polling state and the alert outbox"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")
    p.add_argument("--format", choices=["text", "json"], default="text")


def ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{seconds // size}{unit}"
            break
    else:
        text = f"{seconds}s"
    return f"in {text}" if future else f"{text} ago"


def next_poll_text(next_poll: str | None, now: datetime) -> str:
    if not next_poll:
        return "-"
    when = datetime.fromisoformat(next_poll)
    return "due" if when <= now else ago(when, now)


def run(args: argparse.Namespace) -> int:
    from alerts import outbox
    from monitor.config import load_config
    from monitor.store import open_store

    config = load_config(args.config)
    store = open_store(config.store_path)
    try:
        now = datetime.now(timezone.utc)
        states = store.all_source_states()
        day_ago = (now - timedelta(days=1)).isoformat(timespec="seconds")
        new_24h = dict(store.query("SELECT source_id, count(*) FROM articles WHERE fetched >= ? GROUP BY source_id",
                                   (day_ago,)))
        total = dict(store.query("SELECT source_id, count(*) FROM articles GROUP BY source_id"))
        queued = store.pending_counts()
        sources = []
        for s in config.sources:
            st = states.get(s.id)
            sources.append({
                "id": s.id, "type": s.type, "enabled": s.enabled,
                "last_poll": st.last_poll.isoformat() if st and st.last_poll else None,
                "last_success": st.last_success.isoformat() if st and st.last_success else None,
                "next_poll": st.next_poll.isoformat() if st and st.next_poll else None,
                "new_24h": new_24h.get(s.id, 0), "articles": total.get(s.id, 0), "queued": queued.get(s.id, 0),
                "consecutive_errors": st.consecutive_errors if st else 0,
                "last_error": st.last_error if st and st.consecutive_errors else None,
            })
        channels = outbox.stats(store)
        oldest = store.query("SELECT min(created) FROM alert_outbox WHERE status = 'pending'")[0][0]
    finally:
        store.close()

    if args.format == "json":
        print(redact(json.dumps({"sources": sources, "outbox": channels, "oldest_pending": oldest}, indent=2)))
        return 0
    rows = [["SOURCE", "TYPE", "LAST POLL", "NEXT POLL", "NEW 24H", "ARTICLES", "QUEUED", "ERRORS", "LAST ERROR"]]
    for s in sources:
        rows.append([
            s["id"] + ("" if s["enabled"] else " (disabled)"), s["type"],
            ago(datetime.fromisoformat(s["last_poll"]) if s["last_poll"] else None, now),
            next_poll_text(s["next_poll"], now),
            str(s["new_24h"]), str(s["articles"]), str(s["queued"]), str(s["consecutive_errors"]),
            redact(s["last_error"] or ""),
        ])
    print(table(rows) if sources else "no sources configured")
    print()
    out = [["CHANNEL", "SENT", "PENDING", "DEAD"]]
    for name, c in sorted(channels.items()):
        out.append([name, str(c.get("sent", 0)), str(c.get("pending", 0)), str(c.get("dead", 0))])
    print(table(out) if len(out) > 1 else "outbox: empty")
    if oldest:
        print(f"oldest pending alert queued {ago(datetime.fromisoformat(oldest), now)}")
    return 0
