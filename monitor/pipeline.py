"""The article path after fetching and extraction: dedupe → classify → cluster → store → outbox.

`Processor.process()` is called once per extracted article (by the Scrapy StorePipeline, or directly).
The article row, its story and its outbox rows are written in one transaction, so an alert is never
lost between "stored" and "queued", and a re-poll never yields the same article twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from monitor.models import Article, Classification
from monitor.stories import Placement, forget_before, place, remember, report_time

if TYPE_CHECKING:
    from monitor.config import Config, SourceConfig
    from monitor.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

PRUNE_EVERY = 100   # flagged articles between two prunings of old near-copy bands


@dataclass
class Outcome:
    status: str                      # "new", "seen", "duplicate", "empty"
    article_id: int | None = None
    categories: list[str] = field(default_factory=list)
    alerts: int = 0                  # outbox rows written
    fresh: bool = True
    story_id: int | None = None
    copy_of: int | None = None       # a near-copy of this stored article: it joined its story, no alert


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
        self._placed = 0

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
        placement = None
        with self.store.transaction() as conn:
            self._settle(conn, article, source, now)
            article_id = self.store.add_article(conn, article, result, None)
            if article_id is None:
                return Outcome("seen")
            outcome.article_id = article_id
            if result.categories:
                placement = self._place(conn, article_id, article, result, now)
                outcome.story_id, outcome.copy_of = placement.story.id, placement.copy_of
            console_before = self.engine.console_deliveries if self.engine is not None else 0
            if result.categories and fresh and self.engine is not None and placement.copy_of is None:
                outcome.alerts = self.engine.enqueue(  # type: ignore[attr-defined]
                    conn,
                    article_id=article_id,
                    article=article,
                    result=result,
                    source_tags=list(source.tags),
                    story_id=placement.story.id,
                    story=placement,
                    now=now,
                )
        if result.categories:
            # an alert the console prints tells the person at the terminal all this already: the text
            # log line is then for -v only (a JSON log is read by machines, which want every match)
            printed = (self.engine is not None and self.engine.console_deliveries > console_before
                       and self.config.log.format == "text")
            log.log(
                logging.DEBUG if printed else logging.INFO,
                "matched %s: %s (source=%s url=%s story=%s%s%s)",
                ",".join(result.categories),
                article.title[:120],
                source.id,
                article.url,
                placement.story.id if placement else None,
                f", a copy of article {placement.copy_of}: not alerted" if placement and placement.copy_of else "",
                "" if fresh else ", older than max_age: not alerted",
                extra={"source": source.id, "url": article.url, "categories": ",".join(result.categories),
                       "alerted": fresh and not (placement and placement.copy_of),
                       "story": placement.story.id if placement else None},
            )
        return outcome

    def _place(self, conn: object, article_id: int, article: Article, result: Classification, now: datetime) -> Placement:
        """The flagged article joins (or opens) its story; its MinHash is kept for later copies."""
        cfg = self.config.stories
        placement, hashes = place(conn, article, result, now, window=cfg.window,  # type: ignore[arg-type]
                                  copy_similarity=cfg.copy_similarity, similar_text=cfg.similar_text,
                                  denial=self._denial())
        conn.execute("UPDATE articles SET story_id = ?, copy_of = ? WHERE id = ?",  # type: ignore[attr-defined]
                     (placement.story.id, placement.copy_of, article_id))
        remember(conn, article_id, hashes, cfg.copy_similarity, report_time(article, now))  # type: ignore[arg-type]
        self._placed += 1
        if self._placed % PRUNE_EVERY == 1:  # copies are looked for within the window: older bands go
            forget_before(conn, now - timedelta(seconds=2 * cfg.window))  # type: ignore[arg-type]
        if placement.why and not placement.created:
            log.debug("article %s joins story %s: %s", article_id, placement.story.id, placement.why)
        return placement

    def _denial(self) -> frozenset[str]:
        rules = self.rules()
        try:
            return frozenset(c for c in rules.categories if rules.settings(None, c).denial)  # type: ignore[attr-defined]
        except (AttributeError, KeyError):
            return frozenset()

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
