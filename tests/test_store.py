"""The SQLite store: versioned schema upgraded in place, source state round trip, seen URLs."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from alerts.schema import MIGRATIONS as ALERTS
from monitor.store import SourceState, open_store
from monitor.store.schema import CORE

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def test_new_store_is_at_the_latest_schema(tmp_path: Path) -> None:
    store = open_store(tmp_path / "n.db")
    assert store.versions == {"core": len(CORE), "alerts": len(ALERTS)}
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    store.close()


def test_an_older_database_is_upgraded_in_place_without_losing_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(CORE[0] + ALERTS[0])
    conn.executescript(
        "CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL);"
        "INSERT INTO schema_version VALUES ('core', 1), ('alerts', 1);"
        "INSERT INTO source_state(source_id, etag) VALUES ('bbc', '\"abc\"');"
    )
    conn.commit()
    conn.close()
    store = open_store(path)
    assert store.versions["alerts"] == len(ALERTS) >= 2
    columns = {r[1] for r in store.query("PRAGMA table_info(alert_outbox)")}
    assert "lease_owner" in columns
    assert store.source_state("bbc").etag == '"abc"'
    store.close()


def test_a_database_from_a_newer_newsmon_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    open_store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'core'")
    with pytest.raises(RuntimeError) as info:
        open_store(path)
    assert str(info.value) == f"database schema for 'core' is version 99, newer than this newsmon ({len(CORE)}): upgrade newsmon"


def test_source_state_round_trip_and_seen_urls(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    state = SourceState("heise", etag='"e1"', last_modified="Mon, 23 Nov 2026 11:00:00 GMT", last_success=NOW,
                        consecutive_errors=3, last_error="HTTP 503", retry_after_until=NOW, health_alerted=True)
    store.save_source_state(state)
    assert store.source_state("heise") == state
    assert store.all_source_states() == {"heise": state}
    store.mark_seen("https://a.example/1", "heise", "old", NOW)
    assert store.known_urls(["https://a.example/1", "https://a.example/2"]) == {"https://a.example/1"}
    store.close()
