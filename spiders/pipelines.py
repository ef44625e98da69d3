"""StorePipeline: hands each extracted Article to monitor.pipeline.Processor (dedupe → classify →
cluster → store → outbox, one transaction) and counts the outcome in the crawler stats and the source's
poll report. Reads the runtime from the spider (`spider.runtime`)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from monitor.models import Article

log = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        runtime = self.crawler.spider.runtime
        source = runtime.source(item.source_id)
        report = runtime.report(source.id)
        stats = self.crawler.stats
        spider = self.crawler.spider
        try:
            outcome = runtime.processor.process(item, source)
        except sqlite3.Error as exc:  # reported once by store_health; the entry stays queued
            stats.inc_value("newsmon/store/errors")
            runtime.store_health.failed(f"storing {item.url}", exc)
            return item
        except Exception as exc:  # one bad article never stops the crawl; its entry is retried later
            log.exception("source %s: %s: could not process article", source.id, item.url)
            report.article_errors += 1
            stats.inc_value("newsmon/items/errors")
            if item.queued_url and hasattr(spider, "retry_entry"):
                spider.retry_entry(source, item.queued_url, f"{type(exc).__name__}: {exc}")
            return item
        finally:
            if hasattr(spider, "settled"):
                spider.settled(source.id, item.queued_url)
        stats.inc_value(f"newsmon/items/{outcome.status}")
        on_processed = getattr(runtime, "on_processed", None)  # crawl --dry-run's listing
        if on_processed is not None:
            on_processed(item, source, outcome)
        if runtime.metrics:
            runtime.metrics.articles.labels(source.id, outcome.status).inc()
            for cat in outcome.categories:
                runtime.metrics.matches.labels(cat).inc()
        if outcome.status == "new":
            report.new += 1
            if not outcome.fresh:
                report.old += 1
            if outcome.categories:
                report.matched += 1
                for cat in outcome.categories:
                    stats.inc_value(f"newsmon/matches/{cat}")
            report.alerts += outcome.alerts
        else:
            report.seen += 1
        return item
