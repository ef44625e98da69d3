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

import functools
import inspect
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.config import SourceConfig
from monitor.dates import parse_http_date
from monitor.logs import redact
from monitor.models import Article
from monitor.runtime import Runtime
from monitor.schedule import next_check
from monitor.store.base import PendingEntry, SourceState
from monitor.urls import canonical_url, same_site

log = logging.getLogger(__name__)

# Statuses the spider handles itself. 3xx are left to the RedirectMiddleware; 5xx are retried by the
# RetryMiddleware first.
HANDLED_STATUSES = [304, 400, 401, 403, 404, 405, 406, 410, 429, 451, 500, 502, 503, 504, 520, 521, 522, 524]
PERMANENT_STATUSES = (404, 410, 451)  # an article page answering these is set aside, not retried
MAX_SITEMAP_DEPTH = 3
MAX_SITEMAPS_PER_POLL = 50   # child sitemaps one poll of a source fetches
QUEUE_PER_POLL_FACTOR = 10   # new entries queued per response: this x crawl.max_articles_per_poll
MAX_ENTRY_ATTEMPTS = 8       # tries of an article page before the feed's summary stands in for it


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
    if isinstance(exc, IgnoreRequest):
        lowered = text.lower()
        if "robots" in lowered:
            return "forbidden by robots.txt"
        if "download_maxsize" in lowered or "exceeded" in lowered:
            return "response larger than crawl.max_size (after decompression)"
        if "max redirections" in lowered:
            return "redirect loop (more than 5 redirects)"
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


def store_guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """For callbacks and errbacks: a store failure (locked, read-only, full) is reported once through
    runtime.store_health instead of a traceback per response, and the source and page are released so a
    later poll tries again. Whatever the callback yielded before the failure is dropped with it."""

    def failed(self: SourceSpider, arg: Any, exc: sqlite3.Error) -> None:
        meta = arg.meta if isinstance(arg, Response) else arg.request.meta
        source_id = meta.get("newsmon_source", "?")
        self.in_flight.discard(source_id)
        entry = meta.get("newsmon_entry")
        if entry is not None:
            self.settled(source_id, entry.url)
        self.crawler.stats.inc_value("newsmon/store/errors")
        self.runtime.store_health.failed(f"polling source {source_id}", exc)

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def async_wrapper(self: SourceSpider, arg: Any) -> AsyncIterator[Any]:
            try:
                out = [x async for x in method(self, arg)]
            except sqlite3.Error as exc:
                failed(self, arg, exc)
                return
            for x in out:
                yield x

        return async_wrapper

    @functools.wraps(method)
    def wrapper(self: SourceSpider, arg: Any) -> list[Any]:
        try:
            result = method(self, arg)
            return list(result) if result is not None else []
        except sqlite3.Error as exc:
            failed(self, arg, exc)
            return []

    return wrapper


async def _in_thread(func: Callable[..., Any], *args: Any) -> Any:
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet.threads import deferToThread

    return await maybe_deferred_to_future(deferToThread(func, *args))


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
        try:
            spider.sources = spider._select_sources()
        except ValueError:
            if spider._owns_runtime:
                spider.runtime.close()
            raise
        spider.in_flight = set()
        spider.pages_in_flight = {}
        from scrapy import signals

        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    _owns_runtime = False

    def _select_sources(self) -> list[SourceConfig]:
        """Raises SourceChoiceError (a ValueError) for an unknown id or a source of another kind;
        `scrapy crawl` reports that in one line before the crawl starts (spiders/crawl.py)."""
        from monitor.crawl import parse_source_arg, select_sources

        return select_sources(self.runtime.config, parse_source_arg(self.source_arg), self.kinds)

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

    @store_guarded
    async def parse_index(self, response: Response) -> AsyncIterator[Any]:
        source = self.runtime.source(response.meta["newsmon_source"])
        depth = response.meta.get("newsmon_depth", 0)
        now = utcnow()
        state = response.meta.get("newsmon_state") or self.runtime.store.source_state(source.id)
        report = self.runtime.report(source.id)
        if response.status == 304:
            report.not_modified = True
            self._poll_succeeded(state, now, not_modified=True)
        elif response.status >= 400 and depth > 0:  # a child sitemap: the source itself answered
            self._article_error(source, response.url, f"HTTP {response.status}", now)
            return
        elif response.status >= 400:
            reason = f"HTTP {response.status}"
            if response.status in (429, 503):
                until = retry_after(response.headers.get("Retry-After"), now)
                if until:
                    state.retry_after_until = until
                    reason += f" (Retry-After: until {until.isoformat(timespec='seconds')})"
            self._poll_failed(state, source, response.url, reason, now)
            return
        else:
            # Parsing a large feed takes seconds of CPU: in a thread, so downloads in flight meanwhile
            # keep being read instead of timing out behind it.
            doc = await _in_thread(self._parse, source, response, now)
            children: list[scrapy.Request] = []
            if source.type == "feed":
                found = self._from_feed(source, response, doc, state, now)
            elif source.type == "sitemap":
                found = self._from_sitemap(source, response, doc, state, now, depth, children)
            else:
                found = self._from_listing(source, response, doc)
            if found is None:  # the poll failed
                return
            if depth == 0:
                self._poll_succeeded(state, now, entries=found, validators=response)
            else:
                self._queue(found, now)
            for request in children:
                yield request
        for out in self.dispatch(source, now):
            yield out

    def _parse(self, source: SourceConfig, response: Response, now: datetime) -> Any:
        """The feed, sitemap or listing in a response (runs in a worker thread: no store, no state)."""
        content_type = _header(response, "Content-Type")
        if source.type == "feed":
            from monitor.feeds import parse_feed

            return parse_feed(response.body, response.url, content_type)
        if source.type == "sitemap":
            from monitor.sitemaps import parse_sitemap

            return parse_sitemap(response.body, response.url, now=now,
                                 max_age=source.max_age_td(self.runtime.config.crawl))
        from monitor.listing import find_article_links

        return find_article_links(response.body, response.url, selectors=source.selectors or None,
                                  content_type=content_type)

    def _from_feed(self, source, response, feed, state, now) -> list[PendingEntry] | None:
        if feed.error and not feed.entries:
            self._poll_failed(state, source, response.url, f"malformed feed: {feed.error}", now)
            return None
        if feed.error:
            log.warning("source %s: %s: feed is malformed, %d entries recovered: %s",
                        source.id, response.url, len(feed.entries), feed.error,
                        extra={"source": source.id, "url": response.url, "error": feed.error})
        for warning in feed.warnings:
            log.info("source %s: %s: %s", source.id, response.url, warning)
        fetch = source.fetch_articles if source.fetch_articles is not None else self.runtime.config.crawl.fetch_articles
        min_chars = self.runtime.config.crawl.min_summary_chars
        found = []
        for e in feed.entries:
            if not e.url:
                continue
            body = e.content if len(e.content) >= len(e.summary) else e.summary
            fetch_page = fetch and len(body) < min_chars
            found.append(PendingEntry(
                url=canonical_url(e.url), source_id=source.id, title=e.title, published=e.published,
                language=e.language or feed.language or source.language,
                summary=body, text="" if fetch_page else body, fetch=fetch_page,
            ))
        return found

    def _from_sitemap(self, source, response, sitemap, state, now, depth, children) -> list[PendingEntry] | None:
        if sitemap.error and not (sitemap.entries or sitemap.sitemaps):
            if depth == 0:
                self._poll_failed(state, source, response.url, f"malformed sitemap: {sitemap.error}", now)
            else:
                self._article_error(source, response.url, f"malformed sitemap: {sitemap.error}", now)
            return None
        if sitemap.error:
            log.warning("source %s: %s: sitemap partly unreadable: %s", source.id, response.url, sitemap.error,
                        extra={"source": source.id, "url": response.url, "error": sitemap.error})
        if sitemap.sitemaps and depth == 0:
            # The index's children are fetched after this response is settled: its validators must not
            # let a later poll skip children that were never read.
            response.meta["newsmon_keep_validators"] = True
        # One poll fetches each sitemap once, and at most MAX_SITEMAPS_PER_POLL of them: an index that
        # lists itself, a cycle or a fan-out of copies ends there.
        fetched = response.meta.setdefault("newsmon_sitemaps", {canonical_url(response.url)})
        for child in sitemap.sitemaps:
            url = canonical_url(child)
            if url in fetched:
                continue
            if depth + 1 > MAX_SITEMAP_DEPTH or len(fetched) >= MAX_SITEMAPS_PER_POLL:
                log.warning("source %s: %s: sitemap index %s, not followed further", source.id, child,
                            f"nested deeper than {MAX_SITEMAP_DEPTH}" if depth + 1 > MAX_SITEMAP_DEPTH else
                            f"lists more than {MAX_SITEMAPS_PER_POLL} sitemaps in one poll",
                            extra={"source": source.id, "url": child})
                break
            fetched.add(url)
            children.append(scrapy.Request(
                child, callback=self.parse_index, errback=self.child_failed, dont_filter=True,
                meta={"newsmon_source": source.id, "handle_httpstatus_list": HANDLED_STATUSES,
                      "newsmon_depth": depth + 1, "newsmon_sitemaps": fetched},
            ))
        return [
            PendingEntry(url=canonical_url(e.url), source_id=source.id, title=e.title or "",
                         published=e.published or e.lastmod, language=e.language or source.language)
            for e in sitemap.entries
        ]

    def _from_listing(self, source, response, links) -> list[PendingEntry]:
        if not links:
            log.warning("source %s: %s: no article links found%s", source.id, response.url,
                        " with the configured selectors" if source.selectors else "",
                        extra={"source": source.id, "url": response.url})
        return [PendingEntry(url=canonical_url(link.url), source_id=source.id, title=link.text,
                             language=source.language) for link in links]

    # -- the queue between discovery and storage ------------------------------------------------------

    def _new_entries(self, entries: Iterable[PendingEntry]) -> tuple[list[PendingEntry], bool]:
        """The entries neither handled nor queued yet, newest first, at most a bounded number per
        response; True when some were left for a later poll."""
        unique: dict[str, PendingEntry] = {}
        for e in entries:
            unique.setdefault(e.url, e)
        if not unique:
            return [], False
        source_id = next(iter(unique.values())).source_id
        new_urls = self.runtime.store.unqueued_urls(list(unique))
        self.runtime.report(source_id).seen += len(unique) - len(new_urls)
        oldest = datetime.min.replace(tzinfo=timezone.utc)
        new = sorted((unique[u] for u in new_urls), key=lambda e: e.published or oldest, reverse=True)
        cap = QUEUE_PER_POLL_FACTOR * self.runtime.config.crawl.max_articles_per_poll
        return new[:cap], len(new) > cap

    def _queue(self, entries: Iterable[PendingEntry], now: datetime) -> None:
        new, _ = self._new_entries(entries)
        if new:
            with self.runtime.store.transaction() as conn:
                self.runtime.store.queue_entries(conn, new, now)

    def dispatch(self, source: SourceConfig, now: datetime) -> Iterable[Any]:
        """Requests (or feed-text articles) for the source's queued entries that are due, never two for
        one URL at a time."""
        busy = self.pages_in_flight.setdefault(source.id, set())
        if self.stopping:
            return
        room = self.runtime.config.crawl.max_articles_per_poll - len(busy)
        if room <= 0:
            return
        for e in self.runtime.store.due_entries(source.id, now, room, exclude=busy):
            busy.add(e.url)
            if e.fetch:
                yield self.article_request(source, e)
            else:
                yield self._article_from_text(source, e, e.text, now)

    def settled(self, source_id: str, url: str | None) -> None:
        """The entry queued under `url` is no longer in flight (stored, set aside or due for a retry)."""
        if url is not None:
            self.pages_in_flight.get(source_id, set()).discard(url)

    def entry_failed(self, source: SourceConfig, entry: PendingEntry, reason: str, now: datetime) -> Iterable[Any]:
        """A transient failure: the entry stays queued and is tried again later, backing off; after
        MAX_ENTRY_ATTEMPTS the feed's own summary stands in for the page (or the URL is set aside)."""
        self.settled(source.id, entry.url)
        attempts = self.runtime.store.entry_failed(entry.url, reason, now, self._entry_backoff)
        if attempts < MAX_ENTRY_ATTEMPTS:
            return
        fallback = entry.summary.strip() or entry.title.strip()
        log.warning("source %s: %s: giving up on the page after %d attempts (%s)%s", source.id, entry.url,
                    attempts, reason, "; using the feed's summary instead" if fallback else "",
                    extra={"source": source.id, "url": entry.url, "error": reason})
        if fallback:
            self.pages_in_flight[source.id].add(entry.url)
            yield self._article_from_text(source, entry, entry.summary, now)
        else:
            self.runtime.store.mark_seen(entry.url, source.id, "error", now)

    def retry_entry(self, source: SourceConfig, url: str, reason: str) -> None:
        """The article could not be processed (a store or classifier failure): try it again later."""
        now = utcnow()
        if self.runtime.store.entry_failed(url, reason, now, self._entry_backoff) >= MAX_ENTRY_ATTEMPTS:
            log.error("source %s: %s: set aside after %d failed attempts to process it", source.id, url,
                      MAX_ENTRY_ATTEMPTS, extra={"source": source.id, "url": url, "error": reason})
            self.runtime.store.mark_seen(url, source.id, "error", now)

    def _entry_backoff(self, attempts: int) -> float:
        crawl = self.runtime.config.crawl
        return min(crawl.page_retry * 2 ** (attempts - 1), crawl.backoff_max)

    # -- articles ----------------------------------------------------------------------------

    def article_request(self, source: SourceConfig, entry: PendingEntry) -> scrapy.Request:
        return scrapy.Request(
            entry.url,
            callback=self.parse_article,
            errback=self.article_failed,
            dont_filter=True,  # the queue and pages_in_flight decide what is fetched, not the dupefilter
            meta={
                "newsmon_source": source.id,
                "newsmon_entry": entry,
                "handle_httpstatus_list": HANDLED_STATUSES,
            },
        )

    @store_guarded
    def parse_article(self, response: Response) -> Iterable[Any]:
        from monitor.extract import extract_page

        source = self.runtime.source(response.meta["newsmon_source"])
        entry: PendingEntry = response.meta["newsmon_entry"]
        now = utcnow()
        if response.status in PERMANENT_STATUSES:
            self._article_error(source, entry.url, f"HTTP {response.status}", now)
            self._give_up(source, entry, now)  # retrying will not help
            return
        if response.status >= 400:
            self._article_error(source, entry.url, f"HTTP {response.status}", now)
            yield from self.entry_failed(source, entry, f"HTTP {response.status}", now)
            return
        tz = ZoneInfo(source.timezone) if source.timezone else None
        page = extract_page(response.body, response.url, _header(response, "Content-Type"), entry.language, tz=tz)
        text = page.text or entry.summary
        if not text.strip():
            self._article_error(source, entry.url, page.error or "no main text found", now)
            self._give_up(source, entry, now)
            return
        url = entry.url
        if page.url and page.url != url and same_site(page.url, url):
            url = page.url  # the page names its canonical URL: the story is stored under it
        yield Article(
            url=url,
            source_id=source.id,
            title=page.title or entry.title,
            text=text,
            language=page.language or entry.language,
            language_source=getattr(page, "language_source", "detected"),
            published=entry.published or page.published,
            fetched=now,
            summary=entry.summary,
            tags=list(source.tags),
            queued_url=entry.url,
        )

    def _give_up(self, source: SourceConfig, entry: PendingEntry, now: datetime) -> None:
        """The page will not yield an article: remember its URL as handled (it leaves the queue)."""
        self.settled(source.id, entry.url)
        self.runtime.store.mark_seen(entry.url, source.id, "error", now)

    @store_guarded
    def article_failed(self, failure: Failure) -> Iterable[Any]:
        request = failure.request  # type: ignore[attr-defined]
        source = self.runtime.source(request.meta["newsmon_source"])
        reason = describe_failure(failure)
        now = utcnow()
        self._article_error(source, request.url, reason, now)
        yield from self.entry_failed(source, request.meta["newsmon_entry"], reason, now)

    @store_guarded
    def child_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        source = self.runtime.source(request.meta["newsmon_source"])
        self._article_error(source, request.url, describe_failure(failure), utcnow())

    def _article_error(self, source: SourceConfig, url: str, reason: str, now: datetime) -> None:
        self.runtime.report(source.id).article_errors += 1
        self.crawler.stats.inc_value("newsmon/articles/errors")
        if self.runtime.metrics:
            self.runtime.metrics.article_errors.labels(source.id).inc()
        log.warning("source %s: %s: %s", source.id, url, reason,
                    extra={"source": source.id, "url": url, "error": reason})

    def _article_from_text(self, source: SourceConfig, entry: PendingEntry, text: str, now: datetime) -> Article:
        return Article(url=entry.url, source_id=source.id, title=entry.title, text=text, language=entry.language,
                       language_source="declared" if entry.language else "detected", published=entry.published,
                       fetched=now, summary=text[:500], tags=list(source.tags), queued_url=entry.url)

    # -- source state ------------------------------------------------------------------------

    @store_guarded
    def index_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        source = self.runtime.source(request.meta["newsmon_source"])
        state = request.meta.get("newsmon_state") or self.runtime.store.source_state(source.id)
        self._poll_failed(state, source, request.url, describe_failure(failure), utcnow())

    def _poll_succeeded(self, state: SourceState, now: datetime, not_modified: bool = False,
                        entries: Iterable[PendingEntry] = (), validators: Response | None = None) -> None:
        """Record a successful poll. The response's new entries are queued and its conditional-GET
        validators saved in one transaction: a crash before it re-reads the response, one after it
        finds the entries queued."""
        source = self.runtime.source(state.source_id)
        new, left_over = self._new_entries(entries)
        if validators is not None:
            keep = left_over or validators.meta.get("newsmon_keep_validators")
            state.etag = None if keep else _header(validators, "ETag")
            state.last_modified = None if keep else _header(validators, "Last-Modified")
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
                self.runtime.engine.enqueue_health(conn, source_id=source.id, url=redact(source.url), status="recovered",
                                                   error=None, errors=0, now=now)
            state.health_alerted = False
            self.runtime.store.queue_entries(conn, new, now)
            self.runtime.store.save_source_state(state)
        self.runtime.store_health.ok()

    def _poll_failed(self, state: SourceState, source: SourceConfig, url: str, reason: str, now: datetime) -> None:
        self.in_flight.discard(source.id)
        state.last_poll = state.last_error_at = now
        state.polls += 1
        state.consecutive_errors += 1
        reason = redact(reason)  # a reason can quote the URL, and the URL a ${VAR}
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
                self.runtime.engine.enqueue_health(conn, source_id=source.id, url=redact(source.url), status="failing",
                                                   error=reason, errors=state.consecutive_errors, now=now)
                state.health_alerted = True
            self.runtime.store.save_source_state(state)

    def _next_poll(self, source: SourceConfig, state: SourceState, now: datetime) -> datetime:
        return next_check(now, source.interval, state, self.runtime.config.crawl.backoff_max)

    # -- the daemon's long-lived crawl ------------------------------------------------------------

    in_flight: set[str]                  # sources with a poll in flight
    pages_in_flight: dict[str, set[str]]  # source id -> queued URLs being fetched or processed
    keep_alive = False      # the daemon sets this: the spider stays open, fed by poll()
    stopping = False        # the daemon is shutting down: no new article requests

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


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
