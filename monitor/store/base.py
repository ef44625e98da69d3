"""The store interface: what the pipeline, the scheduler and the CLI need from a database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from monitor.models import Article, Classification


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
