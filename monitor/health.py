"""The daemon's HTTP endpoint on `server.listen` (default 127.0.0.1:9464): `/healthz` (JSON, 200 while
the scheduler is ticking, 503 when it has stalled; always open), `/metrics` (Prometheus text format) and,
when the daemon passes its config, the status page and the JSON API (monitor/web: every other path).
With `server.token` set, everything but /healthz needs `Authorization: Bearer <token>`. Without one, the
page and the API refuse a Host header that is no IP address or localhost (DNS rebinding); the read-only
/healthz and /metrics do not check it, so a Prometheus may scrape `newsmon:9464` by name.

Every connection has a socket timeout (`TIMEOUT`): a client that connects and sends nothing, or less
body than its Content-Length, is disconnected after it instead of holding a thread and a socket."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.metrics import Metrics

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024   # bytes: a POST body larger than this is refused (413)
TIMEOUT = 30.0         # seconds a connection may go without sending (or taking) a byte before it is closed


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """Called inside the `except` of a failed request; the default prints a traceback to stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):   # BrokenPipe, ConnectionReset: the client hung up
            log.debug("health endpoint: client %s went away: %s", client_address[0], exc)
        elif isinstance(exc, TimeoutError):    # the socket timeout: the client sent (or took) nothing
            log.debug("health endpoint: client %s timed out: %s", client_address[0], exc)
        else:
            log.error("health endpoint: request from %s failed", client_address[0], exc_info=True)


class HealthServer:
    timeout = TIMEOUT   # the connections' socket timeout (tests lower it)

    def __init__(self, listen: str, metrics: Metrics, health: Callable[[], tuple[bool, dict[str, object]]],
                 config_provider: Callable[[], Any] | None = None,
                 rules_provider: Callable[[], Any] | None = None) -> None:
        host, _, port = listen.rpartition(":")
        self.metrics = metrics
        self.health = health
        self.config_provider = config_provider
        self.app = None
        if config_provider is not None:
            from monitor.web import WebApp

            self.app = WebApp(config_provider, rules_provider)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "newsmon"
            sys_version = ""
            timeout = outer.timeout

            def log_message(self, format: str, *args: object) -> None:
                pass

            def log_error(self, format: str, *args: object) -> None:
                # http.server reports here what it handles itself: a request line or headers that time
                # out ("Request timed out"), a malformed request (answered 400): one debug line each
                log.debug("health endpoint: client %s: " + format, self.client_address[0], *args)

            def __getattr__(self, name: str) -> Any:
                if name.startswith("do_"):   # every method: the app answers 405 (with Allow) where it must
                    return self._any
                raise AttributeError(name)

            def _any(self) -> None:
                path, _, query = self.path.partition("?")
                if path in ("/metrics", "/healthz", "/health") and self.command in ("GET", "HEAD"):
                    self._builtin(path, query)
                    return
                if outer.app is None:
                    self._send(404, b"not found: try /healthz or /metrics\n", "text/plain")
                    return
                from monitor.web import Request

                length = (self.headers.get("Content-Length") or "").strip()
                body = b""
                if length:
                    if not re.fullmatch(r"[0-9]+", length):   # not isdigit(): "²" is a digit to it
                        self.close_connection = True          # where the body ends is not known
                        self._send(400, b'{"error": "bad Content-Length"}', "application/json")
                        return
                    if int(length) > MAX_BODY:
                        self.close_connection = True
                        self._send(413, b'{"error": "the body is too large"}', "application/json")
                        return
                    body = self.rfile.read(int(length))
                    if len(body) < int(length):   # the client hung up before sending all of it
                        self.close_connection = True
                        return
                elif self.headers.get("Transfer-Encoding"):
                    self.close_connection = True
                    self._send(411, b'{"error": "send a Content-Length"}', "application/json")
                    return
                try:
                    target = unquote(path, errors="strict")
                except UnicodeDecodeError:
                    target = "\ufffd"
                headers = {k.lower(): v for k, v in self.headers.items()}
                resp = outer.app.handle(Request(self.command, target, query, headers, body, self.client_address[0]))
                self._send(resp.status, resp.body, resp.content_type, resp.headers)

            def _builtin(self, path: str, query: str) -> None:
                if path == "/metrics" and outer.app is not None:
                    from monitor.web import Request
                    from monitor.web.app import HTTPError

                    headers = {k.lower(): v for k, v in self.headers.items()}
                    try:
                        # the token when one is set, but no Host check: read-only, scraped by name
                        outer.app.check_auth(Request(self.command, path, query, headers, b"", self.client_address[0]),
                                             outer.config_provider(), check_host=False)  # type: ignore[misc]
                    except HTTPError as exc:
                        body = json.dumps({"error": exc.message}).encode()
                        self._send(exc.status, body, "application/json", exc.headers)
                        return
                if path == "/metrics":
                    body = generate_latest(outer.metrics.registry)
                    self._send(200, body, CONTENT_TYPE_LATEST)
                else:
                    ok, info = outer.health()
                    self._send(200 if ok else 503, json.dumps(info).encode(), "application/json")

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                extra = dict(headers or {})
                length = extra.pop("Content-Length", None)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", length or str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self.server = _Server((host.strip("[]") or "127.0.0.1", int(port)), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self.thread.start()
        if self.app is None:
            log.info("health and metrics on http://%s/healthz and /metrics", self.address)
            return
        log.info("status page on http://%s/, API on /api/v1/, health and metrics on /healthz and /metrics",
                 self.address)
        from monitor.web.app import is_loopback

        config = self.config_provider() if self.config_provider is not None else None
        host = str(self.server.server_address[0])
        if config is not None and config.server.token is None and not is_loopback(host):
            log.warning("server.listen %s is reachable from other machines and server.token is not set: anyone "
                        "who can reach it can read the status page and the API (changes are refused from "
                        "other machines); set server.token, or listen on 127.0.0.1", config.server.listen)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
