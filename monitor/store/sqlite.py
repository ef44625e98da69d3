"""The embedded store: one SQLite file in WAL mode. Config key: `store.path`.

One connection shared by the process's threads behind a lock (the crawl runs in the reactor thread,
delivery in its own); other processes (`newsmon status`) read the same file concurrently thanks to WAL.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime, timezone
from pathlib import Path

from monitor.models import Article, Classification
from monitor.store.base import SourceState, StoredArticle
from monitor.store.schema import migrate


def to_iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.lock = threading.RLock()
        self._depth = 0
        with self.lock:
            self.versions = migrate(self.conn)

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on error). Nested uses join
        the outer transaction, so a caller can store an article and its outbox rows atomically."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # -- articles ------------------------------------------------------------------------------

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """The subset of `urls` already handled (stored as an article, or seen and set aside)."""
        urls = list(dict.fromkeys(urls))
        known: set[str] = set()
        with self.lock:
            for i in range(0, len(urls), 500):
                chunk = urls[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for table in ("seen_urls", "articles"):
                    rows = self.conn.execute(f"SELECT url FROM {table} WHERE url IN ({marks})", chunk)
                    known.update(r[0] for r in rows)
        return known

    def mark_seen(self, url: str, source_id: str, status: str, now: datetime) -> None:
        """Remember a URL that was handled without becoming an article (too old, duplicate, no text)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO seen_urls(url, source_id, status, first_seen) VALUES (?, ?, ?, ?)",
                (url, source_id, status, to_iso(now)),
            )

    def find_by_hash(self, content_hash: str) -> int | None:
        rows = self.query("SELECT id FROM articles WHERE content_hash = ? LIMIT 1", (content_hash,))
        return rows[0][0] if rows else None

    def add_article(
        self,
        conn: sqlite3.Connection,
        article: Article,
        result: Classification | None,
        story_id: int | None = None,
    ) -> int | None:
        """Insert inside the caller's transaction. Returns the new id, or None if the URL is known."""
        cur = conn.execute(
            """INSERT OR IGNORE INTO articles(url, content_hash, source_id, title, text, summary, language,
                   language_source, published, fetched, categories, entities, scores, matches, story_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                article.url,
                article.content_hash,
                article.source_id,
                article.title,
                article.text,
                article.summary,
                article.language,
                article.language_source,
                to_iso(article.published),
                to_iso(article.fetched),
                json.dumps(result.categories if result else []),
                json.dumps(result.entities if result else [], ensure_ascii=False),
                json.dumps(result.scores if result else {}),
                json.dumps([asdict(m) for m in result.matches] if result else [], ensure_ascii=False),
                story_id,
            ),
        )
        return cur.lastrowid if cur.rowcount else None

    def get_article(self, article_id: int) -> StoredArticle | None:
        rows = self.query("SELECT * FROM articles WHERE id = ?", (article_id,))
        return _article(rows[0]) if rows else None

    def count_articles(self) -> int:
        return int(self.query("SELECT count(*) FROM articles")[0][0])

    # -- sources -------------------------------------------------------------------------------

    def source_state(self, source_id: str) -> SourceState:
        rows = self.query("SELECT * FROM source_state WHERE source_id = ?", (source_id,))
        return _state(rows[0]) if rows else SourceState(source_id)

    def all_source_states(self) -> dict[str, SourceState]:
        return {r["source_id"]: _state(r) for r in self.query("SELECT * FROM source_state")}

    def save_source_state(self, state: SourceState) -> None:
        values = {}
        for f in fields(SourceState):
            v = getattr(state, f.name)
            values[f.name] = to_iso(v) if isinstance(v, datetime) else (int(v) if isinstance(v, bool) else v)
        cols = ", ".join(values)
        marks = ", ".join("?" * len(values))
        updates = ", ".join(f"{k} = excluded.{k}" for k in values if k != "source_id")
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO source_state({cols}) VALUES ({marks}) "
                f"ON CONFLICT(source_id) DO UPDATE SET {updates}",
                list(values.values()),
            )


_STATE_TIMES = {"last_poll", "last_success", "next_poll", "last_error_at", "retry_after_until"}


def _state(row: sqlite3.Row) -> SourceState:
    kw = {}
    for f in fields(SourceState):
        v = row[f.name]
        if f.name in _STATE_TIMES:
            v = from_iso(v)
        elif f.name == "health_alerted":
            v = bool(v)
        kw[f.name] = v
    return SourceState(**kw)


def _article(row: sqlite3.Row) -> StoredArticle:
    return StoredArticle(
        id=row["id"],
        url=row["url"],
        source_id=row["source_id"],
        title=row["title"],
        text=row["text"],
        language=row["language"],
        published=from_iso(row["published"]),
        fetched=from_iso(row["fetched"]) or datetime.now(timezone.utc),
        categories=json.loads(row["categories"]),
        entities=json.loads(row["entities"]),
        scores=json.loads(row["scores"]),
        story_id=row["story_id"],
    )


def open_store(path: str | Path) -> SqliteStore:
    return SqliteStore(path)
