"""The store interface: what the pipeline, the scheduler and the CLI need from a database."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from monitor.models import Article, Classification

log = logging.getLogger(__name__)


@dataclass
class SourceState:
    """Per-source polling state, kept across restarts."""

    source_id: str
    etag: str | None = None
    last_modified: str | None = None
    last_poll: datetime | None = None
    last_success: datetime | None = None
    next_poll: datetime | None = None
    consecutive_errors: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    retry_after_until: datetime | None = None
    polls: int = 0
    not_modified: int = 0
    health_alerted: bool = False


class StoreHealth:
    """Store failures (locked by another process, read-only, disk full) as the crawl meets them: one error
    line when they start and one when they end, a counter, and a `degraded` health state in between,
    instead of a traceback per write. Thread-safe (delivery threads report here too)."""

    RELOG_EVERY = 600.0  # seconds: a failure that lasts is logged again this often, with the count

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.error: str | None = None
        self.since: float | None = None   # time.monotonic() of the first failure of the current run
        self.last_failure = 0.0
        self.failures = 0                 # writes failed since the current run of failures started
        self.total = 0
        self._logged = 0.0
        self.on_failure = None            # callable(), set by the daemon (metrics)

    @property
    def degraded(self) -> bool:
        return self.error is not None

    def failed(self, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            message = f"{type(exc).__name__}: {exc}"
            first = self.error is None
            self.error, self.last_failure = message, now
            self.failures += 1
            self.total += 1
            if first:
                self.since = now
            relog = first or now - self._logged >= self.RELOG_EVERY
            if relog:
                self._logged = now
            failures = self.failures
        if self.on_failure is not None:
            self.on_failure()
        if relog:
            log.error("store: cannot write (%s, while %s)%s: nothing is stored until this is fixed; "
                      "polled entries are fetched again once it is", message, what,
                      "" if first else f"; {failures} writes failed so far",
                      extra={"error": message})

    def ok(self) -> None:
        if self.error is None:
            return
        with self._lock:
            if self.error is None:
                return
            lasted = time.monotonic() - (self.since or time.monotonic())
            failures, self.error, self.since, self.failures = self.failures, None, None, 0
        log.warning("store: writes succeed again after %.0fs and %d failed writes", lasted, failures)


@dataclass
class PendingEntry:
    """An entry a poll discovered, durably queued until its article is stored (see schema 2).

    `text` is the entry's own body when it is long enough to classify without the page (`fetch` False);
    otherwise the page is fetched and `summary` is the fallback if the page never yields a text."""

    url: str
    source_id: str
    title: str = ""
    published: datetime | None = None
    language: str | None = None
    summary: str = ""
    text: str = ""
    fetch: bool = True
    attempts: int = 0
    first_seen: datetime | None = None
    last_error: str | None = None


@dataclass
class StoredArticle:
    id: int
    url: str
    source_id: str
    title: str
    text: str
    language: str | None
    published: datetime | None
    fetched: datetime
    categories: list[str]
    entities: list[str]
    scores: dict[str, float]
    story_id: int | None


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...
    def close(self) -> None: ...
    # articles
    def known_urls(self, urls: Iterable[str]) -> set[str]: ...
    def mark_seen(self, url: str, source_id: str, status: str, now: datetime) -> None: ...
    def find_by_hash(self, content_hash: str) -> int | None: ...
    def add_article(
        self, conn: sqlite3.Connection, article: Article, result: Classification | None, story_id: int | None
    ) -> int | None: ...
    def get_article(self, article_id: int) -> StoredArticle | None: ...
    def count_articles(self) -> int: ...
    # sources
    def source_state(self, source_id: str) -> SourceState: ...
    def all_source_states(self) -> dict[str, SourceState]: ...
    def save_source_state(self, state: SourceState) -> None: ...
    # entries queued between discovery and storage
    def unqueued_urls(self, urls: Iterable[str]) -> set[str]: ...
    def queue_entries(self, conn: sqlite3.Connection, entries: Iterable[PendingEntry], now: datetime) -> int: ...
    def due_entries(self, source_id: str, now: datetime, limit: int, exclude: set[str]) -> list[PendingEntry]: ...
    def entry_failed(self, url: str, reason: str, now: datetime, backoff: Callable[[int], float]) -> int: ...
    def drop_entry(self, conn: sqlite3.Connection, url: str) -> None: ...
    def set_aside(self, conn: sqlite3.Connection, url: str, source_id: str, status: str, now: datetime) -> None: ...
    def pending_counts(self) -> dict[str, int]: ...
