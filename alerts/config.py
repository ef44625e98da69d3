"""Config models for the `channels:`, `routes:` and `delivery:` sections (see docs/alerts.md).

Every model rejects unknown keys. Secrets (webhook URLs, passwords, signing keys, Apprise URLs, extra
header values) are `SecretStr`, so they never show in `repr`, logs or `newsmon validate` output.
Durations are strings ("30s", "5m", "2h") parsed with monitor.durations.parse_duration into seconds.
`check_references` cross-checks routes against channels for the root config loader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from monitor.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]

MATCH_KEYS = ("category", "entity", "language", "source", "tag")
GROUP_KEYS = ("category", "entity", "language", "source", "story")

_RATE = re.compile(r"^\s*(\d{1,9})\s*/\s*(\S+)\s*$")


def parse_rate(value: str | None) -> float | None:
    """ "1/s", "30/m", "5/10s" -> the minimum interval between two sends in seconds; None = unlimited."""
    if value is None or str(value).strip().lower() in ("", "none", "0", "unlimited"):
        return None
    m = _RATE.match(str(value))
    if not m or int(m.group(1)) == 0:
        raise ValueError(f'not a rate: "{value}" (use e.g. "1/s", "30/m", or "none")')
    per = m.group(2)
    seconds = parse_duration(per if per[0].isdigit() else "1" + per)
    if seconds <= 0:
        raise ValueError(f'not a rate: "{value}" (use e.g. "1/s", "30/m", or "none")')
    return seconds / int(m.group(1))


def _check_rate(value: Any) -> str | None:
    if value is None:
        return None
    parse_rate(str(value))
    return str(value)


Rate = Annotated[str | None, BeforeValidator(_check_rate)]


def secret_parts(values: list[str]) -> list[str]:
    """The secrets and, for URLs, the parts that carry a token (user, password, path segments, query
    values), longest first, so scrubbing an error message also catches a path echoed back alone."""
    out = set()
    for value in values:
        if not value:
            continue
        out.add(value)
        if "://" in value:
            parts = urlsplit(value)
            out.update(p for p in (parts.username, parts.password) if p)
            out.update(seg for seg in parts.path.split("/") if len(seg) >= 6)
            out.update(v for kv in parts.query.split("&") for v in [kv.partition("=")[2]] if len(v) >= 6)
        else:
            out.update(w for w in value.split() if len(w) >= 6)  # e.g. "Bearer <token>"
    return sorted(out, key=len, reverse=True)


def _http_url(secret: SecretStr) -> SecretStr:
    if not is_http_url(secret.get_secret_value()):
        raise ValueError("not an http(s) URL")  # never echo the value: it holds the token
    return secret


def is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError when not a number in 0..65535
    except ValueError:  # also "[" without "]"
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _ChannelBase(_Model):
    rate_limit: Rate = None            # "1/s", "30/m"; none = unlimited
    timeout: Duration | None = None    # per send; default delivery.timeout

    @property
    def min_interval(self) -> float | None:
        return parse_rate(self.rate_limit)

    def secret_values(self) -> list[str]:
        """Every secret value of this channel, as written."""
        out = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out.append(value.get_secret_value())
            elif isinstance(value, dict):
                out += [v.get_secret_value() for v in value.values() if isinstance(v, SecretStr)]
        return out

    def secrets(self) -> list[str]:
        """Every secret value of this channel and its token-bearing parts, for scrubbing error messages."""
        return secret_parts(self.secret_values())


class SlackConfig(_ChannelBase):
    """A Slack incoming webhook."""

    type: Literal["slack"]
    url: SecretStr
    rate_limit: Rate = "1/s"           # Slack allows about one message a second per webhook

    _url = field_validator("url")(_http_url)


class WebhookConfig(_ChannelBase):
    """JSON POST of the versioned payload, optionally HMAC-signed."""

    type: Literal["webhook"]
    url: SecretStr
    secret: SecretStr | None = None                 # HMAC-SHA256 key for X-Newsmon-Signature
    headers: dict[str, SecretStr] = {}              # extra headers (values may hold tokens)

    _url = field_validator("url")(_http_url)

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, value in v.items():
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
                raise ValueError(f'invalid header name "{name}"')
            if any(c in value.get_secret_value() for c in "\r\n"):
                raise ValueError(f'header "{name}": value contains a line break')
        return v


class EmailConfig(_ChannelBase):
    """SMTP delivery: multipart text + HTML."""

    type: Literal["email"]
    host: str
    port: int | None = Field(None, ge=1, le=65535)   # default: 465 ssl, 587 starttls, 25 none
    security: Literal["ssl", "starttls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[newsmon]"
    ca_file: str | None = None          # PEM CA certificates to trust instead of the system store

    @field_validator("from_")
    @classmethod
    def _from(cls, v: str) -> str:
        from email.headerregistry import Address
        from email.utils import parseaddr

        if any(c in v for c in "\r\n"):
            raise ValueError("contains a line break")
        name, addr = parseaddr(v)
        if "@" not in addr:
            raise ValueError(f'not an email address: "{v}"')
        try:
            Address(display_name=name, addr_spec=addr)
        except Exception as exc:  # HeaderParseError is not a ValueError
            raise ValueError(f'not an email address: "{v}" ({exc})') from None
        return v

    @field_validator("to")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        for addr in v:
            if "@" not in addr or any(c in addr for c in "\r\n,"):
                raise ValueError(f'not an email address: "{addr}"')
        return v

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("security") == "none":
            raise ValueError('only used with security "ssl" or "starttls"')
        if v is not None and not v.strip():
            raise ValueError("empty path")
        return v

    @property
    def effective_port(self) -> int:
        return self.port or {"ssl": 465, "starttls": 587, "none": 25}[self.security]


class AppriseConfig(_ChannelBase):
    """Any service Apprise supports, by its Apprise URL (e.g. "tgram://TOKEN/CHAT")."""

    type: Literal["apprise"]
    url: SecretStr


class ConsoleConfig(_ChannelBase):
    """Prints alerts to stdout. The implicit channel when none is configured."""

    type: Literal["console"]


ChannelConfig = Annotated[
    SlackConfig | WebhookConfig | EmailConfig | AppriseConfig | ConsoleConfig,
    Field(discriminator="type"),
]

def _match_value(value: Any) -> Any:
    """A match value: a name, a "~regex", or a list of them."""
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        from monitor.yamlfile import describe

        raise ValueError(f"must be text or a list of texts (got {describe(value)})")
    for item in items:
        if item.startswith("~"):
            try:
                re.compile(item[1:])
            except re.error as exc:
                raise ValueError(f'invalid regular expression "{item[1:]}": {exc}') from None
    return value


def _match_key(key: str) -> str:
    if key not in MATCH_KEYS:
        from monitor.classify.rules import closest

        close = closest(key, MATCH_KEYS)
        hint = f'did you mean "{close}"?; ' if close else ""
        raise ValueError(f'unknown match key "{key}" ({hint}use one of: {", ".join(MATCH_KEYS)})')
    return key


MatchValue = Annotated[str | list[str], BeforeValidator(_match_value)]
MatchKey = Annotated[str, AfterValidator(_match_key)]


class RouteConfig(_Model):
    """One route: which alerts (match) go to which channels, and how they are grouped."""

    match: dict[MatchKey, MatchValue] = {}   # category/entity/language/source/tag: value, list, or "~regex"
    channels: list[str] = Field(min_length=1)
    continue_: bool = Field(False, alias="continue")
    group_by: list[str] = ["story"]      # one story, one thread of messages, whatever its categories
    group_wait: Duration = 30.0
    group_interval: Duration = 300.0
    digest: Duration | None = None       # one summary per period instead of grouped messages
    timezone: str = "UTC"                # times in this route's messages (an IANA name: Europe/Berlin)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown timezone "{v}" (use an IANA name such as "UTC" or "Europe/Berlin")') from None
        return v

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, v: list[str]) -> list[str]:
        for key in v:
            if key not in GROUP_KEYS:
                raise ValueError(f'unknown group_by key "{key}" (use: {", ".join(GROUP_KEYS)})')
        return v

    @field_validator("digest")
    @classmethod
    def _digest(cls, v: float | None) -> float | None:
        if v is not None and v < 60:
            raise ValueError("at least 1m")
        return v


class DeliveryConfig(_Model):
    """The `delivery:` section: how the outbox is worked off."""

    timeout: Duration = Field(10.0, gt=0)  # per send attempt
    backoff_base: Duration = 5.0        # first retry after base, then x2 each attempt, with jitter
    backoff_max: Duration = 600.0       # cap on one backoff step
    max_age: Duration = 86400.0         # an undelivered message older than this goes to dead letters
    max_attempts: int | None = Field(None, ge=1)  # optional cap on attempts (none: only max_age)
    drain_timeout: Duration = 30.0      # how long `crawl --once` waits for deliveries
    poll_interval: Duration = Field(1.0, gt=0)  # how often idle workers look at the outbox


def check_references(
    channels: dict[str, Any], routes: list[RouteConfig]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-checks the schema can't express: undefined channels, routes after a catch-all."""
    return reference_problems(
        channels, [RouteRefs(list(enumerate(r.channels)), not r.match and not r.continue_) for r in routes])


class RouteRefs:
    """What reference_problems needs of one route: its channel names (index in the list, name) and
    whether it is a catch-all (no match, no continue; None when unknown because those are invalid)."""

    __slots__ = ("channels", "catch_all")

    def __init__(self, channels: list[tuple[int, str]], catch_all: bool | None) -> None:
        self.channels = channels
        self.catch_all = catch_all


def reference_problems(
    channels: Iterable[str], routes: Sequence[RouteRefs | None]
) -> list[tuple[tuple[str | int, ...], str]]:
    """check_references on what parsed: the channel names defined (valid or not) and, per route (None
    for one that is not even a mapping), the parts of it that are valid."""
    from monitor.classify.rules import did_you_mean

    names = [n for n in channels if isinstance(n, str)]
    defined = set(names)
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            problems.append((("channels", name), "use letters, digits, '.', '_' and '-' (at most 64)"))
    catch_all: int | None = None
    for i, route in enumerate(routes):
        if catch_all is not None:
            problems.append(
                (("routes", i), f'unreachable: routes[{catch_all}] has no match and no "continue: true"')
            )
        if route is None:
            continue
        for j, name in route.channels:
            if name not in defined:
                problems.append((("routes", i, "channels", j), f'undefined channel "{name}"{did_you_mean(name, names)}'))
        if route.catch_all and catch_all is None:
            catch_all = i
    return problems
