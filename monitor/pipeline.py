"""The article path after fetching and extraction: dedupe → classify → cluster → store → outbox.

`Processor.process()` is called once per extracted article (by the Scrapy StorePipeline, or directly).
The article row, its story and its outbox rows are written in one transaction, so an alert is never
lost between "stored" and "queued", and a re-poll never yields the same article twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from monitor.cluster import assign_story
from monitor.models import Article, Classification

if TYPE_CHECKING:
    from monitor.config import Config, SourceConfig
    from monitor.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    status: str                      # "new", "seen", "duplicate", "empty"
    article_id: int | None = None
    categories: list[str] = field(default_factory=list)
    alerts: int = 0                  # outbox rows written
    fresh: bool = True


class Processor:
    def __init__(
        self,
        config: Config,
        store: SqliteStore,
        rules: Callable[[], object],
        engine: object | None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.rules = rules          # returns the RuleSet in force (reloads swap it)
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def is_fresh(self, article: Article, source: SourceConfig, now: datetime) -> bool:
        """An article older than max_age (by its published time) is stored but never alerted."""
        if article.published is None:
            return True
        return article.published >= now - source.max_age_td(self.config.crawl)

    def process(self, article: Article, source: SourceConfig) -> Outcome:
        from monitor.classify import classify, clean_plaintext

        now = self.clock()
        if self.store.known_urls([article.url]):
            self._set_aside(article, source, None, now)
            return Outcome("seen")
        # Link lists, "related news" blocks and footers left in plain text (feed content, some extractions)
        # must not raise alarms: the stored and classified text is the cleaned main text.
        article.text = clean_plaintext(article.text)
        if not article.text.strip() and not article.title.strip():
            self._set_aside(article, source, "empty", now)
            return Outcome("empty")
        if self.store.find_by_hash(article.content_hash) is not None:
            self._set_aside(article, source, "duplicate", now)
            return Outcome("duplicate")

        result: Classification = classify(article.title, article.text, article.language, self.rules())
        if article.language is None:
            article.language = result.language
        fresh = self.is_fresh(article, source, now)
        outcome = Outcome("new", categories=list(result.categories), fresh=fresh)
        with self.store.transaction() as conn:
            self._settle(conn, article, source, now)
            story_id = assign_story(conn, article, result, now) if result.categories else None
            article_id = self.store.add_article(conn, article, result, story_id)
            if article_id is None:
                return Outcome("seen")
            outcome.article_id = article_id
            if result.categories and fresh and self.engine is not None:
                outcome.alerts = self.engine.enqueue(  # type: ignore[attr-defined]
                    conn,
                    article_id=article_id,
                    article=article,
                    result=result,
                    source_tags=list(source.tags),
                    story_id=story_id,
                    now=now,
                )
        if result.categories:
            log.info(
                "matched %s: %s (source=%s url=%s%s)",
                ",".join(result.categories),
                article.title[:120],
                source.id,
                article.url,
                "" if fresh else ", older than max_age: not alerted",
                extra={"source": source.id, "url": article.url, "categories": ",".join(result.categories),
                       "alerted": fresh},
            )
        return outcome

    def _set_aside(self, article: Article, source: SourceConfig, status: str | None, now: datetime) -> None:
        with self.store.transaction() as conn:
            if status:
                self.store.set_aside(conn, article.url, source.id, status, now)
            self._settle(conn, article, source, now)

    def _settle(self, conn: object, article: Article, source: SourceConfig, now: datetime) -> None:
        """The article's entry leaves the poll queue in the transaction that handles it; the URL it was
        queued under, when the page named another canonical URL, is remembered as an alias."""
        queued = article.queued_url
        if queued is None:
            return
        if queued != article.url:
            self.store.set_aside(conn, queued, source.id, "alias", now)  # type: ignore[arg-type]
        else:
            self.store.drop_entry(conn, queued)  # type: ignore[arg-type]
