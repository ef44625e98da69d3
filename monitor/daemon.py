"""The daemon behind `newsmon run`: one process, one Twisted reactor, running until stopped.

- One long-lived Scrapy crawl (CrawlerRunner, never restarted: a reactor cannot be): its spider stays
  open and APScheduler feeds it a poll request when a source is due, so every source shares one engine,
  its global concurrency limit and its per-domain limits.
- Per source: `interval` or `cron`, spread by a stable per-source jitter; failing sources back off
  (interval x 2^errors, capped at crawl.backoff_max) and recover by themselves (monitor/schedule.py).
- Alert delivery runs in its own threads (alerts.AlertEngine).
- SIGTERM/SIGINT: stop scheduling, let in-flight requests finish within `crawl.shutdown_grace`, stop
  delivery (pending alerts stay in the outbox for the next start), log one summary line, exit 0.
  A second signal exits at once.
- SIGHUP, or a change to config.yaml or a keyword file: reload. A valid config takes effect without a
  restart; an invalid one is refused with the same messages as `newsmon validate`, the old one stays.
- /healthz and /metrics on `server.listen`.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from monitor.config import Config, load_config
from monitor.errors import ConfigError
from monitor.schedule import is_due, jitter_offset

log = logging.getLogger(__name__)

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
WATCH_EVERY = 2.0       # seconds between checks of config/keyword file modification times
HEARTBEAT = 5.0         # seconds between liveness ticks (for /healthz)
FIRST_POLL_SPREAD = 30  # seconds over which the first polls after start are spread
STORE_PAUSE = 10.0      # seconds without polls after a store write failed (each poll would fail too)
DELIVERY_RESERVE = 5.0  # seconds of shutdown_grace kept for delivery to finish a send (at most a quarter)
# crawl.* keys read per poll, so a reload applies them; the others configure Scrapy's engine at start.
RELOADABLE_CRAWL_KEYS = {"max_age", "health_after", "backoff_max", "jitter", "max_articles_per_poll",
                         "fetch_articles", "min_summary_chars", "shutdown_grace"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Daemon:
    def __init__(self, config_path: str | Path) -> None:
        from monitor.metrics import Metrics
        from monitor.runtime import Runtime

        self.config_path = Path(config_path)
        config = load_config(self.config_path)          # ConfigError: the caller reports it
        self.runtime = Runtime(config)                  # KeywordError (a ConfigError) likewise
        self.metrics = Metrics()
        self.runtime.metrics = self.metrics
        self.metrics.attach(self.runtime)
        self.runtime.store_health.on_failure = self.metrics.store_errors.inc
        self.started = time.monotonic()
        self.last_tick = time.monotonic()
        self.stopping = False
        self.spider: Any = None
        self.crawler: Any = None
        self.scheduler: Any = None
        self.health_server: Any = None
        self._mtimes = self._watched_mtimes()
        self._latency_since = utcnow()
        self.exit_code = 0

    @property
    def config(self) -> Config:
        return self.runtime.config

    # -- start -----------------------------------------------------------------------------------

    def run(self) -> int:
        from scrapy.utils.reactor import install_reactor

        install_reactor(REACTOR)
        from apscheduler.schedulers.twisted import TwistedScheduler
        from scrapy.crawler import CrawlerRunner
        from twisted.internet import reactor, task

        from monitor.crawl import quiet_scrapy_logs, scrapy_settings
        from spiders.base import SourceSpider

        quiet_scrapy_logs()
        settings = scrapy_settings(self.config)
        settings["LOG_INSTALL_ROOT_HANDLER"] = False
        runner = CrawlerRunner(settings)
        self.crawler = runner.create_crawler(SourceSpider)
        self.crawl_done = runner.crawl(self.crawler, runtime=self.runtime, keep_alive=True)
        self.spider = self.crawler.spider
        self.crawl_done.addErrback(lambda f: log.error("crawl engine failed: %s", f.getTraceback()))

        self.scheduler = TwistedScheduler(reactor=reactor, timezone=timezone.utc,
                                          job_defaults={"coalesce": True, "max_instances": 1,
                                                        "misfire_grace_time": 3600})
        self._schedule_all()
        self.scheduler.start()

        if self.runtime.engine is not None:
            self.runtime.engine.start()
        if self.config.server.enabled:
            from monitor.health import HealthServer

            try:
                self.health_server = HealthServer(self.config.server.listen, self.metrics, self.health)
                self.health_server.start()
            except OSError as exc:
                log.error("health endpoint: cannot listen on %s: %s", self.config.server.listen, exc.strerror)
                self.health_server = None

        self._loops = [task.LoopingCall(self._heartbeat), task.LoopingCall(self._watch),
                       task.LoopingCall(self._observe_latency)]
        self._loops[0].start(HEARTBEAT)
        self._loops[1].start(WATCH_EVERY, now=False)
        self._loops[2].start(2.0, now=False)
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            signal.signal(sig, lambda *_a, _n=name: reactor.callFromThread(self.shutdown, _n))
        signal.signal(signal.SIGHUP, lambda *_a: reactor.callFromThread(self.reload, "SIGHUP"))

        enabled = [s for s in self.config.sources if s.enabled]
        log.info("newsmon running: %d sources, config %s, store %s", len(enabled), self.config_path,
                 self.config.store_path)
        if not enabled:
            log.warning("no sources configured: add some under `sources:` in %s (or try `newsmon demo`)",
                        self.config_path)
        reactor.run(installSignalHandlers=False)
        return self.exit_code

    # -- scheduling ------------------------------------------------------------------------------

    def _schedule_all(self) -> None:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        now = utcnow()
        states = self.runtime.store.all_source_states()
        jitter = self.config.crawl.jitter
        for job in self.scheduler.get_jobs():
            job.remove()
        for source in self.config.sources:
            if not source.enabled:
                continue
            state = states.get(source.id)
            offset = jitter_offset(source.id, source.interval, jitter)
            first = now + timedelta(seconds=jitter_offset(source.id, min(source.interval, FIRST_POLL_SPREAD), 1.0))
            if state and state.next_poll and state.next_poll > first:
                first = state.next_poll  # e.g. still backing off, or polled just before a restart
            if source.cron:
                trigger = CronTrigger.from_crontab(source.cron, timezone=timezone.utc)
                trigger.jitter = int(offset) or None
                self.scheduler.add_job(self._fire, trigger, args=[source.id], id=source.id, next_run_time=first)
            else:
                trigger = IntervalTrigger(seconds=source.interval, start_date=now + timedelta(seconds=offset),
                                          timezone=timezone.utc)
                self.scheduler.add_job(self._fire, trigger, args=[source.id], id=source.id, next_run_time=first)

    def _fire(self, source_id: str) -> None:
        """APScheduler job: runs on the reactor's thread pool, hands the poll to the reactor thread."""
        from twisted.internet import reactor

        reactor.callFromThread(self.poll, source_id)

    def poll(self, source_id: str) -> None:
        if self.stopping or self.spider is None:
            return
        try:
            source = self.config.source(source_id)
        except KeyError:
            return  # removed by a reload
        store = self.runtime.store_health
        if store.degraded and time.monotonic() - store.last_failure < STORE_PAUSE:
            log.debug("source %s: store failing, poll skipped", source.id)
            return
        state = self.runtime.store.source_state(source.id)
        if not is_due(utcnow(), state):
            log.debug("source %s: backing off until %s", source.id, state.next_poll or state.retry_after_until)
            return
        if not self.spider.poll(source.id):
            log.debug("source %s: previous poll still in flight, skipped", source.id)

    # -- reload ----------------------------------------------------------------------------------

    def _watched_files(self) -> list[Path]:
        return [self.config_path, *self.runtime.rules.files]

    def _watched_mtimes(self) -> dict[Path, float | None]:
        out: dict[Path, float | None] = {}
        for p in self._watched_files():
            try:
                out[p] = p.stat().st_mtime_ns
            except OSError:
                out[p] = None
        return out

    def _watch(self) -> None:
        """LoopingCall: an exception would end the loop for good, so none leaves it."""
        try:
            mtimes = self._watched_mtimes()
            if mtimes != self._mtimes:
                changed = [str(p) for p in mtimes if mtimes.get(p) != self._mtimes.get(p)]
                self._mtimes = mtimes
                self.reload("change to " + ", ".join(changed))
        except Exception:
            log.exception("config watcher: reload failed; still watching %s", self.config_path)

    def reload(self, why: str) -> bool:
        """Load the config and keyword files again; apply them only if all are valid."""
        if self.stopping:
            return False
        log.info("reloading (%s)", why)
        try:
            new = load_config(self.config_path)
            self.runtime.rules.reload(new)
        except Exception as exc:  # whatever the edit did, the old config stays and the watcher keeps going
            problems = exc.problems if isinstance(exc, ConfigError) else [
                f"{self.config_path}: could not be loaded: {type(exc).__name__}: {exc}"]
            for problem in problems:
                log.error("reload refused, previous config stays in force: %s", problem)
            if not isinstance(exc, ConfigError):
                log.debug("reload failure", exc_info=True)
            self.metrics.reloads.labels("refused").inc()
            self._mtimes = self._watched_mtimes()
            return False
        old = self.runtime.config
        self.runtime.config = new
        self.runtime.processor.config = new
        alerting = ("channels", "routes", "delivery")
        if any(getattr(old, k) != getattr(new, k) for k in alerting) and self.runtime.engine is not None:
            from alerts import AlertEngine

            self.runtime.engine.stop(timeout=5)
            self.runtime.engine = AlertEngine.from_config(new, self.runtime.store)
            self.runtime.processor.engine = self.runtime.engine
            self.runtime.engine.start()
        if old.crawl.model_dump(exclude=RELOADABLE_CRAWL_KEYS) != new.crawl.model_dump(exclude=RELOADABLE_CRAWL_KEYS):
            log.warning("crawl connection settings (concurrency, delay, timeout, size, robots, user agent) "
                        "changed: they take effect at the next restart")
        if old.store.path != new.store.path or old.server != new.server:
            log.warning("store.path and server settings take effect at the next restart")
        self._schedule_all()
        self._mtimes = self._watched_mtimes()
        self.metrics.reloads.labels("ok").inc()
        log.info("reloaded: %d sources, categories %s", len([s for s in new.sources if s.enabled]),
                 ", ".join(self.runtime.rules().categories))
        return True

    # -- health ----------------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        self.last_tick = time.monotonic()
        self.metrics.crawl_ticks.set_to_current_time()
        if not self.stopping and self.runtime.store.vanished():
            log.critical("store %s was deleted or replaced while newsmon was running: stopping. Restore it "
                         "(or accept that a new, empty store alerts again on every story still in the feeds) "
                         "and start newsmon again", self.config.store_path)
            self.exit_code = 1
            self.shutdown("store vanished")

    def health(self) -> tuple[bool, dict[str, object]]:
        stalled = time.monotonic() - self.last_tick > 6 * HEARTBEAT
        states = self.runtime.store.all_source_states()
        failing = sorted(s.id for s in self.config.sources
                         if s.id in states and states[s.id].consecutive_errors > 0)
        pending = 0
        if self.runtime.engine is not None:
            pending = sum(c.get("pending", 0) for c in self.runtime.engine.stats().values())
        store = self.runtime.store_health
        ok = not stalled and not self.stopping and not store.degraded
        status = "stopping" if self.stopping else "stalled" if stalled else "degraded" if store.degraded else "ok"
        info: dict[str, object] = {
            "status": status,
            "uptime_seconds": round(time.monotonic() - self.started, 1),
            "sources": len([s for s in self.config.sources if s.enabled]),
            "failing_sources": failing,
            "alerts_pending": pending,
        }
        if store.degraded:
            info["store_error"] = store.error
        return ok, info

    def _observe_latency(self) -> None:
        """Feed the poll-to-alert histogram from the messages sent since the last look."""
        since = self._latency_since
        rows = self.runtime.store.query(
            """SELECT o.channel, o.sent_at, min(i.created) FROM alert_outbox o
                 JOIN alert_outbox_items oi ON oi.outbox_id = o.id
                 JOIN alert_items i ON i.id = oi.item_id
                WHERE o.status = 'sent' AND o.sent_at > ? AND i.kind = 'article'
                GROUP BY o.id""",
            (since.isoformat(timespec="microseconds"),),
        )
        for channel, sent_at, created in rows:
            sent = datetime.fromisoformat(sent_at)
            self.metrics.latency.labels(channel).observe(max(0.0, (sent - datetime.fromisoformat(created)).total_seconds()))
            if sent > self._latency_since:
                self._latency_since = sent

    # -- stop ------------------------------------------------------------------------------------

    def shutdown(self, signame: str) -> None:
        """Stop within crawl.shutdown_grace, whatever is in flight: requests still running when the crawl's
        share of the grace period is over are abandoned (their entries stay queued for the next start),
        and the rest of it is left for delivery to finish a send in progress."""
        from twisted.internet import reactor

        if self.stopping:
            log.warning("%s again: exiting now", signame)
            reactor.stop()
            return
        self.stopping = True
        grace = self.config.crawl.shutdown_grace
        self._deadline = time.monotonic() + grace
        log.info("%s: no new polls; finishing in-flight requests (at most %ss)", signame, grace)
        try:
            self.scheduler.shutdown(wait=False)
        except Exception:  # already stopped
            pass
        self.spider.keep_alive = False
        self.spider.stopping = True  # no new article requests from here on
        self._force = reactor.callLater(grace - min(DELIVERY_RESERVE, grace / 4), self._force_stop)
        self.crawl_done.addBoth(lambda _: self._finish())
        self._stop_crawler()  # close the spider now: queued requests are dropped, in-flight ones finish

    def _force_stop(self) -> None:
        busy = sum(len(urls) for urls in self.spider.pages_in_flight.values())
        log.warning("grace period over: abandoning %d in-flight article requests (they stay queued for "
                    "the next start)", busy)
        self._finish()

    def _stop_crawler(self) -> None:
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(self.crawler.stop_async()).addErrback(
            lambda f: log.debug("stopping the crawl: %s", f.getErrorMessage()))

    _finished = False
    _loops: list[Any] = []
    _force: Any = None
    _deadline = 0.0

    def _finish(self) -> None:
        from twisted.internet import reactor

        if self._finished:
            return
        self._finished = True
        if self._force is not None and self._force.active():
            self._force.cancel()
        if self.runtime.engine is not None:
            self.runtime.engine.stop(timeout=max(0.5, self._deadline - time.monotonic()))
        if self.health_server is not None:
            self.health_server.stop()
        for loop in self._loops:  # none may touch the store once it is closed
            if loop.running:
                loop.stop()
        self._observe_latency()
        log.info(self.summary())
        self.runtime.close()
        reactor.stop()

    def summary(self) -> str:
        uptime = timedelta(seconds=int(time.monotonic() - self.started))
        stats = self.crawler.stats.get_stats() if self.crawler and self.crawler.stats else {}
        polls = sum(v for k, v in stats.items() if k.startswith("newsmon/polls/"))
        errors = stats.get("newsmon/polls/errors", 0)
        new = stats.get("newsmon/items/new", 0)
        matched = sum(v for k, v in stats.items() if k.startswith("newsmon/matches/"))
        outbox = self.runtime.engine.stats() if self.runtime.engine is not None else {}
        sent = sum(c.get("sent", 0) for c in outbox.values())
        pending = sum(c.get("pending", 0) for c in outbox.values())
        dead = sum(c.get("dead", 0) for c in outbox.values())
        store_errors = self.runtime.store_health.total
        return (f"newsmon stopped after {uptime}: {polls} polls ({errors} failed), {new} new articles, "
                f"{matched} matches; " + (f"{store_errors} store writes failed; " if store_errors else "")
                + f"alerts in store: {sent} sent, {pending} pending, {dead} dead")

