"""Silences: matchers that suppress alerts for a while (`newsmon silence add/list/expire`).

A silence applies from `starts_at` until `ends_at`; an expired one stops applying by itself (nothing to
clean up). Silences are checked when an alert is enqueued: a silenced alert is recorded with the
silence's id and never reaches the outbox.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.message import Alert
from alerts.outbox import ts
from alerts.routing import matches
from monitor.store.sqlite import SqliteStore


@dataclass
class Silence:
    id: int
    match: dict[str, str | list[str]]
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def applies(self, alert: Alert, now: datetime) -> bool:
        return self.active(now) and matches(self.match, alert)

    @property
    def matchers(self) -> str:
        parts = []
        for key, value in self.match.items():
            parts += [f"{key}={v}" for v in (value if isinstance(value, list) else [value])]
        return " ".join(parts)


def _silence(row: sqlite3.Row) -> Silence:
    return Silence(
        id=row["id"],
        match=json.loads(row["matchers"]),
        starts_at=datetime.fromisoformat(row["starts_at"]),
        ends_at=datetime.fromisoformat(row["ends_at"]),
        reason=row["reason"],
        created_by=row["created_by"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def add_silence(
    store: SqliteStore,
    match: dict[str, str | list[str]],
    duration: timedelta,
    now: datetime,
    reason: str = "",
    created_by: str = "",
) -> int:
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO alert_silences(matchers, starts_at, ends_at, reason, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (json.dumps(match, ensure_ascii=False), ts(now), ts(now + duration), reason, created_by, ts(now)),
        )
        return int(cur.lastrowid or 0)


def list_silences(store: SqliteStore, now: datetime, include_expired: bool = False) -> list[Silence]:
    if include_expired:
        rows = store.query("SELECT * FROM alert_silences ORDER BY id")
    else:
        rows = store.query("SELECT * FROM alert_silences WHERE ends_at > ? ORDER BY id", (ts(now),))
    return [_silence(r) for r in rows]


def expire_silence(store: SqliteStore, silence_id: int, now: datetime) -> bool:
    """End a silence now. False if there is no such silence or it had already ended."""
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE alert_silences SET ends_at = ? WHERE id = ? AND ends_at > ?", (ts(now), silence_id, ts(now))
        )
        return cur.rowcount > 0


def active_silences(conn: sqlite3.Connection, now: datetime) -> list[Silence]:
    rows = conn.execute(
        "SELECT * FROM alert_silences WHERE starts_at <= ? AND ends_at > ?", (ts(now), ts(now))
    ).fetchall()
    return [_silence(r) for r in rows]
