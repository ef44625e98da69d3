"""Running Scrapy in-process: settings derived from config.yaml, and `crawl_once()` for
`newsmon crawl --once`. The daemon reuses `scrapy_settings()` with its own long-lived CrawlerRunner
(a Twisted reactor cannot be restarted, so a process runs one reactor for its whole life)."""

from __future__ import annotations

import logging
from typing import Any

from monitor.config import Config

log = logging.getLogger(__name__)

# Retried by Scrapy's RetryMiddleware inside one poll. 429 and 503 are not: they carry Retry-After,
# which newsmon honours for the source as a whole (see spiders/base.py).
RETRY_CODES = [500, 502, 504, 520, 521, 522, 524, 408]


def scrapy_settings(config: Config) -> dict[str, Any]:
    crawl = config.crawl
    settings: dict[str, Any] = {
        "BOT_NAME": "newsmon",
        "SPIDER_MODULES": ["spiders"],
        "NEWSPIDER_MODULE": "spiders",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.per_domain,
        "DOWNLOAD_DELAY": crawl.delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DNS_TIMEOUT": min(crawl.timeout, 20),
        "DOWNLOAD_MAXSIZE": crawl.max_size,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_FAIL_ON_DATALOSS": True,
        "RETRY_ENABLED": crawl.retries > 0,
        "RETRY_TIMES": crawl.retries,
        "RETRY_HTTP_CODES": RETRY_CODES,
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": False,
        # No listener but newsmon's own health port: Scrapy's telnet console and its RemoteControl HTTP
        # server (2.19, on by default) both execute code sent to them.
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None,
                       "scrapy.extensions.remote_control.RemoteControl": None},
        # Few items per response: fetch-bound crawls run ~1.6x faster (PERF.md).
        "CONCURRENT_ITEMS": 8,
        # Scrapy re-reads and re-parses a callback's source on every response to warn about generators
        # returning values (~5 ms per response, its cache misses bound methods): off for polling speed.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "ITEM_PIPELINES": {"spiders.pipelines.StorePipeline": 300},
        "LOG_LEVEL": "INFO",
        "LOGSTATS_INTERVAL": 0,
        "STATS_DUMP": False,
        "HTTPCACHE_ENABLED": False,
        # Seen URLs are remembered in the store; Scrapy's in-memory fingerprint set would only grow in a
        # crawl that lives for months.
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
            "text/html;q=0.8, */*;q=0.5",
            "Accept-Language": "*",
        },
    }
    if config.path is not None:
        settings["NEWSMON_CONFIG"] = str(config.path)
    # `scrapy crawl` from the project root: newsmon's own crawl command checks the config and the
    # `-a source=` ids before Scrapy starts, so a typo costs one line, not a traceback (spiders/crawl.py)
    settings["COMMANDS_MODULE"] = "spiders.crawl"
    return settings


class SourceChoiceError(ValueError):
    """`--source` / `-a source=` names a source that is not configured, or one of another type."""


def unknown_source(config: Config, source_id: str) -> str:
    """'unknown source "nope" (did you mean "nopa"?; known sources: a, b)'."""
    from monitor.classify.rules import closest

    known = [s.id for s in config.sources]
    close = closest(source_id, known)
    hint = f'did you mean "{close}"?; ' if close else ""
    return f'unknown source "{source_id}" ({hint}known sources: {", ".join(known) or "none configured"})'


def select_sources(config: Config, source_ids: list[str] | None,
                   kinds: tuple[str, ...] = ("feed", "sitemap", "page")) -> list[Any]:
    """The sources to poll: those named (whether enabled or not), else every enabled one of `kinds`.
    Raises SourceChoiceError naming the first unknown id, or a source of another kind with the command
    that polls it."""
    if not source_ids:
        return [s for s in config.sources if s.enabled and s.type in kinds]
    chosen = []
    for sid in dict.fromkeys(source_ids):
        try:
            source = config.source(sid)
        except KeyError:
            raise SourceChoiceError(unknown_source(config, sid)) from None
        if source.type not in kinds:
            raise SourceChoiceError(f'source "{sid}" is a {source.type}, not a{"n" if kinds[0][0] in "aeiou" else ""} '
                                    f'{" or ".join(kinds)}: use scrapy crawl {source.type} -a source={sid}')
        chosen.append(source)
    return chosen


def parse_source_arg(value: str | None) -> list[str] | None:
    """`-a source=a,b` -> ["a", "b"]; None (every enabled source) when absent or empty."""
    ids = [s.strip() for s in (value or "").split(",") if s.strip()]
    return ids or None


class _QuietThirdParty(logging.Filter):
    """Drops records below WARNING from Scrapy, Twisted and the extraction libraries."""

    PREFIXES = ("scrapy", "twisted", "py.warnings", "protego", "trafilatura", "htmldate", "filelock", "apscheduler")

    # newsmon reports these failures itself, once per source, with the source id and URL.
    REPORTED = ("scrapy.downloadermiddlewares.retry", "scrapy.downloadermiddlewares.robotstxt",
                "scrapy.core.downloader.handlers.http11", "scrapy.downloadermiddlewares.httpcompression")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(self.REPORTED) and record.levelno < logging.CRITICAL:
            return False
        return record.levelno >= logging.WARNING or not record.name.startswith(self.PREFIXES)


def quiet_scrapy_logs() -> None:
    """Scrapy resets its loggers to DEBUG when a crawler process starts, so its per-request lines and
    version banner are filtered at newsmon's handlers instead (unless newsmon runs with --verbose):
    newsmon logs what happened per source itself."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _QuietThirdParty) for f in handler.filters):
            handler.addFilter(_QuietThirdParty())


def crawl_once(runtime: Any, source_ids: list[str] | None = None) -> None:
    """Poll the given sources (default: all enabled) once, in this process, and return when done."""
    from scrapy.crawler import AsyncCrawlerProcess

    from spiders.base import SourceSpider

    sources = source_ids or [s.id for s in runtime.config.sources if s.enabled]
    if not sources:
        return
    quiet_scrapy_logs()
    settings = scrapy_settings(runtime.config)
    settings["LOG_INSTALL_ROOT_HANDLER"] = False  # newsmon's own logging configuration stays in force
    process = AsyncCrawlerProcess(settings)
    process.crawl(SourceSpider, source=",".join(sources), runtime=runtime)
    process.start()
