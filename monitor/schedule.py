"""When is a source due? Pure functions: `now` is always passed in.

A healthy source is polled every `interval` (or on its `cron`), spread by a deterministic per-source
jitter so sources configured alike don't fire together. A failing source backs off:
interval x 2^errors, capped at `crawl.backoff_max`, and recovers by itself on its next success.
A Retry-After from the site holds the source until that time.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from monitor.store.base import SourceState


def jitter_offset(source_id: str, interval: float, fraction: float) -> float:
    """A stable offset in [0, fraction x interval) seconds, derived from the source id."""
    if fraction <= 0:
        return 0.0
    return (zlib.crc32(source_id.encode()) % 10_000) / 10_000 * fraction * interval


def backoff_delay(interval: float, errors: int, cap: float) -> float:
    """Seconds to wait after `errors` consecutive failures (0 errors: the plain interval)."""
    if errors <= 0:
        return interval
    return min(interval * (2 ** min(errors, 30)), max(cap, interval))


def next_check(now: datetime, interval: float, state: SourceState, backoff_max: float) -> datetime:
    """The earliest time the source should be polled again, given the poll that just ended at `now`."""
    when = now + timedelta(seconds=backoff_delay(interval, state.consecutive_errors, backoff_max))
    if state.retry_after_until and state.retry_after_until > when:
        when = state.retry_after_until
    return when


def is_due(now: datetime, state: SourceState) -> bool:
    """Whether a scheduled firing should poll now, or skip because the source is backing off."""
    if state.retry_after_until and now < state.retry_after_until:
        return False
    return state.next_poll is None or now >= state.next_poll - timedelta(seconds=1)
