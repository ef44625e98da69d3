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
- /healthz and /metrics on `server.listen`: 503 `degraded` while more than half of the enabled sources
  polled are failing, or while the store fails.
- One daemon per store: the store's lock (monitor/runinfo.py) is taken before the store is opened, and a
  second `newsmon run` on it is refused (exit 2, naming the pid). Once started, the daemon writes the run
  file `newsmon status` reads (pid, start time, health URL) and removes it on a clean stop.
- After every enabled source has been polled once, one summary line: a warning when most of them failed
  (`15 of 15 sources unreachable — no network? try `newsmon demo``), else `first cycle: ...` at info.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from monitor import runinfo
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
FIRST_CYCLE_CHECK = 1.0  # seconds between checks whether every source has been polled once since the start
# Poll failures that say the network (or the host) is not there, as spiders.base.describe_failure words them.
NETWORK_ERRORS = ("timed out", "DNS lookup failed", "connection refused", "connection closed",
                  "Network is unreachable", "No route to host", "TCPTimedOutError", "ConnectError")
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
        self._lock = runinfo.acquire(config)            # runinfo.AlreadyRunning: likewise, before the store opens
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
        self.health_url: str | None = None
        self._cycle_start = utcnow()
        self._first_runs: dict[str, datetime] = {}    # source id -> its first poll after the start
        self._awaiting: set[str] | None = None         # sources the first-cycle summary waits for
        self._cycle_ids: list[str] = []                # the sources it is about

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
        self._cycle_start = utcnow()
        self._schedule_all()
        self._start_first_cycle()
        self.scheduler.start()

        if self.runtime.engine is not None:
            self.runtime.engine.start()
        if self.config.server.enabled:
            from monitor.health import HealthServer

            try:
                self.health_server = HealthServer(self.config.server.listen, self.metrics, self.health,
                                                  config_provider=lambda: self.config,
                                                  rules_provider=self.runtime.rules)
                self.health_server.start()
            except OSError as exc:
                log.error("health endpoint: cannot listen on %s: %s", self.config.server.listen, exc.strerror)
                self.health_server = None

        self._write_runinfo()

        self._loops = [task.LoopingCall(self._heartbeat), task.LoopingCall(self._watch),
                       task.LoopingCall(self._observe_latency), task.LoopingCall(self._check_first_cycle)]
        self._loops[0].start(HEARTBEAT)
        self._loops[1].start(WATCH_EVERY, now=False)
        self._loops[2].start(2.0, now=False)
        if self._awaiting is not None:
            self._loops[3].start(FIRST_CYCLE_CHECK, now=False)
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            signal.signal(sig, lambda *_a, _n=name: reactor.callFromThread(self.shutdown, _n))
        signal.signal(signal.SIGHUP, lambda *_a: reactor.callFromThread(self.reload, "SIGHUP"))

        enabled = [s for s in self.config.sources if s.enabled]
        log.info("newsmon running: %d sources, config %s, store %s", len(enabled), self.config_path,
                 self.config.store_path)
        if not enabled:
            log.warning("no sources configured: add some under `sources:` in %s (or try `newsmon demo`)",
                        self.config_path)
        try:
            reactor.run(installSignalHandlers=False)
        finally:
            self._release()  # also after a second signal, which stops the reactor without _finish
        return self.exit_code

    def _write_runinfo(self) -> None:
        """The run file `newsmon status` reads: this pid and the health endpoint's real address."""
        self.health_url = None
        if self.health_server is not None:
            host, _, port = self.health_server.address.rpartition(":")
            host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # where to reach it
            self.health_url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
        try:
            runinfo.write(self.config, self.health_url)
        except OSError as exc:
            log.warning("cannot write %s (%s): `newsmon status` will not know this daemon runs",
                        runinfo.path(self.config), exc.strerror or exc)

    def _release(self) -> None:
        try:
            runinfo.remove(self.config)
        except OSError as exc:
            log.debug("removing the run file: %s", exc)
        self._lock.release()

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
            self._first_runs.setdefault(source.id, first)
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
        if old.store.path != new.store.path or old.server != new.server:
            # the store stays open and the status page keeps its address and token until a restart: what
            # reads the config (the page and API, the run file) must not act on the new values meanwhile
            log.warning("store.path and server settings (listen, token) take effect at the next restart; "
                        "until then the store and the status page's address and token stay as they were")
            new = new.model_copy(update={"store": old.store, "server": old.server})
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
        self._schedule_all()
        self._mtimes = self._watched_mtimes()
        self.metrics.reloads.labels("ok").inc()
        log.info("reloaded: %d sources, categories %s", len([s for s in new.sources if s.enabled]),
                 ", ".join(self.runtime.rules().categories))
        return True

    # -- the first cycle -------------------------------------------------------------------------

    def _start_first_cycle(self) -> None:
        """Which sources the first-cycle summary waits for: those whose first poll comes within the start's
        spread. A source held back from before the restart (backing off, Retry-After) counts as it stands."""
        soon = self._cycle_start + timedelta(seconds=FIRST_POLL_SPREAD + 5)
        states = self.runtime.store.all_source_states()
        held = {sid for sid, st in states.items() if st.retry_after_until and st.retry_after_until > soon}
        self._cycle_ids = list(self._first_runs)
        self._awaiting = ({sid for sid, first in self._first_runs.items() if first <= soon and sid not in held}
                          if self._first_runs else None)

    def _check_first_cycle(self) -> None:
        """LoopingCall until every enabled source has been polled once since the start; then one line."""
        try:
            if self.stopping or self._awaiting is None:
                return
            enabled = [s.id for s in self.config.sources if s.enabled]
            states = self.runtime.store.all_source_states()
            self._awaiting &= set(enabled)  # a reload may have removed some
            start = self._cycle_start
            if any(not (states.get(sid) and states[sid].last_poll and states[sid].last_poll >= start)
                   for sid in self._awaiting):
                return
            considered = [sid for sid in self._cycle_ids if sid in enabled]
            self._awaiting = None
            if self._loops[3].running:
                self._loops[3].stop()
            if considered:
                self._first_cycle_summary(considered, states)
        except Exception:  # a LoopingCall that raises is over for good; the next tick tries again
            log.debug("first-cycle check failed", exc_info=True)

    def _first_cycle_summary(self, ids: list[str], states: dict[str, Any]) -> None:
        failing = [sid for sid in ids if states.get(sid) and states[sid].consecutive_errors > 0]
        total = len(ids)
        names = ", ".join(failing[:10]) + (f", … ({len(failing) - 10} more)" if len(failing) > 10 else "")
        extra = {"sources": total, "failing": len(failing)}
        if failing and len(failing) * 2 > total:
            network = [sid for sid in failing if any(w.lower() in (states[sid].last_error or "").lower()
                                                     for w in NETWORK_ERRORS)]
            if len(network) * 2 > len(failing):
                which = "" if len(failing) == total else f" ({names})"
                log.warning("%d of %d sources unreachable%s — no network? try `newsmon demo`", len(failing), total,
                            which, extra=extra)
            else:
                log.warning("first cycle: %d sources polled, %d failing (%s); `newsmon status` shows why", total,
                            len(failing), names, extra=extra)
        elif failing:
            log.info("first cycle: %d sources polled, %d failing (%s)", total, len(failing), names, extra=extra)
        else:
            log.info("first cycle: %d sources polled, none failing", total, extra=extra)

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
        """(ok, body) for /healthz. Not ok, in this order: `stopping`, `stalled` (the reactor stopped
        ticking), `degraded` (the store fails, or more than half of the enabled sources polled so far are
        failing: every poll of theirs ends in an error)."""
        stalled = time.monotonic() - self.last_tick > 6 * HEARTBEAT
        states = self.runtime.store.all_source_states()
        enabled = [s.id for s in self.config.sources if s.enabled]
        polled = [sid for sid in enabled if sid in states and states[sid].last_poll is not None]
        failing = sorted(sid for sid in polled if states[sid].consecutive_errors > 0)
        sources_degraded = bool(failing) and len(failing) * 2 > len(polled)
        pending = 0
        if self.runtime.engine is not None:
            pending = sum(c.get("pending", 0) for c in self.runtime.engine.stats().values())
        store = self.runtime.store_health
        degraded = store.degraded or sources_degraded
        ok = not stalled and not self.stopping and not degraded
        status = "stopping" if self.stopping else "stalled" if stalled else "degraded" if degraded else "ok"
        info: dict[str, object] = {
            "status": status,
            "uptime_seconds": round(time.monotonic() - self.started, 1),
            "sources": len(enabled),
            "polled_sources": len(polled),
            "failing_sources": failing,
            "alerts_pending": pending,
        }
        if store.degraded:
            info["store_error"] = store.error
        if sources_degraded:
            info["sources_error"] = f"{len(failing)} of {len(polled)} sources polled are failing"
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
        self._release()
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

