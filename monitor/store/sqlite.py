"""The embedded store: one SQLite file in WAL mode. Config key: `store.path`.

One connection shared by the process's threads behind a lock (the crawl runs in the reactor thread,
delivery in its own); other processes (`newsmon status`) read the same file concurrently thanks to WAL.
The read queries are written once, in `StoreReads`: both this writer (`SqliteStore`) and `ReadOnlyStore`
(the status page's and the API's read-only connection) inherit them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from monitor.errors import StoreError
from monitor.models import Article, Classification
from monitor.store.base import PendingEntry, SourceState, StoredArticle, StoreHealth
from monitor.store.schema import migrate

BUSY_TIMEOUT = 2.0  # seconds


def to_iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class StoreReads:
    """The read queries, on `self.conn` behind `self.lock`: what `SqliteStore` and `ReadOnlyStore` share."""

    conn: sqlite3.Connection
    lock: threading.RLock

    def query(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

    def pending_counts(self) -> dict[str, int]:
        """Per source, how many entries are queued for their page."""
        return {r[0]: r[1] for r in self.query("SELECT source_id, count(*) FROM pending_articles GROUP BY source_id")}

    def find_by_hash(self, content_hash: str) -> int | None:
        rows = self.query("SELECT id FROM articles WHERE content_hash = ? LIMIT 1", (content_hash,))
        return rows[0][0] if rows else None

    def get_article(self, article_id: int) -> StoredArticle | None:
        rows = self.query("SELECT * FROM articles WHERE id = ?", (article_id,))
        return _article(rows[0]) if rows else None

    def count_articles(self) -> int:
        return int(self.query("SELECT count(*) FROM articles")[0][0])

    def source_state(self, source_id: str) -> SourceState:
        rows = self.query("SELECT * FROM source_state WHERE source_id = ?", (source_id,))
        return _state(rows[0]) if rows else SourceState(source_id)

    def all_source_states(self) -> dict[str, SourceState]:
        return {r["source_id"]: _state(r) for r in self.query("SELECT * FROM source_state")}


class SqliteStore(StoreReads):
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store {self.path}: cannot create its directory: {exc.strerror}") from None
        # A writer waits this long for another process's lock, then fails (and the crawl says so once)
        # rather than holding up the reactor for sqlite's default 30 s per write.
        try:
            self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                        timeout=BUSY_TIMEOUT)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
            self.lock = threading.RLock()
            self._depth = 0
            self.health = StoreHealth()
            with self.lock:
                self.versions = migrate(self.conn)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: cannot open: {exc}{_open_hint(str(exc))}") from None
        self.identity = self.file_identity()

    def file_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the database file; None when it is gone (or for :memory:)."""
        if self.path == ":memory:":
            return None
        try:
            st = Path(self.path).stat()
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def vanished(self) -> bool:
        """The file this store writes to was deleted or replaced while open: sqlite would go on writing
        to the unlinked file, and everything stored since would be lost at the next start."""
        return self.path != ":memory:" and self.file_identity() != self.identity

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
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                self.conn.execute("COMMIT")
            except BaseException:  # disk full, I/O error: never leave the connection inside a transaction
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # -- articles ------------------------------------------------------------------------------

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """The subset of `urls` already handled (stored as an article, or seen and set aside)."""
        return self._present(urls, ("seen_urls", "articles"))

    def _present(self, urls: Iterable[str], tables: tuple[str, ...]) -> set[str]:
        urls = list(dict.fromkeys(urls))
        found: set[str] = set()
        with self.lock:
            for i in range(0, len(urls), 500):
                chunk = urls[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for table in tables:
                    rows = self.conn.execute(f"SELECT url FROM {table} WHERE url IN ({marks})", chunk)
                    found.update(r[0] for r in rows)
        return found

    def mark_seen(self, url: str, source_id: str, status: str, now: datetime) -> None:
        """Remember a URL that was handled without becoming an article (too old, duplicate, no text).
        A queued entry for it leaves the queue in the same transaction."""
        with self.transaction() as conn:
            self.set_aside(conn, url, source_id, status, now)

    def set_aside(self, conn: sqlite3.Connection, url: str, source_id: str, status: str, now: datetime) -> None:
        """`mark_seen` inside the caller's transaction."""
        conn.execute(
            "INSERT OR IGNORE INTO seen_urls(url, source_id, status, first_seen) VALUES (?, ?, ?, ?)",
            (url, source_id, status, to_iso(now)),
        )
        conn.execute("DELETE FROM pending_articles WHERE url = ?", (url,))

    # -- the queue between discovery and storage -------------------------------------------------

    def unqueued_urls(self, urls: Iterable[str]) -> set[str]:
        """The subset of `urls` neither handled nor already queued: what a poll has to queue."""
        urls = list(dict.fromkeys(urls))
        known = self._present(urls, ("seen_urls", "articles", "pending_articles"))
        return {u for u in urls if u not in known}

    def queue_entries(self, conn: sqlite3.Connection, entries: Iterable[PendingEntry], now: datetime) -> int:
        """Queue entries inside the caller's transaction (the one that advances the source's validators).
        An entry already queued keeps its attempts. Returns how many rows were added."""
        added = 0
        stamp = to_iso(now)
        for e in entries:
            body = {"title": e.title, "published": to_iso(e.published), "language": e.language,
                    "summary": e.summary, "text": e.text, "fetch": e.fetch}
            cur = conn.execute(
                "INSERT OR IGNORE INTO pending_articles(url, source_id, entry, sort_key, first_seen, next_try) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (e.url, e.source_id, json.dumps(body, ensure_ascii=False), to_iso(e.published) or stamp, stamp, stamp),
            )
            added += cur.rowcount
        return added

    def due_entries(self, source_id: str, now: datetime, limit: int, exclude: set[str]) -> list[PendingEntry]:
        """Queued entries of a source whose next try is due, newest story first, skipping `exclude`
        (URLs already in flight)."""
        rows = self.query(
            "SELECT * FROM pending_articles WHERE source_id = ? AND next_try <= ? "
            "ORDER BY attempts, sort_key DESC LIMIT ?",
            (source_id, to_iso(now), limit + len(exclude)),
        )
        out = []
        for r in rows:
            if r["url"] in exclude:
                continue
            body = json.loads(r["entry"])
            out.append(PendingEntry(
                url=r["url"], source_id=r["source_id"], title=body.get("title") or "",
                published=from_iso(body.get("published")), language=body.get("language"),
                summary=body.get("summary") or "", text=body.get("text") or "", fetch=bool(body.get("fetch")),
                attempts=r["attempts"], first_seen=from_iso(r["first_seen"]), last_error=r["last_error"],
            ))
        return out[:limit]

    def entry_failed(self, url: str, reason: str, now: datetime, backoff: Callable[[int], float]) -> int:
        """Count a failed attempt; the next one is due `backoff(attempts)` seconds from now. Returns the
        attempts so far (0: the URL is not queued)."""
        with self.transaction() as conn:
            row = conn.execute(
                "UPDATE pending_articles SET attempts = attempts + 1, last_error = ? WHERE url = ? RETURNING attempts",
                (reason, url),
            ).fetchone()
            if row is None:
                return 0
            attempts = int(row[0])
            conn.execute("UPDATE pending_articles SET next_try = ? WHERE url = ?",
                         (to_iso(now + timedelta(seconds=backoff(attempts))), url))
        return attempts

    def drop_entry(self, conn: sqlite3.Connection, url: str) -> None:
        """Inside the caller's transaction: the entry's article is stored (or set aside)."""
        conn.execute("DELETE FROM pending_articles WHERE url = ?", (url,))

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

    # -- sources (reading them: StoreReads) ------------------------------------------------------

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


def _open_hint(message: str) -> str:
    if "readonly" in message:
        return " (the file or its directory is read-only: newsmon writes the database and its -wal/-shm files)"
    if "unable to open" in message:
        return " (does its directory exist, and may newsmon write there?)"
    if "locked" in message:
        return " (another process holds a write lock on it)"
    if "not a database" in message:
        return " (the file is not a SQLite database: check store.path)"
    return ""


def open_store(path: str | Path) -> SqliteStore:
    return SqliteStore(path)


class ReadOnlyStore(StoreReads):
    """The reads of `StoreReads` (and `conn` for the views' SELECTs) on a read-only connection
    (`open_readonly`): never writes, never upgrades the schema. Raises StoreError like it."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.conn = open_readonly(path, require="articles")
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def open_readonly(path: str | Path, require: str | None = None) -> sqlite3.Connection:
    """A read-only connection that writes nothing: not the database, not its schema, and no -wal or
    -shm file when none exists (a store closed cleanly is read as immutable; while a daemon has it
    open, the read goes through its WAL like any other reader's). `require`: a table the store must
    have. Raises StoreError (a missing file is never created)."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"store {path}: no such file (nothing stored yet? check store.path)")
    wal = path.with_name(path.name + "-wal")
    uri = path.resolve().as_uri() + ("?mode=ro" if wal.exists() else "?mode=ro&immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT)
        conn.row_factory = sqlite3.Row
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise StoreError(f"store {path}: cannot read: {exc}{_open_hint(str(exc))}") from None
    if require is not None and require not in tables:
        conn.close()
        raise StoreError(f"store {path}: not a newsmon store (no {require} table): check store.path")
    return conn
