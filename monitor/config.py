"""config.yaml: one pydantic model per section, unknown keys rejected, every problem reported with file,
line and key path. Relative paths in the file (store.path, keyword files) are relative to the file's
directory. Durations are strings ("30s", "5m", "2h"); sizes are strings ("10MB") or bytes.

Sections: store, crawl, classify, channels, routes, delivery, server, log, sources.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from alerts.config import ChannelConfig, DeliveryConfig, RouteConfig, RouteRefs, is_http_url, reference_problems
from monitor import USER_AGENT
from monitor.classify.config import ClassifyConfig
from monitor.durations import parse_duration
from monitor.errors import ConfigError, ConfigProblem
from monitor.logs import register_secret
from monitor.yamlfile import Parts, load_yaml, substitute_env, validate_parts

Duration = Annotated[float, BeforeValidator(parse_duration)]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_UNITS = {None: 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}
MAX_SIZE = 1024**4


def parse_size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        size: float = value
    else:
        m = _SIZE.match(str(value))
        if not m:
            raise ValueError(f'not a size: "{value}" (use e.g. "10MB")')
        size = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower() if m.group(2) else None]
    if size > MAX_SIZE:
        raise ValueError(f'too large: "{value}" (at most 1TiB)')
    return int(size)


Size = Annotated[int, BeforeValidator(parse_size)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def check_http_url(value: str) -> str:
    if not is_http_url(value):
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
    timeout: Duration = Field(30.0, gt=0)
    max_size: Size = 10 * 1024 * 1024                 # a larger response is dropped, not truncated
    retries: int = Field(2, ge=0, le=10)              # per request, for timeouts and 5xx (not 4xx)
    max_age: Duration = 2 * 86400                     # older articles are stored but never alerted
    fetch_articles: bool = True                       # fetch the article page behind a short feed entry
    min_summary_chars: int = Field(500, ge=0)         # a feed entry with less text than this is fetched
    max_articles_per_poll: int = Field(100, ge=1)     # new links followed per source per poll
    backoff_max: Duration = 6 * 3600                  # failing sources: interval x 2^errors, capped here
    page_retry: Duration = 60.0                       # an article page that failed: retried after this, doubling
    health_after: int = Field(5, ge=1)                # consecutive failures before a source-health alert
    jitter: float = Field(0.1, ge=0, le=0.5)          # fraction of the interval to spread polls by
    shutdown_grace: Duration = 20.0                   # on SIGTERM: time for in-flight requests to finish

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, v: str) -> str:
        if any(c in v for c in "\r\n"):
            raise ValueError("contains a line break")
        return v


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

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
                raise ValueError(f'invalid header name "{name}"')
            if any(c in v[name] for c in "\r\n"):
                raise ValueError(f'header "{name}": value contains a line break')
        return v

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

    @field_validator("selectors")
    @classmethod
    def _selectors_only_for_pages(cls, v: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("type")
        if v and kind is not None and kind != "page":
            raise ValueError(f'selectors apply to type: page only (this source is type: {kind})')
        return v

    def max_age_td(self, crawl: CrawlConfig) -> timedelta:
        return timedelta(seconds=self.max_age if self.max_age is not None else crawl.max_age)


class StoriesConfig(Section):
    """How reports join stories (monitor/stories.py)."""

    window: Duration = Field(48 * 3600, ge=60)           # a story takes new reports until quiet this long
    copy_similarity: float = Field(0.75, gt=0, le=1)     # estimated Jaccard of body shingles: a near-copy
    similar_text: float = Field(0.3, gt=0, le=1)         # same language, no entity: text this similar joins


class ServerConfig(Section):
    """The daemon's HTTP endpoint: /healthz, /metrics, the status page (/) and the JSON API (/api/v1/).
    `token`: a secret (write it as ${ENV_VAR}); when set, every request but /healthz needs
    `Authorization: Bearer <token>` (the page also takes `?token=`). Empty: no token."""

    enabled: bool = True
    listen: str = "127.0.0.1:9464"
    token: SecretStr | None = None

    @field_validator("token")
    @classmethod
    def _token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        if v.get_secret_value() != v.get_secret_value().strip() or any(not c.isprintable() for c in v.get_secret_value()):
            raise ValueError("must not have spaces around it or control characters")
        register_secret(v.get_secret_value())   # written in the file itself: never in logs either
        return v

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if (not sep or not re.fullmatch(r"[0-9]{1,5}", port) or int(port) >= 65536
                or not re.fullmatch(r"[A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]", host)):
            raise ValueError('use "HOST:PORT", e.g. "127.0.0.1:9464" or "[::1]:9464"')
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
    stories: StoriesConfig = StoriesConfig()
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
        return _resolve(self.base_dir, relative)

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


def _resolve(base_dir: Path, relative: str) -> Path:
    p = Path(relative).expanduser()
    return p if p.is_absolute() else base_dir / p


def _cross_checks(parts: Parts, base_dir: Path) -> list[ConfigProblem]:
    """What the schema can't express, on every part of the file that parsed: a check runs unless its
    own inputs are invalid (a duplicate id is found among sources with other problems, a route's
    channels are looked up among channels whose settings are wrong)."""
    doc = parts.doc
    problems = []
    first: dict[str, int] = {}
    for i, _ in parts.items("sources"):
        sid = parts.get("sources", i, "id")
        if not isinstance(sid, str):
            continue
        if sid in first:
            problems.append(doc.problem(["sources", i, "id"], f'duplicate source id "{sid}" '
                                        f'(first at line {doc.line_of(["sources", first[sid], "id"])})'))
        else:
            first[sid] = i
    channels = parts.raw("channels")
    if isinstance(channels, (dict, type(None))) and isinstance(parts.raw("routes"), list):
        routes: list[RouteRefs | None] = [_route_refs(parts, i) for i, _ in parts.items("routes")]
        for loc, message in reference_problems(channels or {}, routes):
            problems.append(doc.problem(list(loc), message))
    paths: list[list[str | int]] = [["store", "path"], ["classify", "watchlist"]]
    paths += [["classify", "keywords", i] for i, _ in parts.items("classify", "keywords")]
    paths += [["channels", name, "ca_file"] for name, _ in parts.items("channels")]
    for loc in paths:
        value = parts.get(*loc)
        if isinstance(value, str) and (reason := _unusable_path(base_dir, value)):
            problems.append(doc.problem(loc, reason))
        elif loc == ["store", "path"] and isinstance(value, str) and (
                not value.strip() or _resolve(base_dir, value).is_dir()):
            problems.append(doc.problem(loc, 'must name the SQLite file, e.g. "newsmon.db"'))
    return problems


def _route_refs(parts: Parts, i: int) -> RouteRefs | None:
    """A route's channel names and whether it catches everything, from the parts of it that are valid."""
    from pydantic import TypeAdapter

    if not isinstance(parts.raw("routes", i), dict):
        return None
    names = [(j, n) for j, _ in parts.items("routes", i, "channels")
             if isinstance(n := parts.get("routes", i, "channels", j), str)]
    catch_all: bool | None = None
    match, cont = parts.raw("routes", i, "match"), parts.raw("routes", i, "continue")
    if match and isinstance(match, dict):
        catch_all = False  # it has a match, valid or not
    elif parts.usable("routes", i, "match") and parts.usable("routes", i, "continue"):
        try:
            catch_all = not match and not TypeAdapter(bool).validate_python(False if cont is None else cont)
        except ValueError:
            catch_all = None
    return RouteRefs(names, catch_all)


def _unusable_path(base_dir: Path, value: str) -> str | None:
    """Why a path written in the file can never be opened (None if it can, whether it exists or not)."""
    try:
        _resolve(base_dir, value).exists()
    except RuntimeError as exc:  # "~nosuchuser/..."
        return str(exc)
    except OSError as exc:  # a name too long
        return exc.strerror or str(exc)
    except ValueError as exc:  # a NUL byte
        return str(exc)
    return None


def _bad_numbers(value: Any, loc: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    """Numbers pydantic accepted but the daemon cannot use: "nan" and "inf" written as strings, and
    integers beyond 64 bits (SQLite, timers and C libraries overflow on them)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield loc, "not a finite number"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        yield loc, "number too large"
    elif isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            if not field.exclude:
                yield from _bad_numbers(getattr(value, name), [*loc, field.alias or name])
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _bad_numbers(v, [*loc, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _bad_numbers(v, [*loc, i])


_SECRET_NAME = re.compile(r"pass|token|secret|key|auth|cookie|credential|signature|session", re.I)


def _register_secrets(config: Config) -> None:
    """Secret-bearing values written in the file itself (${VAR} values are registered when substituted)."""
    for channel in config.channels.values():
        register_secret(*channel.secret_values())
    for source in config.sources:
        parts = urlsplit(source.url)
        register_secret(*(v for k, v in source.headers.items() if _SECRET_NAME.search(k)),
                        *(v for k, v in parse_qsl(parts.query) if _SECRET_NAME.search(k)),
                        parts.password or "")


def check_config(path: str | Path, env: dict[str, str] | None = None) -> tuple[
    Config | None, list[ConfigProblem], Parts | None
]:
    """Read and validate a config file in one pass: (the config or None, every problem found, sorted by
    line, and the parts of the file that are valid, for further cross-checks; None when the file could
    not even be read as YAML)."""
    path = Path(path)
    doc, problems = load_yaml(path, display_name=str(path))
    if problems:
        return None, problems, None
    problems = substitute_env(doc, env)
    config, more, parts = validate_parts(doc, Config)
    unset = {p.path for p in problems}  # a missing variable explains that value's other problems
    for p in problems:
        parts.spoil([int(k) if k.isdigit() else k for k in re.split(r"\.|\[|\]\.?", p.path) if k])
    base_dir = path.resolve().parent
    more += _cross_checks(parts, base_dir)
    if config is not None:
        more += [doc.problem(loc, message) for loc, message in _bad_numbers(config, [])]
    else:
        for loc, value in parts.validated(Config):
            more += [doc.problem(at, message) for at, message in _bad_numbers(value, loc)]
    problems += [p for p in more if p.path not in unset]
    problems.sort(key=lambda p: (p.line or 0))
    if config is not None:
        assert isinstance(config, Config)
        config.path = path.resolve()
    return (config if not problems else None), problems, parts


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    """Read and validate a config file. Raises ConfigError with every problem found."""
    config, problems, _ = check_config(path, env)
    if problems:
        raise ConfigError(problems)
    assert config is not None
    _register_secrets(config)
    for channel in config.channels.values():  # like every path in the file: relative to its directory
        if getattr(channel, "ca_file", None):
            channel.ca_file = str(config.resolve(channel.ca_file))  # type: ignore[union-attr]
    return config


def default_config() -> Config:
    """The embedded defaults: what `newsmon` runs on when config.yaml has no sections at all."""
    return Config()
