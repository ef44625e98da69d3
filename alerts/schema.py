"""Schema of the alert tables (outbox, dead letters, groups, silences), applied by monitor.store.

Append-only: each entry is one migration; never edit an entry that has shipped, add a new one.

- alert_items: one alert (an article in one flagged category, or a source-health event), its rendered
  facts as JSON; `silenced_by` is set when a silence suppressed it.
- alert_outbox: one message for one channel: a group of alert_items (alert_outbox_items). Dead letters
  are rows with status 'dead' and the reason in last_error. Times are UTC ISO-8601 with microseconds, so
  they sort as text.
- alert_groups: grouping state per (route, channel, group key): when the last message of the group was
  due, and how many alerts the group has carried.
- alert_silences: matchers (JSON) that suppress alerts between starts_at and ends_at.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: outbox, groups, silences
    """
    CREATE TABLE alert_items (
        id          INTEGER PRIMARY KEY,
        article_id  INTEGER,
        kind        TEXT NOT NULL,
        category    TEXT NOT NULL,
        payload     TEXT NOT NULL,
        created     TEXT NOT NULL,
        silenced_by INTEGER
    );
    CREATE INDEX alert_items_article ON alert_items(article_id);
    CREATE TABLE alert_outbox (
        id              INTEGER PRIMARY KEY,
        channel         TEXT NOT NULL,
        route           INTEGER NOT NULL,
        group_key       TEXT NOT NULL,
        mode            TEXT NOT NULL,
        earlier         INTEGER NOT NULL DEFAULT 0,
        idempotency_key TEXT NOT NULL UNIQUE,
        status          TEXT NOT NULL DEFAULT 'pending',
        open            INTEGER NOT NULL DEFAULT 1,
        created         TEXT NOT NULL,
        queued_at       TEXT NOT NULL,
        due_at          TEXT NOT NULL,
        next_attempt_at TEXT,
        lease_until     TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0,
        last_attempt_at TEXT,
        last_error      TEXT,
        sent_at         TEXT,
        dead_at         TEXT
    );
    CREATE INDEX alert_outbox_status ON alert_outbox(status, channel, due_at);
    CREATE INDEX alert_outbox_group ON alert_outbox(channel, route, group_key, open);
    CREATE TABLE alert_outbox_items (
        outbox_id INTEGER NOT NULL REFERENCES alert_outbox(id) ON DELETE CASCADE,
        item_id   INTEGER NOT NULL REFERENCES alert_items(id),
        PRIMARY KEY (outbox_id, item_id)
    ) WITHOUT ROWID;
    CREATE TABLE alert_groups (
        route         INTEGER NOT NULL,
        channel       TEXT NOT NULL,
        group_key     TEXT NOT NULL,
        first_at      TEXT NOT NULL,
        last_flush_at TEXT NOT NULL,
        alerts        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (route, channel, group_key)
    ) WITHOUT ROWID;
    CREATE TABLE alert_silences (
        id         INTEGER PRIMARY KEY,
        matchers   TEXT NOT NULL,
        starts_at  TEXT NOT NULL,
        ends_at    TEXT NOT NULL,
        reason     TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE INDEX alert_silences_ends ON alert_silences(ends_at);
    """,
    # 2: who holds a lease ("host:pid"), so a restart after a crash (kill -9 mid-send) can take back
    # the leases of its dead predecessor at once instead of waiting for them to expire
    """
    ALTER TABLE alert_outbox ADD COLUMN lease_owner TEXT;
    """,
    # 3: message threads: `seq` numbers a group's messages (0: the first alert, n: the n-th update);
    # `thread_id` names the group's thread on its channel (email's Message-ID root); `messages` counts them
    """
    ALTER TABLE alert_outbox ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE alert_groups ADD COLUMN thread_id TEXT;
    ALTER TABLE alert_groups ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
    """,
]
