"""Storage for newsmon. `open_store(path)` returns the embedded SQLite store; a server database
can implement the same `Store` protocol later (see monitor/store/base.py)."""

from __future__ import annotations

from monitor.store.base import SourceState, Store, StoredArticle
from monitor.store.sqlite import SqliteStore, open_store

__all__ = ["SourceState", "Store", "StoredArticle", "SqliteStore", "open_store"]
