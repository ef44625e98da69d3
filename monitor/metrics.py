"""Prometheus metrics for the daemon (served at /metrics by monitor/health.py).

Counters are incremented where things happen (spiders/base.py, spiders/pipelines.py); per-channel alert
counts and per-source state are read from the store when Prometheus scrapes, so they are right across
restarts and reflect what `newsmon status` shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from monitor.runtime import Runtime

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("newsmon_polls", "Source polls by result (ok, not_modified, error)",
                             ["source", "result"], registry=r)
        self.articles = Counter("newsmon_articles", "Articles handled by outcome (new, seen, duplicate, empty)",
                                ["source", "status"], registry=r)
        self.article_errors = Counter("newsmon_article_errors", "Article pages that could not be fetched or read",
                                      ["source"], registry=r)
        self.matches = Counter("newsmon_matches", "New articles flagged, per category", ["category"], registry=r)
        self.latency = Histogram("newsmon_poll_to_alert_seconds",
                                 "From storing a matching article (right after its response) to its alert "
                                 "being accepted by the channel", ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.reloads = Counter("newsmon_reloads", "Config/keyword reloads by result (ok, refused)", ["result"],
                               registry=r)
        self.store_errors = Counter("newsmon_store_errors", "Store writes that failed (locked, read-only, full)",
                                    registry=r)
        self.crawl_ticks = Gauge("newsmon_last_scheduler_tick_timestamp_seconds",
                                 "When the scheduler last ran (for liveness)", registry=r)

    def attach(self, runtime: Runtime) -> None:
        self.registry.register(_StoreCollector(runtime))


class _StoreCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        alerts = GaugeMetricFamily("newsmon_alerts", "Alert messages in the outbox by channel and status",
                                   labels=["channel", "status"])
        if self.runtime.engine is not None:
            for channel, counts in sorted(self.runtime.engine.stats().items()):
                for status in ("sent", "pending", "dead"):
                    alerts.add_metric([channel, status], counts.get(status, 0))
        yield alerts
        last_ok = GaugeMetricFamily("newsmon_source_last_success_timestamp_seconds",
                                    "Last successful poll per source", labels=["source"])
        errors = GaugeMetricFamily("newsmon_source_consecutive_errors", "Consecutive failed polls per source",
                                   labels=["source"])
        states = self.runtime.store.all_source_states()
        for source in self.runtime.config.sources:
            st = states.get(source.id)
            if st is None:
                continue
            if st.last_success:
                last_ok.add_metric([source.id], st.last_success.timestamp())
            errors.add_metric([source.id], st.consecutive_errors)
        yield last_ok
        yield errors
        yield GaugeMetricFamily("newsmon_articles_stored", "Articles in the store", value=self.runtime.store.count_articles())
