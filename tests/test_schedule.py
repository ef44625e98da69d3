"""Scheduling decisions: backoff, recovery, Retry-After and jitter (pure functions)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from monitor.schedule import backoff_delay, is_due, jitter_offset, next_check
from monitor.store.base import SourceState

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "errors, expected",
    [(0, 300), (1, 600), (2, 1200), (3, 2400), (6, 3600), (50, 3600)],
    ids=["healthy", "one-error", "two", "three", "capped", "huge-count"],
)
def test_backoff_doubles_per_error_and_is_capped(errors: int, expected: float) -> None:
    assert backoff_delay(300, errors, cap=3600) == expected


def test_cap_never_shortens_the_interval() -> None:
    assert backoff_delay(7200, 3, cap=3600) == 7200


def test_next_check_after_success_failure_and_retry_after() -> None:
    ok = SourceState("a")
    assert next_check(NOW, 300, ok, 3600) == NOW + timedelta(seconds=300)
    failing = SourceState("a", consecutive_errors=2)
    assert next_check(NOW, 300, failing, 3600) == NOW + timedelta(seconds=1200)
    held = SourceState("a", retry_after_until=NOW + timedelta(hours=2))
    assert next_check(NOW, 300, held, 3600) == NOW + timedelta(hours=2)


@pytest.mark.parametrize(
    "state, due",
    [
        (SourceState("a"), True),
        (SourceState("a", next_poll=NOW + timedelta(minutes=5)), False),
        (SourceState("a", next_poll=NOW - timedelta(seconds=1)), True),
        (SourceState("a", next_poll=NOW + timedelta(milliseconds=500)), True),
        (SourceState("a", retry_after_until=NOW + timedelta(seconds=30)), False),
    ],
    ids=["never-polled", "backing-off", "due", "within-a-second", "retry-after"],
)
def test_is_due(state: SourceState, due: bool) -> None:
    assert is_due(NOW, state) is due


def test_jitter_is_stable_and_bounded() -> None:
    offsets = {jitter_offset(f"source-{i}", 600, 0.1) for i in range(50)}
    assert all(0 <= o < 60 for o in offsets)
    assert len(offsets) > 40, "sources spread out"
    assert jitter_offset("x", 600, 0.1) == jitter_offset("x", 600, 0.1)
    assert jitter_offset("x", 600, 0) == 0
