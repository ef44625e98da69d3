"""AlertEngine: enqueue alerts into the outbox (inside the caller's store transaction) and deliver them.

Stages, each separate: `enqueue` turns a classified article into one alert per flagged category, drops
silenced ones, routes the rest and groups them into outbox rows — no network I/O. Delivery runs one
worker thread per channel, so a failing or hanging channel never delays the others; each worker claims
due rows, waits for the channel's rate limit, sends, and records the outcome:
- success: sent (never sent again);
- retryable failure: retried after base x 2^(attempt-1) (capped at backoff_max, with jitter), or after
  the receiver's Retry-After, during which the whole channel pauses;
- permanent failure, or older than `delivery.max_age`, or over `delivery.max_attempts`: dead letter.
A crash between a send and its record leaves the row pending: it is re-sent with the same idempotency
key. Config read: `channels`, `routes`, `delivery` (alerts/config.py).

`drain(timeout)` flushes groups at once — rows still inside their group_wait are sent now — because
`crawl --once` exits afterwards.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from alerts import outbox
from alerts.config import ChannelConfig, ConsoleConfig, DeliveryConfig, RouteConfig, check_references
from alerts.message import Alert, alert_from_article, health_alert
from alerts.registry import Channel, build_channel
from alerts.routing import group_key, route_alert
from alerts.silences import active_silences
from monitor.errors import NotifyError
from monitor.models import Article, Classification
from monitor.store.sqlite import SqliteStore
from monitor.stories import Placement

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AlertEngine:
    def __init__(
        self,
        channels: dict[str, ChannelConfig],
        routes: list[RouteConfig],
        delivery: DeliveryConfig,
        store: SqliteStore,
        *,
        clock: Clock | None = None,
        senders: dict[str, Channel] | None = None,
    ) -> None:
        if not channels:
            channels = {"console": ConsoleConfig(type="console")}
            routes = routes or [RouteConfig(channels=["console"])]
        if not routes:
            routes = [RouteConfig(channels=list(channels))]
        problems = check_references(channels, routes)
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        self.channels = dict(channels)
        self.routes = list(routes)
        # deliveries queued so far to console channels: the pipeline logs a match that the console
        # prints anyway at debug, so that each alert is reported once
        self.console_deliveries = 0
        self.delivery = delivery
        self.store = store
        self.clock: Clock = clock or utcnow
        self.senders: dict[str, Channel] = senders or {
            name: build_channel(name, cfg, delivery.timeout) for name, cfg in channels.items()
        }
        self._intervals = {name: cfg.min_interval for name, cfg in channels.items()}
        self._last_send: dict[str, float] = {}
        self._paused: dict[str, datetime] = {}
        self._workers: dict[str, _Worker] = {}
        self._progress = threading.Condition()

    @classmethod
    def from_config(cls, config: Any, store: SqliteStore) -> AlertEngine:
        return cls(config.channels, config.routes, config.delivery, store)

    # -- enqueue (inside the caller's transaction, no I/O) --------------------------------------------

    def enqueue(
        self,
        conn: sqlite3.Connection,
        *,
        article_id: int,
        article: Article,
        result: Classification,
        source_tags: list[str],
        story_id: int | None,
        now: datetime,
        story: Placement | None = None,
    ) -> int:
        """One alert per flagged category, each carrying the story as it stands with this report.
        Returns the number of (alert, channel) deliveries queued."""
        alerts = [
            alert_from_article(article, result, cat, article_id=article_id, story_id=story_id, source_tags=source_tags)
            for cat in dict.fromkeys(result.categories)
        ]
        if story is not None:
            for a in alerts:
                a.story_categories = list(story.story.categories)
                a.story_new_categories = list(story.new_categories)
                a.story_new_sources = list(story.new_sources)
                a.story_new_languages = list(story.new_languages)
                a.story_sources = list(story.story.sources)
                a.story_languages = list(story.story.languages)
                a.story_articles = story.story.articles
                a.entities = list(dict.fromkeys([*a.entities, *story.story.entities]))
                a.entity = a.entity or (story.story.entities[0] if story.story.entities else None)
        return self._enqueue(conn, alerts, now)

    def enqueue_health(
        self,
        conn: sqlite3.Connection,
        *,
        source_id: str,
        url: str,
        status: str,
        error: str | None,
        errors: int,
        now: datetime,
    ) -> int:
        """A source-health alert (category "source_health") on the normal routes."""
        return self._enqueue(conn, [health_alert(source_id, url, status, error, errors)], now)

    def _enqueue(self, conn: sqlite3.Connection, alerts: list[Alert], now: datetime) -> int:
        silences = active_silences(conn, now)
        queued = 0
        for alert in alerts:
            silence = next((s for s in silences if s.applies(alert, now)), None)
            item_id = outbox.add_item(conn, alert, now, silenced_by=silence.id if silence else None)
            if silence:
                log.info("alert silenced", extra={"silence": silence.id, "category": alert.category, "url": alert.url})
                continue
            targets = route_alert(self.routes, alert)
            if not targets:
                log.debug("alert matched no route", extra={"category": alert.category, "url": alert.url})
            for route_index, channel in targets:
                route = self.routes[route_index]
                outbox.add_to_group(conn, route_index, route, channel, group_key(route, alert), item_id, now)
                queued += 1
                self.console_deliveries += self.channels[channel].type == "console"
        if queued:
            self._wake()
        return queued

    # -- delivery ---------------------------------------------------------------------------------------

    def deliver_due(self, now: datetime | None = None, *, flush: bool = False) -> int:
        """One synchronous pass over every channel: send what is due at `now`. Returns messages sent."""
        sent = 0
        for name in self.channels:
            while True:
                at = now or self.clock()
                paused = self._paused.get(name)
                if paused and paused > at:
                    break
                result = self._deliver_one(name, at, flush)
                if result is None:
                    break
                sent += result
        return sent

    def _deliver_one(self, channel: str, now: datetime, flush: bool, stop: threading.Event | None = None) -> int | None:
        """Claim, send and record one message. None when nothing is due; else 1 if sent, 0 if not."""
        claim = outbox.claim(self.store, channel, now, flush, lease=self._timeout(channel) + 30)
        if claim is None:
            return None
        n = claim.notification
        assert n.id is not None
        if 0 <= claim.route < len(self.routes):  # a reload may have removed the route: UTC then
            n.timezone = self.routes[claim.route].timezone
        limit = self._intervals.get(channel)
        if limit:
            wait = self._last_send.get(channel, 0.0) + limit - time.monotonic()
            if wait > 0:
                (stop or threading.Event()).wait(wait)
        try:
            self.senders[channel].send(n)
        except NotifyError as exc:
            self._failed(channel, claim, exc)
            return 0
        except Exception as exc:  # a bug or an unexpected library error: keep the message, retry later
            log.exception("channel %s: unexpected error sending message %s", channel, n.id)
            self._failed(channel, claim, NotifyError(f"{channel}: unexpected {type(exc).__name__}", retryable=True))
            return 0
        finally:
            # spacing counts from the end of a send, so the receiver never sees two closer than the limit
            self._last_send[channel] = time.monotonic()
            with self._progress:
                self._progress.notify_all()
        outbox.record_sent(self.store, n.id, self.clock())
        if claim.attempts > 1:
            log.info("channel %s: message %s delivered after %d attempts", channel, n.id, claim.attempts,
                     extra={"channel": channel, "attempt": claim.attempts})
        with self._progress:
            self._progress.notify_all()
        return 1

    def _failed(self, channel: str, claim: outbox.Claim, exc: NotifyError) -> None:
        n = claim.notification
        assert n.id is not None
        now = self.clock()
        d = self.delivery
        extra = {"channel": channel, "attempt": claim.attempts}
        if not exc.retryable:
            outbox.record_dead(self.store, n.id, exc.reason, now)
            log.error("channel %s: message %s failed permanently: %s", channel, n.id, exc.reason, extra=extra)
            return
        delay = min(d.backoff_max, d.backoff_base * 2 ** (claim.attempts - 1)) * random.uniform(0.5, 1.0)
        if exc.retry_after is not None:
            delay = max(exc.retry_after, 0.0)
            self._paused[channel] = now + timedelta(seconds=delay)
        next_at = now + timedelta(seconds=delay)
        too_old = next_at - claim.queued_at > timedelta(seconds=d.max_age)
        too_many = d.max_attempts is not None and claim.attempts >= d.max_attempts
        if too_old or too_many:
            why = f"gave up after {claim.attempts} attempt{'s' if claim.attempts != 1 else ''}: {exc.reason}"
            outbox.record_dead(self.store, n.id, why, now)
            log.error("channel %s: message %s %s", channel, n.id, why, extra=extra)
            return
        outbox.record_retry(self.store, n.id, exc.reason, next_at)
        if exc.reason != claim.last_error:  # the same error is logged once, not once per retry
            log.warning("channel %s: message %s will be retried: %s", channel, n.id, exc.reason, extra=extra)

    def _timeout(self, channel: str) -> float:
        return self.channels[channel].timeout or self.delivery.timeout

    def _wake(self) -> None:
        for w in list(self._workers.values()):
            w.wake.set()

    # -- background loop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start one delivery worker per channel (daemon threads)."""
        self._start_workers(flush=False)

    def _start_workers(self, flush: bool) -> dict[str, _Worker]:
        released = outbox.release_dead_leases(self.store, self.clock())
        if released:
            log.info("took back %d messages leased by a process that is gone; retrying them", released)
        started = {}
        for name in self.channels:
            w = self._workers.get(name)
            if w is not None and w.is_alive():
                w.flush = w.flush or flush
                w.wake.set()
                continue
            w = _Worker(self, name, flush)
            self._workers[name] = started[name] = w
            w.start()
        return started

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; a send in progress may finish within `timeout`. Pending rows stay queued."""
        deadline = time.monotonic() + timeout
        for w in self._workers.values():
            w.stopping.set()
            w.wake.set()
        for w in self._workers.values():
            w.join(max(0.0, deadline - time.monotonic()))
        self._workers = {name: w for name, w in self._workers.items() if w.is_alive()}
        s = self.stats()
        log.info(
            "alert delivery stopped: %d sent, %d pending, %d dead",
            sum(c["sent"] for c in s.values()), sum(c["pending"] for c in s.values()), sum(c["dead"] for c in s.values()),
        )

    def drain(self, timeout: float | None = None) -> int:
        """Deliver everything (groups flushed now) until nothing more can be sent before the timeout.
        Returns the number of messages still pending."""
        timeout = self.delivery.drain_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        temporary = self._start_workers(flush=True)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._deliverable_before(self.clock() + timedelta(seconds=remaining)):
                    break
                with self._progress:
                    self._progress.wait(min(remaining, 0.1))
        finally:
            for w in temporary.values():
                w.stopping.set()
                w.wake.set()
            for w in temporary.values():
                w.join(max(0.0, min(1.0, deadline - time.monotonic())))
            for name, w in temporary.items():
                if not w.is_alive():
                    self._workers.pop(name, None)
            for w in self._workers.values():
                w.flush = False
        return outbox.pending_count(self.store)

    def _deliverable_before(self, until: datetime) -> bool:
        for name in self.channels:
            w = self._workers.get(name)
            if w is not None and w.busy:
                return True
            due = outbox.next_due(self.store, name, flush=True)
            paused = self._paused.get(name)
            if due is not None and (paused is None or paused < until) and due <= until:
                return True
        return False

    def stats(self) -> dict[str, dict[str, int]]:
        """channel -> {"sent", "pending", "dead"} counts (every configured channel is listed)."""
        counts = outbox.stats(self.store)
        return {name: counts.get(name, {"sent": 0, "pending": 0, "dead": 0}) for name in {**self.channels, **counts}}


class _Worker(threading.Thread):
    """Delivers one channel's messages, one at a time, until stopped."""

    def __init__(self, engine: AlertEngine, channel: str, flush: bool) -> None:
        super().__init__(name=f"alerts-{channel}", daemon=True)
        self.engine = engine
        self.channel = channel
        self.flush = flush
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.busy = False

    def run(self) -> None:
        e = self.engine
        while not self.stopping.is_set():
            self.wake.clear()
            now = e.clock()
            paused = e._paused.get(self.channel)
            if paused and paused > now:
                self.wake.wait((paused - now).total_seconds())
                continue
            self.busy = True
            try:
                result = e._deliver_one(self.channel, now, self.flush, self.stopping)
            except sqlite3.Error as exc:  # reported once (and as degraded health) by the store
                e.store.health.failed(f"delivering alerts to {self.channel}", exc)
                result = None
                self.stopping.wait(e.delivery.poll_interval)
            finally:
                self.busy = False
                with e._progress:
                    e._progress.notify_all()
            if result is not None:
                continue
            due = outbox.next_due(e.store, self.channel, self.flush)
            wait = e.delivery.poll_interval
            if due is not None:
                wait = max(0.0, min(wait, (due - e.clock()).total_seconds()))
            self.wake.wait(wait)
