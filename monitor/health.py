"""The daemon's HTTP endpoint on `server.listen` (default 127.0.0.1:9464): `/healthz` (JSON, 200 while
the scheduler is ticking, 503 when it has stalled) and `/metrics` (Prometheus text format)."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.metrics import Metrics

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """Called inside the `except` of a failed request; the default prints a traceback to stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):   # BrokenPipe, ConnectionReset: the client hung up
            log.debug("health endpoint: client %s went away: %s", client_address[0], exc)
        else:
            log.error("health endpoint: request from %s failed", client_address[0], exc_info=True)


class HealthServer:
    def __init__(self, listen: str, metrics: Metrics, health: Callable[[], tuple[bool, dict[str, object]]]) -> None:
        host, _, port = listen.rpartition(":")
        self.metrics = metrics
        self.health = health
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                if path == "/metrics":
                    body = generate_latest(outer.metrics.registry)
                    self._send(200, body, CONTENT_TYPE_LATEST)
                elif path in ("/healthz", "/health"):
                    ok, info = outer.health()
                    self._send(200 if ok else 503, json.dumps(info).encode(), "application/json")
                else:
                    self._send(404, b"not found: try /healthz or /metrics\n", "text/plain")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = _Server((host.strip("[]") or "127.0.0.1", int(port)), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self.thread.start()
        log.info("health and metrics on http://%s/healthz and /metrics", self.address)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
