"""SourceSpider: polls configured sources (feeds, sitemaps, listing pages) and yields one Article per new
story. Polling one source is a straight line (after Miniflux's RefreshFeed):

    conditional GET (ETag / Last-Modified) → 304: nothing new
    → 429/503: honour Retry-After for this source → other errors: count, back off
    → parse feed / sitemap / listing → drop URLs already handled → fetch article pages
    → extract main text, language, date → Article item (the StorePipeline does the rest)

Spider arguments: `source` (comma-separated source ids; default: every enabled source this spider
handles) and, in-process, `runtime` (config, store, rules, alert engine); under `scrapy crawl` the runtime
is built from the `NEWSMON_CONFIG` file.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.config import SourceConfig
from monitor.dates import parse_http_date
from monitor.models import Article
from monitor.runtime import Runtime
from monitor.schedule import next_check
from monitor.store.base import SourceState
from monitor.urls import canonical_url, same_site

log = logging.getLogger(__name__)

# Statuses the spider handles itself. 3xx are left to the RedirectMiddleware; 5xx are retried by the
# RetryMiddleware first.
HANDLED_STATUSES = [304, 400, 401, 403, 404, 405, 406, 410, 429, 451, 500, 502, 503, 504, 520, 521, 522, 524]
MAX_SITEMAP_DEPTH = 3


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def retry_after(value: bytes | None, now: datetime) -> datetime | None:
    """Parse a Retry-After header (seconds or HTTP date) into an absolute time, capped at a day."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    try:
        delay = float(text)
    except ValueError:
        when = parse_http_date(text)
        if when is None:
            return None
        delay = (when - now).total_seconds()
    return now + timedelta(seconds=min(max(delay, 0), 86400))


def describe_failure(failure: Failure) -> str:
    """A short, stable reason for a failed request, for logs and the source's state."""
    from scrapy import exceptions as sx
    from scrapy.exceptions import IgnoreRequest

    exc = failure.value
    text = str(exc)
    if isinstance(exc, IgnoreRequest) and "robots" in text.lower():
        return "forbidden by robots.txt"
    if "took longer than" in text:
        return "timed out"
    for kind, reason in (  # most specific first: some of these subclass DownloadFailedError
        (sx.DownloadTimeoutError, "timed out"),
        (sx.CannotResolveHostError, "DNS lookup failed"),
        (sx.DownloadConnectionRefusedError, "connection refused"),
        (sx.DownloadCancelledError, "response larger than crawl.max_size"),
        (sx.ResponseDataLossError, "truncated response (connection closed before the end of the body)"),
        (sx.DownloadFailedError, "connection closed without a complete response"),
        (sx.UnsupportedURLSchemeError, "unsupported URL scheme"),
    ):
        if isinstance(exc, kind):
            return reason
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


class SourceSpider(scrapy.Spider):
    """Polls every kind of source. Subclasses restrict it to one kind (for `scrapy crawl feed`)."""

    name = "news"
    kinds: tuple[str, ...] = ("feed", "sitemap", "page")

    def __init__(self, source: str | None = None, runtime: Runtime | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_arg = source
        self.runtime = runtime  # type: ignore[assignment]

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.runtime is None:  # `scrapy crawl`: build one from the config file
            spider.runtime = Runtime.from_path(crawler.settings.get("NEWSMON_CONFIG", "config.yaml"))
            spider._owns_runtime = True
        spider.sources = spider._select_sources()
        spider.in_flight = set()
        from scrapy import signals

        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    _owns_runtime = False

    def _select_sources(self) -> list[SourceConfig]:
        config = self.runtime.config
        if self.source_arg:
            wanted = [s.strip() for s in self.source_arg.split(",") if s.strip()]
            chosen = [config.source(s) for s in wanted]  # KeyError names the unknown id
            wrong = [s.id for s in chosen if s.type not in self.kinds]
            if wrong:
                raise ValueError(f"spider {self.name} polls {', '.join(self.kinds)} sources, not: {', '.join(wrong)}")
            return chosen
        return [s for s in config.sources if s.enabled and s.type in self.kinds]

    def closed(self, reason: str) -> None:
        if self._owns_runtime:
            self.runtime.close()

    # -- the poll ----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if self.keep_alive:
            return  # the daemon: polls arrive through poll() when the scheduler says a source is due
        states = self.runtime.store.all_source_states()  # one query, not one per source
        for source in self.sources:
            yield self.index_request(source, states.get(source.id))

    def index_request(self, source: SourceConfig, state: SourceState | None = None) -> scrapy.Request:
        if state is None:
            state = self.runtime.store.source_state(source.id)
        headers = dict(source.headers)
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        return scrapy.Request(
            source.url,
            callback=self.parse_index,
            errback=self.index_failed,
            headers=headers,
            dont_filter=True,
            priority=10,
            meta={
                "newsmon_source": source.id,
                "handle_httpstatus_list": HANDLED_STATUSES,
                "newsmon_depth": 0,
                "newsmon_state": state,
            },
        )

    def parse_index(self, response: Response) -> Iterable[Any]:
        source = self.runtime.source(response.meta["newsmon_source"])
        depth = response.meta.get("newsmon_depth", 0)
        now = utcnow()
        state = response.meta.get("newsmon_state") or self.runtime.store.source_state(source.id)
        report = self.runtime.report(source.id)
        if response.status == 304:
            report.not_modified = True
            self._poll_succeeded(state, now, not_modified=True)
            return
        if response.status >= 400 and depth > 0:  # a child sitemap: the source itself answered
            self._article_error(source, response.url, f"HTTP {response.status}", now, permanent=False)
            return
        if response.status >= 400:
            reason = f"HTTP {response.status}"
            if response.status in (429, 503):
                until = retry_after(response.headers.get("Retry-After"), now)
                if until:
                    state.retry_after_until = until
                    reason += f" (Retry-After: until {until.isoformat(timespec='seconds')})"
            self._poll_failed(state, source, response.url, reason, now)
            return
        if depth == 0:
            state.etag = _header(response, "ETag")
            state.last_modified = _header(response, "Last-Modified")
        content_type = _header(response, "Content-Type")
        if source.type == "feed":
            yield from self._from_feed(source, response, content_type, state, now)
        elif source.type == "sitemap":
            yield from self._from_sitemap(source, response, content_type, state, now, depth)
        else:
            yield from self._from_listing(source, response, content_type, state, now)

    def _from_feed(self, source, response, content_type, state, now) -> Iterable[Any]:
        from monitor.feeds import parse_feed

        feed = parse_feed(response.body, response.url, content_type)
        if feed.error and not feed.entries:
            self._poll_failed(state, source, response.url, f"malformed feed: {feed.error}", now)
            return
        if feed.error:
            log.warning("source %s: %s: feed is malformed, %d entries recovered: %s",
                        source.id, response.url, len(feed.entries), feed.error)
        for warning in feed.warnings:
            log.info("source %s: %s: %s", source.id, response.url, warning)
        self._poll_succeeded(state, now)
        entries = {}
        for e in feed.entries:
            if e.url:
                entries.setdefault(canonical_url(e.url), e)
        new = self._unknown(source, list(entries))
        new.sort(key=lambda u: entries[u].published or now, reverse=True)
        fetch = source.fetch_articles if source.fetch_articles is not None else self.runtime.config.crawl.fetch_articles
        min_chars = self.runtime.config.crawl.min_summary_chars
        for url in new[: self.runtime.config.crawl.max_articles_per_poll]:
            e = entries[url]
            body = e.content if len(e.content) >= len(e.summary) else e.summary
            hint = e.language or feed.language or source.language
            if fetch and len(body) < min_chars:
                yield self.article_request(source, url, title=e.title, published=e.published, language=hint,
                                           summary=body)
            else:
                yield self._article_from_text(source, url, e.title, body, hint, e.published, now)

    def _from_sitemap(self, source, response, content_type, state, now, depth) -> Iterable[Any]:
        from monitor.sitemaps import parse_sitemap

        sitemap = parse_sitemap(
            response.body, response.url, now=now, max_age=source.max_age_td(self.runtime.config.crawl)
        )
        if sitemap.error and not (sitemap.entries or sitemap.sitemaps):
            self._poll_failed(state, source, response.url, f"malformed sitemap: {sitemap.error}", now)
            return
        if sitemap.error:
            log.warning("source %s: %s: sitemap partly unreadable: %s", source.id, response.url, sitemap.error)
        if depth == 0:
            self._poll_succeeded(state, now)
        for child in sitemap.sitemaps:
            if depth + 1 > MAX_SITEMAP_DEPTH:
                log.warning("source %s: %s: sitemap index nested deeper than %d, not followed",
                            source.id, child, MAX_SITEMAP_DEPTH)
                break
            yield scrapy.Request(
                child, callback=self.parse_index, errback=self.article_failed, dont_filter=True,
                meta={"newsmon_source": source.id, "handle_httpstatus_list": HANDLED_STATUSES,
                      "newsmon_depth": depth + 1},
            )
        entries = {}
        for e in sitemap.entries:
            entries.setdefault(canonical_url(e.url), e)
        new = self._unknown(source, list(entries))
        new.sort(key=lambda u: entries[u].published or entries[u].lastmod or now, reverse=True)
        for url in new[: self.runtime.config.crawl.max_articles_per_poll]:
            e = entries[url]
            yield self.article_request(source, url, title=e.title or "", published=e.published or e.lastmod,
                                       language=e.language or source.language)

    def _from_listing(self, source, response, content_type, state, now) -> Iterable[Any]:
        from monitor.listing import find_article_links

        links = find_article_links(response.body, response.url, selectors=source.selectors or None,
                                   content_type=content_type)
        self._poll_succeeded(state, now)
        if not links:
            log.warning("source %s: %s: no article links found%s", source.id, response.url,
                        " with the configured selectors" if source.selectors else "")
        titles = {canonical_url(link.url): link.text for link in links}
        for url in self._unknown(source, list(titles))[: self.runtime.config.crawl.max_articles_per_poll]:
            yield self.article_request(source, url, title=titles[url], published=None, language=source.language)

    # -- articles ----------------------------------------------------------------------------

    def article_request(self, source: SourceConfig, url: str, *, title: str, published: datetime | None,
                        language: str | None, summary: str = "") -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            meta={
                "newsmon_source": source.id,
                "newsmon_entry": {"url": url, "title": title, "published": published, "language": language,
                                  "summary": summary},
                "handle_httpstatus_list": HANDLED_STATUSES,
            },
        )

    def parse_article(self, response: Response) -> Iterable[Any]:
        from monitor.extract import extract_page

        source = self.runtime.source(response.meta["newsmon_source"])
        entry = response.meta["newsmon_entry"]
        now = utcnow()
        if response.status >= 400:
            self._article_error(source, entry["url"], f"HTTP {response.status}", now,
                                permanent=response.status in (404, 410, 451))
            return
        tz = ZoneInfo(source.timezone) if source.timezone else None
        page = extract_page(response.body, response.url, _header(response, "Content-Type"), entry["language"], tz=tz)
        text = page.text or entry["summary"]
        if not text.strip():
            self._article_error(source, entry["url"], page.error or "no main text found", now, permanent=True)
            return
        url = entry["url"]
        if page.url and page.url != url and same_site(page.url, url):
            # The page names its canonical URL: store the story under it, and remember the URL we came by.
            self.runtime.store.mark_seen(url, source.id, "alias", now)
            url = page.url
        yield Article(
            url=url,
            source_id=source.id,
            title=page.title or entry["title"],
            text=text,
            language=page.language or entry["language"],
            language_source=getattr(page, "language_source", "detected"),
            published=entry["published"] or page.published,
            fetched=now,
            summary=entry["summary"],
            tags=list(source.tags),
        )

    def article_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        source = self.runtime.source(request.meta["newsmon_source"])
        self._article_error(source, request.url, describe_failure(failure), utcnow(), permanent=False)

    def _article_error(self, source: SourceConfig, url: str, reason: str, now: datetime, permanent: bool) -> None:
        self.runtime.report(source.id).article_errors += 1
        self.crawler.stats.inc_value("newsmon/articles/errors")
        if self.runtime.metrics:
            self.runtime.metrics.article_errors.labels(source.id).inc()
        log.warning("source %s: %s: %s", source.id, url, reason,
                    extra={"source": source.id, "url": url, "error": reason})
        if permanent:  # retrying will not help: remember the URL so it is not fetched again
            self.runtime.store.mark_seen(url, source.id, "error", now)

    def _article_from_text(self, source, url, title, text, language, published, now) -> Article:
        return Article(url=url, source_id=source.id, title=title, text=text, language=language,
                       language_source="declared" if language else "detected", published=published,
                       fetched=now, summary=text[:500], tags=list(source.tags))

    # -- source state ------------------------------------------------------------------------

    def index_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        source = self.runtime.source(request.meta["newsmon_source"])
        state = request.meta.get("newsmon_state") or self.runtime.store.source_state(source.id)
        self._poll_failed(state, source, request.url, describe_failure(failure), utcnow())

    def _poll_succeeded(self, state: SourceState, now: datetime, not_modified: bool = False) -> None:
        source = self.runtime.source(state.source_id)
        self.in_flight.discard(source.id)
        state.last_poll = state.last_success = now
        state.polls += 1
        state.not_modified += int(not_modified)
        recovered_after = state.consecutive_errors
        state.consecutive_errors = 0
        state.retry_after_until = None
        state.next_poll = self._next_poll(source, state, now)
        result = "not_modified" if not_modified else "ok"
        self.crawler.stats.inc_value(f"newsmon/polls/{result}")
        if self.runtime.metrics:
            self.runtime.metrics.polls.labels(source.id, result).inc()
        with self.runtime.store.transaction() as conn:
            if state.health_alerted and self.runtime.engine is not None:
                log.info("source %s: %s: recovered after %d failed polls", source.id, source.url, recovered_after)
                self.runtime.engine.enqueue_health(conn, source_id=source.id, url=source.url, status="recovered",
                                                   error=None, errors=0, now=now)
            state.health_alerted = False
            self.runtime.store.save_source_state(state)

    def _poll_failed(self, state: SourceState, source: SourceConfig, url: str, reason: str, now: datetime) -> None:
        self.in_flight.discard(source.id)
        state.last_poll = state.last_error_at = now
        state.polls += 1
        state.consecutive_errors += 1
        state.last_error = reason
        state.next_poll = self._next_poll(source, state, now)
        errors = self.runtime.report(source.id).errors
        errors.append(reason)
        del errors[:-10]  # the daemon polls for months: keep the latest few
        self.crawler.stats.inc_value("newsmon/polls/errors")
        if self.runtime.metrics:
            self.runtime.metrics.polls.labels(source.id, "error").inc()
        log.error("source %s: %s: %s", source.id, url, reason,
                  extra={"source": source.id, "url": url, "error": reason, "errors": state.consecutive_errors})
        threshold = self.runtime.config.crawl.health_after
        with self.runtime.store.transaction() as conn:
            if state.consecutive_errors >= threshold and not state.health_alerted and self.runtime.engine is not None:
                self.runtime.engine.enqueue_health(conn, source_id=source.id, url=source.url, status="failing",
                                                   error=reason, errors=state.consecutive_errors, now=now)
                state.health_alerted = True
            self.runtime.store.save_source_state(state)

    def _next_poll(self, source: SourceConfig, state: SourceState, now: datetime) -> datetime:
        return next_check(now, source.interval, state, self.runtime.config.crawl.backoff_max)

    # -- the daemon's long-lived crawl ------------------------------------------------------------

    in_flight: set[str]
    keep_alive = False      # the daemon sets this: the spider stays open, fed by poll()

    def poll(self, source_id: str) -> bool:
        """Queue a poll of one source into this running crawl (daemon). False if one is in flight."""
        if source_id in self.in_flight:
            return False
        self.in_flight.add(source_id)
        self.crawler.engine.crawl(self.index_request(self.runtime.source(source_id)))
        return True

    def _idle(self) -> None:
        from scrapy.exceptions import DontCloseSpider

        if self.keep_alive:
            raise DontCloseSpider

    def _unknown(self, source: SourceConfig, urls: list[str]) -> list[str]:
        known = self.runtime.store.known_urls(urls)
        self.runtime.report(source.id).seen += len(known)
        return [u for u in urls if u not in known]


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
