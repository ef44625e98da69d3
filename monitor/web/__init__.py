"""The status page and the JSON API on the daemon's HTTP port (`server.listen`), served by
monitor/health.py: `WebApp` answers every request but /healthz and /metrics (a WSGI app too)."""

from monitor.web.app import Request, Response, WebApp

__all__ = ["Request", "Response", "WebApp"]
