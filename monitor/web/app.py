"""The status page (`/`, `/stories/<id>`, `/articles/<id>`: server-rendered Jinja2, no JavaScript) and the
JSON API (`/api/v1/…`, described by monitor/web/openapi.json, served at /api/v1/openapi.json).

Both call the functions of monitor/views.py, the ones `newsmon status/stories/alerts/silence` use.
Every request opens its own store connection in its own thread: read-only for reads (nothing is
written, not even a schema upgrade), the writer for the three calls that change something (add or
expire a silence, requeue dead letters).

Safety:
- `server.token` set: every request but /healthz needs `Authorization: Bearer <token>` (401 without);
  the pages also take `?token=<token>` (their links then carry it; no cookie is set).
- No token: mutating calls (POST) are accepted only from loopback clients (403 otherwise), and every
  request for the page or the API must name the server by an IP address or `localhost` in its Host
  header (403 otherwise: a web page cannot reach the API through DNS rebinding). The read-only
  /healthz and /metrics skip that check (a Prometheus scrapes `newsmon:9464` by name).
- Secrets (the config's registered ones, monitor.logs) are masked by monitor/views.py, in what every
  view returns: nothing here redacts again.
- A POST carrying an `Origin` that is not this server is refused (403): another site's page cannot
  make a browser silence alerts. POST bodies must be `application/json`.
Errors are JSON `{"error": "..."}` on /api/ (HTML on pages) with 400, 401, 403, 404, 405 (with
`Allow`), 409, 413 (a body over 64 KiB), 415, 503 (the store cannot be read).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from monitor import views
from monitor.errors import StoreError
from monitor.logs import redact
from monitor.store.sqlite import ReadOnlyStore

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
OPENAPI = HERE / "openapi.json"
MAX_BODY = 64 * 1024
MAX_ID = 2**63 - 1
LIMIT_MAX = 1000
DURATION = re.compile(r"[1-9][0-9]{0,2}[mhd]")    # the API's durations: 1-999 minutes, hours or days
MATCH_KEYS = ("category", "entity", "language", "source", "tag")
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Request:
    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)   # lower-case names
    body: bytes = b""
    client: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           413: "Content Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error",
           503: "Service Unavailable"}


# -- request helpers ----------------------------------------------------------------------------------

def _query(req: Request) -> dict[str, str]:
    try:
        parsed = parse_qs(req.query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise HTTPError(400, "the query string is not valid UTF-8") from None
    out = {}
    for name, values in parsed.items():
        if len(values) > 1:
            raise HTTPError(400, f"{name}: give it once")
        out[name] = values[0]
    return out


def _int_param(name: str, text: str, low: int = 1, high: int = MAX_ID) -> int:
    if not re.fullmatch(r"-?[0-9]{1,20}", text):
        raise HTTPError(400, f"{name}: not an integer: {text[:40]!r}")
    n = int(text)
    if not low <= n <= high:
        raise HTTPError(400, f"{name}: must be between {low} and {high}")
    return n


def _bool_param(name: str, text: str) -> bool:
    if text in ("true", "false"):
        return text == "true"
    raise HTTPError(400, f'{name}: use "true" or "false"')


def _duration_param(name: str, text: str) -> str:
    if not DURATION.fullmatch(text):
        raise HTTPError(400, f'{name}: not a duration: {text[:40]!r} (use e.g. "30m", "2h", "7d")')
    return text


def _string_param(name: str, text: str) -> str:
    if not text or len(text) > 200:
        raise HTTPError(400, f"{name}: give 1 to 200 characters")
    return text


def _json_body(req: Request) -> Any:
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    if ctype != JSON_TYPE:
        raise HTTPError(415, "send the body as application/json")
    try:
        return json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPError(400, f"the body is not JSON: {exc}") from None


def _matcher_items(name: str, value: Any, regex: bool) -> list[str]:
    """The `matchers` or `regex` object of POST /silences as `KEY=VALUE` / `KEY=~REGEX` strings."""
    if not isinstance(value, dict) or not value:
        raise HTTPError(400, f"{name}: give an object with at least one of {', '.join(MATCH_KEYS)}")
    items = []
    for key, wanted in value.items():
        if key not in MATCH_KEYS:
            raise HTTPError(400, f'{name}: unknown key "{key[:40]}" (use one of: {", ".join(MATCH_KEYS)})')
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values:
            raise HTTPError(400, f"{name}.{key}: give at least one value")
        for v in values:
            if not isinstance(v, str) or not v or len(v) > 200:
                raise HTTPError(400, f"{name}.{key}: give strings of 1 to 200 characters")
            if regex:
                try:
                    re.compile(v)
                except (re.error, RecursionError, OverflowError) as exc:
                    raise HTTPError(400, f"{name}.{key}: invalid regular expression: {exc}") from None
                items.append(f"{key}=~{v}")
            else:
                if v.startswith("~"):
                    raise HTTPError(400, f"{name}.{key}: a value starting with ~ is a regular expression: put it in `regex`")
                items.append(f"{key}={v}")
    return items


def is_loopback(address: str) -> bool:
    """An IP address of this machine's loopback (127.0.0.0/8, ::1, and ::ffff:127.x.x.x as a dual-stack
    socket reports an IPv4 client); a name (even "localhost") is not: a socket address is never one."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _host_name(hostport: str) -> str:
    """The host of a Host header value ("127.0.0.1:9464", "[::1]:9464", "localhost")."""
    hostport = hostport.strip().lower()
    if hostport.startswith("["):
        return hostport[1:].split("]")[0]
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport


def _is_ip_or_localhost(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# -- the app -------------------------------------------------------------------------------------------

Route = tuple[str, re.Pattern[str], dict[str, Callable[..., Response]]]


class WebApp:
    """`handle(Request) -> Response`; also a WSGI app (`app(environ, start_response)`).

    config_provider: the config in force (it changes on reload); rules_provider: the RuleSet in force
    (for articles' explanations; default: the config's keyword files, loaded once per config)."""

    def __init__(self, config_provider: Callable[[], Any], rules_provider: Callable[[], Any] | None = None) -> None:
        self.config_provider = config_provider
        self.rules_provider = rules_provider
        self._env: Any = None
        self._openapi: bytes | None = None
        self.routes: list[Route] = []
        r = self._route
        r("/", GET=self.page_index)
        r("/stories/{id}", GET=self.page_story)
        r("/articles/{id}", GET=self.page_article)
        r("/api/v1/openapi.json", GET=self.api_openapi)
        r("/api/v1/daemon", GET=self.api_daemon)
        r("/api/v1/sources", GET=self.api_sources)
        r("/api/v1/outbox", GET=self.api_outbox)
        r("/api/v1/stories", GET=self.api_stories)
        r("/api/v1/stories/{id}", GET=self.api_story)
        r("/api/v1/articles", GET=self.api_articles)
        r("/api/v1/articles/{id}", GET=self.api_article)
        r("/api/v1/alerts", GET=self.api_alerts)
        r("/api/v1/alerts/retry-dead", POST=self.api_retry_dead)
        r("/api/v1/alerts/{id}/retry", POST=self.api_retry)
        r("/api/v1/silences", GET=self.api_silences, POST=self.api_add_silence)
        r("/api/v1/silences/{id}/expire", POST=self.api_expire_silence)

    def _route(self, template: str, **methods: Callable[..., Response]) -> None:
        pattern = re.compile("^" + "([^/]*)".join(re.escape(part) for part in template.split("{id}")) + "$")
        self.routes.append((template, pattern, methods))

    # -- dispatch ----------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        api = req.path.startswith("/api/")
        try:
            return self._dispatch(req)
        except HTTPError as exc:
            return self._error(exc.status, exc.message, api, exc.headers)
        except views.NotFound as exc:
            return self._error(404, str(exc), api)
        except StoreError as exc:
            return self._error(503, redact(str(exc)), api)
        except sqlite3.OperationalError as exc:   # locked longer than the busy timeout, or unreadable
            return self._error(503, f"store: {exc} (try again)", api)
        except Exception:
            log.error("web: %s %s failed", req.method, req.path, exc_info=True)
            return self._error(500, "internal error (see the daemon's log)", api)

    def _dispatch(self, req: Request) -> Response:
        if len(req.body) > MAX_BODY:
            raise HTTPError(413, "the body is too large")
        for template, pattern, methods in self.routes:
            m = pattern.match(req.path)
            if m is None:
                continue
            allowed = sorted(methods) + (["HEAD"] if "GET" in methods else [])
            method = "GET" if req.method == "HEAD" else req.method
            config = self.config_provider()
            self._authorize(req, config, mutating=method not in ("GET", "OPTIONS"), page=not template.startswith("/api/"))
            if req.method == "OPTIONS":
                return Response(204, b"", "text/plain", {"Allow": ", ".join([*allowed, "OPTIONS"])})
            if method not in methods:
                raise HTTPError(405, f"{req.method} is not allowed here (allowed: {', '.join(allowed)})",
                                {"Allow": ", ".join(allowed)})
            args = [_int_param("id", m.group(1))] if m.groups() else []
            resp = methods[method](req, config, *args)
            if req.method == "HEAD":
                resp.headers["Content-Length"] = str(len(resp.body))
                resp.body = b""
            return resp
        raise HTTPError(404, f"not found: {req.path[:200]} (try /, /api/v1/openapi.json, /healthz or /metrics)")

    def check_auth(self, req: Request, config: Any, page: bool = False, check_host: bool = True) -> None:
        """401 unless the request carries the token (when one is set); when none is, 403 for a Host that
        is no IP address or localhost (`check_host`: off for the read-only /healthz and /metrics)."""
        token = config.server.token.get_secret_value() if config.server.token is not None else None
        if token is None:
            if not check_host:
                return
            host = req.header("host")
            if host and not _is_ip_or_localhost(_host_name(host)):
                raise HTTPError(403, "without server.token, name this server by its IP address or localhost")
            return
        given = None
        auth = req.header("authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            given = value.strip()
        elif page:
            given = _query(req).get("token")
        if given is None or not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8")):
            raise HTTPError(401, "a valid token is needed: Authorization: Bearer <server.token>",
                            {"WWW-Authenticate": 'Bearer realm="newsmon"'})

    def _authorize(self, req: Request, config: Any, mutating: bool, page: bool) -> None:
        self.check_auth(req, config, page)
        if not mutating:
            return
        origin = req.header("origin")
        if origin and origin != "null":
            host = urlsplit(origin).netloc.lower()
            if host != (req.header("host") or "").strip().lower():
                raise HTTPError(403, f"cross-origin request from {origin[:100]} refused")
        elif origin == "null":
            raise HTTPError(403, "cross-origin request refused")
        if config.server.token is None and not is_loopback(req.client):
            raise HTTPError(403, "changes are accepted only from this machine unless server.token is set")

    def _error(self, status: int, message: str, api: bool, headers: dict[str, str] | None = None) -> Response:
        if api:
            return Response(status, _dumps({"error": message}), JSON_TYPE, dict(headers or {}))
        body = self._render("error.html", status=status, reason=REASONS.get(status, ""), message=message, q="")
        return Response(status, body, HTML_TYPE, dict(headers or {}))

    # -- WSGI --------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
        api = path.startswith("/api/")
        length = (environ.get("CONTENT_LENGTH") or "").strip()
        if length and not re.fullmatch(r"[0-9]+", length):
            resp = self._error(400, "bad Content-Length", api)
        elif length and int(length) > MAX_BODY:   # refused unread, never truncated
            resp = self._error(413, "the body is too large", api)
        else:
            body = environ["wsgi.input"].read(int(length)) if length else b""
            resp = self.handle(Request(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), headers,
                                       body, environ.get("REMOTE_ADDR", "")))
        out = [("Content-Type", resp.content_type), *resp.headers.items()]
        if "Content-Length" not in resp.headers:
            out.append(("Content-Length", str(len(resp.body))))
        start_response(f"{resp.status} {REASONS.get(resp.status, '')}", out)
        return [resp.body]

    # -- stores ------------------------------------------------------------------------------------

    @staticmethod
    def _reader(config: Any) -> ReadOnlyStore:
        return ReadOnlyStore(config.store_path)

    @staticmethod
    def _writer(config: Any) -> Any:
        from monitor.store import open_store

        return open_store(config.store_path)

    def _rules(self) -> Any:
        return self.rules_provider() if self.rules_provider is not None else None

    # -- pages -------------------------------------------------------------------------------------

    def _template_env(self) -> Any:
        if self._env is None:
            from jinja2 import Environment, FileSystemLoader, select_autoescape

            env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                              autoescape=select_autoescape(["html"], default=True),
                              trim_blocks=True, lstrip_blocks=True)
            env.filters["when"] = _when
            env.filters["ago"] = _ago
            env.globals["sparkline"] = sparkline
            env.globals["now"] = views.utcnow
            self._env = env
        return self._env

    def _render(self, name: str, **context: Any) -> bytes:
        return self._template_env().get_template(name).render(**context).encode("utf-8")

    @staticmethod
    def _q(req: Request) -> str:
        """`?token=…` for the page's links when the token came that way (no cookie is set)."""
        token = _query(req).get("token") if not req.header("authorization") else None
        return f"?token={quote(token, safe='')}" if token else ""

    def _page(self, name: str, req: Request, **context: Any) -> Response:
        body = self._render(name, q=self._q(req), **context)
        return Response(200, body, HTML_TYPE, {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'"})

    def page_index(self, req: Request, config: Any) -> Response:
        now = views.utcnow()
        store = self._reader(config)
        try:
            daemon = views.daemon(config)
            sources = views.sources(config, store, now)
            outbox = views.outbox(store, now)
            stories = views.stories(config, store, open_only=True, limit=50, now=now)
            silences = views.silences(config, store, now=now)
            dead = views.alerts(config, store, "dead", limit=20, now=now)
        finally:
            store.close()
        for s in sources:
            s["next_poll_text"] = views.next_poll_text(s["next_poll"], now, daemon["running"])
        return self._page("index.html", req, now=now, daemon=daemon, daemon_text=views.daemon_text(daemon, now),
                          sources=sources, outbox=outbox, stories=stories, silences=silences, dead=dead)

    def page_story(self, req: Request, config: Any, story_id: int) -> Response:
        now = views.utcnow()
        store = self._reader(config)
        try:
            d = views.story(config, store, story_id, now)
        finally:
            store.close()
        return self._page("story.html", req, now=now, story=d["story"], articles=d["articles"])

    def page_article(self, req: Request, config: Any, article_id: int) -> Response:
        store = self._reader(config)
        try:
            a = views.article(config, store, article_id, self._rules())
        finally:
            store.close()
        return self._page("article.html", req, now=views.utcnow(), article=a)

    # -- API: reading ------------------------------------------------------------------------------

    def api_openapi(self, req: Request, config: Any) -> Response:
        if self._openapi is None:
            self._openapi = OPENAPI.read_bytes()
        return Response(200, self._openapi, JSON_TYPE)

    def api_daemon(self, req: Request, config: Any) -> Response:
        return _json(views.daemon(config))

    def _read(self, config: Any, fn: Callable[[Any], Any]) -> Response:
        store = self._reader(config)
        try:
            return _json(fn(store))
        finally:
            store.close()

    def api_sources(self, req: Request, config: Any) -> Response:
        return self._read(config, lambda store: {"sources": views.sources(config, store)})

    def api_outbox(self, req: Request, config: Any) -> Response:
        return self._read(config, lambda store: views.outbox(store))

    def api_stories(self, req: Request, config: Any) -> Response:
        q = _query(req)
        open_only = _bool_param("open", q["open"]) if "open" in q else False
        since = _duration_param("since", q["since"]) if "since" in q else None
        limit = _int_param("limit", q["limit"], 1, LIMIT_MAX) if "limit" in q else 100
        return self._read(config, lambda store: {"stories": views.stories(
            config, store, open_only=open_only, since=since, limit=limit)})

    def api_story(self, req: Request, config: Any, story_id: int) -> Response:
        return self._read(config, lambda store: views.story(config, store, story_id))

    def api_articles(self, req: Request, config: Any) -> Response:
        q = _query(req)
        kw: dict[str, Any] = {
            "source": _string_param("source", q["source"]) if "source" in q else None,
            "category": _string_param("category", q["category"]) if "category" in q else None,
            "story_id": _int_param("story", q["story"]) if "story" in q else None,
            "flagged": _bool_param("flagged", q["flagged"]) if "flagged" in q else False,
            "since": _duration_param("since", q["since"]) if "since" in q else None,
            "limit": _int_param("limit", q["limit"], 1, LIMIT_MAX) if "limit" in q else 50,
        }
        return self._read(config, lambda store: {"articles": views.articles(config, store, **kw)})

    def api_article(self, req: Request, config: Any, article_id: int) -> Response:
        return self._read(config, lambda store: views.article(config, store, article_id, self._rules()))

    def api_alerts(self, req: Request, config: Any) -> Response:
        q = _query(req)
        state = q.get("state")
        if state is not None and state not in views.ALERT_STATES:
            raise HTTPError(400, f'state: use one of {", ".join(views.ALERT_STATES)}')
        limit = _int_param("limit", q["limit"], 1, LIMIT_MAX) if "limit" in q else 50
        return self._read(config, lambda store: {"alerts": views.alerts(config, store, state, limit)})

    def api_silences(self, req: Request, config: Any) -> Response:
        q = _query(req)
        include = _bool_param("all", q["all"]) if "all" in q else False
        return self._read(config, lambda store: {"silences": views.silences(config, store, include)})

    # -- API: changing -----------------------------------------------------------------------------

    def api_add_silence(self, req: Request, config: Any) -> Response:
        body = _json_body(req)
        if not isinstance(body, dict):
            raise HTTPError(400, "give a JSON object")
        unknown = sorted(set(body) - {"matchers", "regex", "for", "reason", "author"})
        if unknown:
            raise HTTPError(400, f"unknown field: {unknown[0][:40]}")
        if "matchers" not in body and "regex" not in body:
            raise HTTPError(400, "give matchers (exact values) or regex (regular expressions)")
        items = []
        if "matchers" in body:
            items += _matcher_items("matchers", body["matchers"], regex=False)
        if "regex" in body:
            items += _matcher_items("regex", body["regex"], regex=True)
        duration = body.get("for")
        if not isinstance(duration, str) or not DURATION.fullmatch(duration):
            raise HTTPError(400, 'for: give a duration of 1 to 999 minutes, hours or days, e.g. "30m", "2h", "7d"')
        text = {}
        for name, most in (("reason", 1000), ("author", 200)):
            value = body.get(name, "")
            if not isinstance(value, str) or len(value) > most:
                raise HTTPError(400, f"{name}: give a string of at most {most} characters")
            text[name] = value
        store = self._writer(config)
        try:
            made = views.add_silence(config, store, items, duration, text["reason"],
                                     text["author"] or f"api ({req.client or '?'})")
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
        finally:
            store.close()
        log.info("silence %d added through the API for %s: %s", made["id"], made["duration"], made["matchers"])
        return _json(made, 201)

    def api_expire_silence(self, req: Request, config: Any, silence_id: int) -> Response:
        store = self._writer(config)
        try:
            s = views.expire_silence(config, store, silence_id)
        finally:
            store.close()
        log.info("silence %d expired through the API", silence_id)
        return _json(s)

    def api_retry(self, req: Request, config: Any, alert_id: int) -> Response:
        store = self._writer(config)
        try:
            status = views.alert_exists(store, alert_id)
            if status is None:
                raise views.NotFound(f"no alert message {alert_id}")
            if status != "dead":
                raise HTTPError(409, f"alert message {alert_id} is {status}, not dead")
            n = views.retry(config, store, [alert_id])
        finally:
            store.close()
        return _json({"requeued": n})

    def api_retry_dead(self, req: Request, config: Any) -> Response:
        store = self._writer(config)
        try:
            n = views.retry(config, store, None)
        finally:
            store.close()
        return _json({"requeued": n})


# -- rendering helpers ---------------------------------------------------------------------------------

def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _json(data: Any, status: int = 200) -> Response:
    return Response(status, _dumps(data), JSON_TYPE, {"Cache-Control": "no-store"})


def _parse(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _when(value: str | datetime | None) -> str:
    dt = _parse(value)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if dt else "-"


def _ago(value: str | datetime | None) -> str:
    dt = _parse(value)
    return views.ago(dt, views.utcnow()) if dt else "never"


def sparkline(counts: list[int], width: int = 96, height: int = 20) -> dict[str, Any]:
    """Bars for an inline SVG: one per hour, scaled to the busiest hour."""
    top = max(counts) if counts else 0
    step = width / max(len(counts), 1)
    bars = []
    for i, n in enumerate(counts):
        h = 0.0 if top == 0 else max(1.5, (height - 2) * n / top)
        bars.append({"x": round(i * step + 0.5, 2), "y": round(height - h, 2), "w": round(max(step - 1, 1), 2),
                     "h": round(h, 2), "n": n})
    return {"width": width, "height": height, "bars": bars, "total": sum(counts), "top": top}
