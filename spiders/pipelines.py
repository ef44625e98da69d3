"""StorePipeline: hands each extracted Article to monitor.pipeline.Processor (dedupe → classify →
cluster → store → outbox, one transaction) and counts the outcome in the crawler stats and the source's
poll report. Reads the runtime from the spider (`spider.runtime`)."""

from __future__ import annotations

import logging
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
        try:
            outcome = runtime.processor.process(item, source)
        except Exception:  # one bad article never stops the crawl; it is retried next poll
            log.exception("source %s: %s: could not process article", source.id, item.url)
            report.article_errors += 1
            stats.inc_value("newsmon/items/errors")
            return item
        stats.inc_value(f"newsmon/items/{outcome.status}")
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
