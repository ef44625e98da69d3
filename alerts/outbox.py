"""The outbox: alert messages waiting for (or done with) delivery, in the store's SQLite file.

One row per message per channel (alert_outbox), holding a group of alerts (alert_outbox_items).
Grouping, per (route, channel, group key):
- no live group: a new row, due `group_wait` from now (mode "alert");
- a row of the group still open (not yet picked up for sending): the alert joins it;
- the group's last message was due less than `group_interval` ago (or is due in the future): a new
  row, mode "update", due `group_interval` after the last one;
- digest routes: one key per route, wait = interval = `digest` (mode "digest").

A row is closed (no more members) and leased the moment a worker claims it, so its content — and its
idempotency key — never change across retries. Status: pending -> sent | dead. Times are UTC ISO
strings with microseconds (they sort as text).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from alerts.config import RouteConfig
from alerts.message import Alert, Notification
from monitor.store.sqlite import SqliteStore


def ts(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def add_item(conn: sqlite3.Connection, alert: Alert, now: datetime, silenced_by: int | None = None) -> int:
    cur = conn.execute(
        "INSERT INTO alert_items(article_id, kind, category, payload, created, silenced_by) VALUES (?, ?, ?, ?, ?, ?)",
        (alert.article_id, alert.kind, alert.category, json.dumps(alert.to_json(), ensure_ascii=False), ts(now), silenced_by),
    )
    return int(cur.lastrowid or 0)


def add_to_group(
    conn: sqlite3.Connection, route_index: int, route: RouteConfig, channel: str, key: str, item_id: int, now: datetime
) -> int:
    """Put one alert into the right outbox row for this channel; returns the row's id."""
    open_row = conn.execute(
        "SELECT id FROM alert_outbox WHERE channel = ? AND route = ? AND group_key = ? AND open = 1"
        " AND status = 'pending' ORDER BY id LIMIT 1",
        (channel, route_index, key),
    ).fetchone()
    if open_row:
        outbox_id = int(open_row[0])
        conn.execute("INSERT OR IGNORE INTO alert_outbox_items(outbox_id, item_id) VALUES (?, ?)", (outbox_id, item_id))
        conn.execute(
            "UPDATE alert_groups SET alerts = alerts + 1 WHERE route = ? AND channel = ? AND group_key = ?",
            (route_index, channel, key),
        )
        return outbox_id
    wait = route.digest if route.digest is not None else route.group_wait
    interval = route.digest if route.digest is not None else route.group_interval
    group = conn.execute(
        "SELECT last_flush_at, alerts, thread_id, messages FROM alert_groups WHERE route = ? AND channel = ? AND group_key = ?",
        (route_index, channel, key),
    ).fetchone()
    last_flush = parse_ts(group["last_flush_at"]) if group else None
    # A story's group never starts over: a report after a quiet spell updates the story's thread at once.
    # Other groups (category, entity...) start a new alert when the last message is group_interval old.
    story = any(part.startswith("story=") for part in key.split(","))
    if last_flush is not None and (story or now < last_flush + timedelta(seconds=interval)):
        due = max(now, last_flush + timedelta(seconds=interval))
        mode, earlier = ("digest" if route.digest is not None else "update"), int(group["alerts"])
        # (a group from before message numbering has messages = 0: its first update is still number 1)
        seq, thread = max(int(group["messages"] or 0), 1), group["thread_id"] or uuid.uuid4().hex
        conn.execute(
            "UPDATE alert_groups SET last_flush_at = ?, alerts = alerts + 1, messages = ?, thread_id = ?"
            " WHERE route = ? AND channel = ? AND group_key = ?",
            (ts(due), seq + 1, thread, route_index, channel, key),
        )
    else:
        due = now + timedelta(seconds=wait)
        mode, earlier, seq, thread = ("digest" if route.digest is not None else "alert"), 0, 0, uuid.uuid4().hex
        conn.execute(
            "INSERT INTO alert_groups(route, channel, group_key, first_at, last_flush_at, alerts, thread_id, messages)"
            " VALUES (?, ?, ?, ?, ?, 1, ?, 1)"
            " ON CONFLICT(route, channel, group_key) DO UPDATE SET first_at = excluded.first_at,"
            " last_flush_at = excluded.last_flush_at, alerts = 1, thread_id = excluded.thread_id, messages = 1",
            (route_index, channel, key, ts(now), ts(due), thread),
        )
    cur = conn.execute(
        "INSERT INTO alert_outbox(channel, route, group_key, mode, earlier, idempotency_key, created, queued_at,"
        " due_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (channel, route_index, key, mode, earlier, uuid.uuid4().hex, ts(now), ts(now), ts(due), seq),
    )
    outbox_id = int(cur.lastrowid or 0)
    conn.execute("INSERT INTO alert_outbox_items(outbox_id, item_id) VALUES (?, ?)", (outbox_id, item_id))
    return outbox_id


@dataclass
class Claim:
    notification: Notification
    route: int
    attempts: int
    queued_at: datetime
    last_error: str | None


_READY = "status = 'pending' AND channel = ? AND (lease_until IS NULL OR lease_until <= ?)"
OWNER = f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def release_dead_leases(store: SqliteStore, now: datetime) -> int:
    """Leases held by processes of this host that no longer run (a crash, kill -9) are released, so
    their messages are retried now, with the same idempotency key, rather than when the lease expires."""
    host = socket.gethostname()
    rows = store.query(
        "SELECT DISTINCT lease_owner FROM alert_outbox WHERE status = 'pending' AND lease_until > ?"
        " AND lease_owner LIKE ?", (ts(now), f"{host}:%"))
    released = 0
    for (owner,) in rows:
        pid = owner.rsplit(":", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with store.transaction() as conn:
                released += conn.execute(
                    "UPDATE alert_outbox SET lease_until = NULL, lease_owner = NULL"
                    " WHERE status = 'pending' AND lease_owner = ?", (owner,)).rowcount
    return released


def claim(store: SqliteStore, channel: str, now: datetime, flush: bool, lease: float) -> Claim | None:
    """Take the next message due for `channel`: close it to new members and lease it to this worker.
    With `flush`, rows still in their group wait count as due (drain before exit)."""
    due = "COALESCE(next_attempt_at, due_at) <= ?" if not flush else "(next_attempt_at IS NULL OR next_attempt_at <= ?)"
    with store.transaction() as conn:
        row = conn.execute(
            f"SELECT * FROM alert_outbox WHERE {_READY} AND {due} ORDER BY id LIMIT 1",
            (channel, ts(now), ts(now)),
        ).fetchone()
        if row is None:
            return None
        conn.execute(
            "UPDATE alert_outbox SET open = 0, attempts = attempts + 1, lease_until = ?, lease_owner = ?,"
            " last_attempt_at = ? WHERE id = ?",
            (ts(now + timedelta(seconds=lease)), OWNER, ts(now), row["id"]),
        )
        items = conn.execute(
            "SELECT i.payload FROM alert_outbox_items m JOIN alert_items i ON i.id = m.item_id"
            " WHERE m.outbox_id = ? ORDER BY i.id",
            (row["id"],),
        ).fetchall()
        thread_ids = conn.execute(
            "SELECT thread_id FROM alert_groups WHERE route = ? AND channel = ? AND group_key = ?",
            (row["route"], channel, row["group_key"]),
        ).fetchall()
    alerts = [Alert.from_json(json.loads(r[0])) for r in items]
    n = Notification(
        channel=channel,
        alerts=alerts,
        idempotency_key=row["idempotency_key"],
        mode=row["mode"],
        group_key=row["group_key"],
        earlier=row["earlier"],
        seq=row["seq"],
        thread_id=thread_ids[0][0] if thread_ids and thread_ids[0][0] else row["idempotency_key"],
        id=row["id"],
        created=datetime.fromisoformat(row["created"]),
    )
    return Claim(n, row["route"], row["attempts"] + 1, datetime.fromisoformat(row["queued_at"]), row["last_error"])


def record_sent(store: SqliteStore, outbox_id: int, now: datetime) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE alert_outbox SET status = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?",
            (ts(now), outbox_id),
        )


def record_retry(store: SqliteStore, outbox_id: int, reason: str, next_at: datetime) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE alert_outbox SET next_attempt_at = ?, lease_until = NULL, last_error = ? WHERE id = ?",
            (ts(next_at), reason, outbox_id),
        )


def record_dead(store: SqliteStore, outbox_id: int, reason: str, now: datetime) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE alert_outbox SET status = 'dead', dead_at = ?, lease_until = NULL, last_error = ? WHERE id = ?",
            (ts(now), reason, outbox_id),
        )


def next_due(store: SqliteStore, channel: str, flush: bool) -> datetime | None:
    expr = "COALESCE(next_attempt_at, due_at)" if not flush else "COALESCE(next_attempt_at, created)"
    rows = store.query(
        f"SELECT MIN(MAX({expr}, COALESCE(lease_until, ''))) FROM alert_outbox WHERE status = 'pending' AND channel = ?",
        (channel,),
    )
    return parse_ts(rows[0][0]) if rows and rows[0][0] else None


def pending_count(store: SqliteStore) -> int:
    return int(store.query("SELECT count(*) FROM alert_outbox WHERE status = 'pending'")[0][0])


def stats(store: SqliteStore) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in store.query("SELECT channel, status, count(*) FROM alert_outbox GROUP BY channel, status"):
        out.setdefault(row[0], {"sent": 0, "pending": 0, "dead": 0})[row[1]] = int(row[2])
    return out


# What `newsmon alerts list` says of a message: pending ones are "held" (never tried, due later: their
# group_wait or group_interval has not passed), "ready" (due, waiting for a worker: is the daemon
# running?), "sending" (leased by a worker now), "retrying" (tried, failed, waiting for its next attempt);
# then "sent" or "dead".
STATES = ("held", "ready", "sending", "retrying", "sent", "dead")


@dataclass
class OutboxRow:
    id: int
    channel: str
    status: str                     # pending | sent | dead, as stored
    mode: str
    group_key: str
    alerts: int
    title: str
    attempts: int
    created: datetime
    next_attempt: datetime | None   # pending: when it is (or was) due for its next attempt
    last_error: str | None          # dead: the reason
    idempotency_key: str
    state: str = "ready"            # one of STATES, at the time of listing
    due: datetime | None = None     # held/ready/retrying: when due; sending: the lease ends; sent/dead: when
    last_attempt: datetime | None = None
    lease_until: datetime | None = None


def _state(r: sqlite3.Row, now: datetime) -> tuple[str, datetime | None]:
    if r["status"] == "sent":
        return "sent", parse_ts(r["sent_at"])
    if r["status"] == "dead":
        return "dead", parse_ts(r["dead_at"])
    lease = parse_ts(r["lease_until"])
    if lease is not None and lease > now:
        return "sending", lease
    due = parse_ts(r["next_attempt_at"] or r["due_at"])
    if r["attempts"]:
        return "retrying", due
    return ("held" if due is not None and due > now else "ready"), due


def list_rows(store: SqliteStore, status: str | None = None, limit: int = 200,
              now: datetime | None = None) -> list[OutboxRow]:
    """The outbox, newest first (`status`: only pending, sent or dead rows), each with its state at `now`."""
    now = now or datetime.now(timezone.utc)
    where, params = ("WHERE o.status = ?", [status]) if status else ("", [])
    rows = store.query(
        f"""SELECT o.*, count(m.item_id) AS n, min(m.item_id) AS first_item FROM alert_outbox o
            LEFT JOIN alert_outbox_items m ON m.outbox_id = o.id {where}
            GROUP BY o.id ORDER BY o.id DESC LIMIT ?""",
        [*params, limit],
    )
    out = []
    for r in rows:
        first = store.query("SELECT payload FROM alert_items WHERE id = ?", (r["first_item"],))
        title = Alert.from_json(json.loads(first[0][0])).headline if first else ""
        state, due = _state(r, now)
        out.append(
            OutboxRow(
                id=r["id"],
                channel=r["channel"],
                status=r["status"],
                mode=r["mode"],
                group_key=r["group_key"],
                alerts=r["n"],
                title=title,
                attempts=r["attempts"],
                created=datetime.fromisoformat(r["created"]),
                next_attempt=parse_ts(r["next_attempt_at"] or (r["due_at"] if r["status"] == "pending" else None)),
                last_error=r["last_error"],
                idempotency_key=r["idempotency_key"],
                state=state,
                due=due,
                last_attempt=parse_ts(r["last_attempt_at"]),
                lease_until=parse_ts(r["lease_until"]),
            )
        )
    return out


def retry(store: SqliteStore, now: datetime, ids: list[int] | None = None) -> int:
    """Put dead messages back in the queue (all of them when `ids` is None); their age restarts, their
    idempotency key stays. Returns how many were requeued."""
    with store.transaction() as conn:
        sql = "UPDATE alert_outbox SET status = 'pending', next_attempt_at = NULL, lease_until = NULL, queued_at = ?, dead_at = NULL, attempts = 0 WHERE status = 'dead'"
        params: list[object] = [ts(now)]
        if ids is not None:
            sql += f" AND id IN ({','.join('?' * len(ids))})"
            params += ids
        return conn.execute(sql, params).rowcount
