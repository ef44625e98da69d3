"""config.yaml: one pydantic model per section, unknown keys rejected, every problem reported with file,
line and key path. Relative paths in the file (store.path, keyword files) are relative to the file's
directory. Durations are strings ("30s", "5m", "2h"); sizes are strings ("10MB") or bytes.

Sections: store, crawl, classify, channels, routes, delivery, server, log, sources.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from alerts.config import ChannelConfig, DeliveryConfig, RouteConfig, check_references
from monitor import USER_AGENT
from monitor.classify.config import ClassifyConfig
from monitor.durations import parse_duration
from monitor.errors import ConfigError, ConfigProblem
from monitor.yamlfile import YamlDoc, load_yaml, substitute_env, validate_model

Duration = Annotated[float, BeforeValidator(parse_duration)]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_UNITS = {None: 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}


def parse_size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f'not a size: "{value}" (use e.g. "10MB")')
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower() if m.group(2) else None])


Size = Annotated[int, BeforeValidator(parse_size)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    return value


class StoreConfig(Section):
    """Where articles, source state and the alert outbox live."""

    path: str = "newsmon.db"  # SQLite file; relative to the config file's directory


class CrawlConfig(Section):
    """How newsmon fetches: politeness, limits and freshness. Applies to every source."""

    user_agent: str = USER_AGENT
    obey_robots: bool = True
    concurrency: int = Field(16, ge=1, le=512)        # requests in flight, all sites together
    per_domain: int = Field(2, ge=1, le=64)           # requests in flight per site
    delay: Duration = 0.25                            # between requests to one site
    timeout: Duration = 30.0
    max_size: Size = 10 * 1024 * 1024                 # a larger response is dropped, not truncated
    retries: int = Field(2, ge=0, le=10)              # per request, for timeouts and 5xx (not 4xx)
    max_age: Duration = 2 * 86400                     # older articles are stored but never alerted
    fetch_articles: bool = True                       # fetch the article page behind a short feed entry
    min_summary_chars: int = Field(500, ge=0)         # a feed entry with less text than this is fetched
    max_articles_per_poll: int = Field(100, ge=1)     # new links followed per source per poll
    backoff_max: Duration = 6 * 3600                  # failing sources: interval x 2^errors, capped here
    health_after: int = Field(5, ge=1)                # consecutive failures before a source-health alert
    jitter: float = Field(0.1, ge=0, le=0.5)          # fraction of the interval to spread polls by
    shutdown_grace: Duration = 20.0                   # on SIGTERM: time for in-flight requests to finish


class SourceConfig(Section):
    """One polled source: a feed, a sitemap or a listing page."""

    id: str
    type: Literal["feed", "sitemap", "page"]
    url: str
    interval: Duration = 600.0
    cron: str | None = None                           # crontab expression; replaces interval
    language: str | None = None                       # hint when pages don't declare one
    tags: list[str] = []
    max_age: Duration | None = None                   # overrides crawl.max_age
    selectors: list[str] = []                         # page: CSS or XPath selecting article links
    timezone: str | None = None                       # for dates written without one
    fetch_articles: bool | None = None                # overrides crawl.fetch_articles
    headers: dict[str, str] = {}
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", v):
            raise ValueError("use letters, digits, '.', '_' and '-' (at most 64)")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v)

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: float) -> float:
        if v < 1:
            raise ValueError("at least 1s (minutes are kinder to the sites you poll)")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f'unknown time zone "{v}"') from None
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(v)
            except ValueError as exc:
                raise ValueError(f"invalid cron expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _selectors_only_for_pages(self) -> SourceConfig:
        if self.selectors and self.type != "page":
            raise ValueError("selectors apply to type: page only")
        return self

    def max_age_td(self, crawl: CrawlConfig) -> timedelta:
        return timedelta(seconds=self.max_age if self.max_age is not None else crawl.max_age)


class ServerConfig(Section):
    """The daemon's health and metrics endpoint (/healthz, /metrics)."""

    enabled: bool = True
    listen: str = "127.0.0.1:9464"

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError('use "HOST:PORT", e.g. "127.0.0.1:9464"')
        return v


class LogConfig(Section):
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


class Config(Section):
    store: StoreConfig = StoreConfig()
    crawl: CrawlConfig = CrawlConfig()
    classify: ClassifyConfig = ClassifyConfig()
    channels: dict[str, ChannelConfig] = {}
    routes: list[RouteConfig] = []
    delivery: DeliveryConfig = DeliveryConfig()
    server: ServerConfig = ServerConfig()
    log: LogConfig = LogConfig()
    sources: list[SourceConfig] = []

    # Set by load_config, not read from the file.
    path: Path | None = Field(None, exclude=True)
    _by_id: dict[str, SourceConfig] | None = PrivateAttr(None)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def store_path(self) -> Path:
        return self.resolve(self.store.path)

    def source(self, source_id: str) -> SourceConfig:
        by_id = self._by_id
        if by_id is None or len(by_id) != len(self.sources):
            # looked up on every response: a dict, not a scan of thousands of sources
            by_id = self._by_id = {s.id: s for s in self.sources}
        if source_id in by_id:
            return by_id[source_id]
        known = ", ".join(s.id for s in self.sources) or "none"
        raise KeyError(f'unknown source "{source_id}" (configured: {known})')


def _cross_checks(doc: YamlDoc, config: Config) -> list[ConfigProblem]:
    problems = []
    seen: dict[str, int] = {}
    for i, src in enumerate(config.sources):
        if src.id in seen:
            problems.append(doc.problem(["sources", i, "id"], f'duplicate source id "{src.id}" (first at sources[{seen[src.id]}])'))
        seen.setdefault(src.id, i)
    for loc, message in check_references(config.channels, config.routes):
        problems.append(doc.problem(list(loc), message))
    return problems


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    """Read and validate a config file. Raises ConfigError with every problem found."""
    path = Path(path)
    doc, problems = load_yaml(path, display_name=str(path))
    if problems:
        raise ConfigError(problems)
    problems = substitute_env(doc, env)
    config, more = validate_model(doc, Config)
    unset = {p.path for p in problems}  # a missing variable explains that value's other problems
    problems += [p for p in more if p.path not in unset]
    if config is not None:
        assert isinstance(config, Config)
        problems += _cross_checks(doc, config)
    if problems:
        problems.sort(key=lambda p: (p.line or 0))
        raise ConfigError(problems)
    assert isinstance(config, Config)
    config.path = path.resolve()
    for channel in config.channels.values():  # like every path in the file: relative to its directory
        if getattr(channel, "ca_file", None):
            channel.ca_file = str(config.resolve(channel.ca_file))  # type: ignore[union-attr]
    return config


def default_config() -> Config:
    """The embedded defaults: what `newsmon` runs on when config.yaml has no sections at all."""
    return Config()
