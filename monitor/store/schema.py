"""Versioned schema. Each component keeps an append-only list of migrations; `migrate()` applies the
ones a database has not seen yet, in one transaction per step, so an upgrade never needs a hand-run
migration. Versions are recorded per component in `schema_version`."""

from __future__ import annotations

import sqlite3

CORE: list[str] = [
    # 1: articles, URLs already handled, per-source state, stories (clusters of articles)
    """
    CREATE TABLE articles (
        id              INTEGER PRIMARY KEY,
        url             TEXT NOT NULL UNIQUE,
        content_hash    TEXT NOT NULL,
        source_id       TEXT NOT NULL,
        title           TEXT NOT NULL,
        text            TEXT NOT NULL,
        summary         TEXT NOT NULL DEFAULT '',
        language        TEXT,
        language_source TEXT,
        published       TEXT,
        fetched         TEXT NOT NULL,
        categories      TEXT NOT NULL DEFAULT '[]',
        entities        TEXT NOT NULL DEFAULT '[]',
        scores          TEXT NOT NULL DEFAULT '{}',
        matches         TEXT NOT NULL DEFAULT '[]',
        story_id        INTEGER
    );
    CREATE INDEX articles_hash ON articles(content_hash);
    CREATE INDEX articles_source ON articles(source_id, fetched);
    CREATE INDEX articles_story ON articles(story_id);
    CREATE TABLE seen_urls (
        url        TEXT PRIMARY KEY,
        source_id  TEXT NOT NULL,
        status     TEXT NOT NULL,
        first_seen TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE source_state (
        source_id          TEXT PRIMARY KEY,
        etag               TEXT,
        last_modified      TEXT,
        last_poll          TEXT,
        last_success       TEXT,
        next_poll          TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        last_error         TEXT,
        last_error_at      TEXT,
        retry_after_until  TEXT,
        polls              INTEGER NOT NULL DEFAULT 0,
        not_modified       INTEGER NOT NULL DEFAULT 0,
        health_alerted     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE stories (
        id         INTEGER PRIMARY KEY,
        entity     TEXT,
        categories TEXT NOT NULL DEFAULT '[]',
        title      TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL,
        articles   INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX stories_last_seen ON stories(last_seen);
    """,
    # 2: entries discovered in a feed, sitemap or listing but not stored yet. A source's conditional-GET
    # validators advance only in the transaction that queues its new entries here, and a row leaves the
    # queue only in the transaction that stores (or deliberately sets aside) its article: a crash, a
    # transient error or a poll cap can delay an entry, never lose it.
    """
    CREATE TABLE pending_articles (
        url        TEXT PRIMARY KEY,
        source_id  TEXT NOT NULL,
        entry      TEXT NOT NULL,
        sort_key   TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        next_try   TEXT NOT NULL,
        last_error TEXT
    ) WITHOUT ROWID;
    CREATE INDEX pending_due ON pending_articles(source_id, next_try);
    """,
    # 3: stories that grow across outlets and languages (monitor/stories.py). A story keeps its
    # entities, sources, languages and the names and numbers its reports mention (`names`, the
    # signature that joins reports without a watchlist entity); `merged_into` is set when a story was
    # merged by hand. An article that is a near-copy of another (syndication, re-publication, small
    # edits) has `copy_of`; near-copies are found through MinHash LSH bands kept in article_bands.
    """
    ALTER TABLE stories ADD COLUMN entities TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE stories ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE stories ADD COLUMN languages TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE stories ADD COLUMN names TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE stories ADD COLUMN merged_into INTEGER;
    ALTER TABLE articles ADD COLUMN copy_of INTEGER;
    CREATE TABLE article_bands (
        band       INTEGER NOT NULL,
        article_id INTEGER NOT NULL,
        created    TEXT NOT NULL,
        PRIMARY KEY (band, article_id)
    ) WITHOUT ROWID;
    CREATE INDEX article_bands_created ON article_bands(created);
    CREATE TABLE article_minhash (
        article_id INTEGER PRIMARY KEY,
        minhash    BLOB NOT NULL
    );
    """,
]


def components() -> dict[str, list[str]]:
    from alerts.schema import MIGRATIONS as ALERTS

    return {"core": CORE, "alerts": ALERTS}


def migrate(conn: sqlite3.Connection) -> dict[str, int]:
    """Bring every component's tables up to date. Returns component -> version now in force."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    versions: dict[str, int] = {}
    for name, steps in components().items():
        row = conn.execute("SELECT version FROM schema_version WHERE component = ?", (name,)).fetchone()
        current = row[0] if row else 0
        if current > len(steps):
            raise RuntimeError(
                f"database schema for {name!r} is version {current}, newer than this newsmon "
                f"({len(steps)}): upgrade newsmon"
            )
        for version in range(current + 1, len(steps) + 1):
            # executescript commits; run each step as an explicit transaction so a failure rolls back
            conn.executescript(
                "BEGIN;\n"
                + steps[version - 1]
                + f"\nINSERT INTO schema_version(component, version) VALUES ('{name}', {version})"
                f" ON CONFLICT(component) DO UPDATE SET version = excluded.version;\nCOMMIT;"
            )
        versions[name] = len(steps)
    return versions
