"""A real HTTP server on 127.0.0.1 for crawl tests: serves files and scripted responses, answers
conditional GETs with 304, redirects, Retry-After, slow, truncated and dropped responses, and records
every request it receives.

Hostile responses (tests/faults/): a `stream` route sends a body produced chunk by chunk, never held
whole (a 200 MB body costs the server nothing), with a declared Content-Length or chunked; `chunk_delay`
paces the chunks (a server that trickles a byte a second); a `prefix` route answers every path below it
(a feed of 100,000 entries needs no 100,000 routes). A streaming handler stops as soon as the client
hangs up or the site closes."""

from __future__ import annotations

import gzip as gzip_mod
import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True                 # send an ETag and answer If-None-Match with 304
    last_modified: str | None = None  # send Last-Modified and answer If-Modified-Since with 304
    delay: float = 0.0                # seconds before answering (a slow server)
    truncate: bool = False            # promise more bytes than sent, then close
    drop: bool = False                # close the connection without an answer
    gzip: bool = False                # Content-Encoding: gzip
    redirect: str | None = None       # 301 to this path
    stream: Callable[[], Iterable[bytes]] | None = None  # body chunks, generated per request (body unused)
    length: int | None = None         # stream: the Content-Length to declare; None = chunked encoding
    chunk_delay: float = 0.0          # stream: seconds before each chunk (a trickling server)
    prefix: bool = False              # also answer every path that starts with this route's path


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    status: int


class LocalSite:
    """`with LocalSite() as site: site.add("/feed.xml", body, content_type=...); site.url("/feed.xml")`"""

    def __init__(self, host: str = "127.0.0.1") -> None:
        """`host`: any loopback address (127.0.0.2... is another site to Scrapy: its own download slot)."""
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()  # stops streaming handlers when the site closes
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                site._serve(self)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- setup -------------------------------------------------------------------------------

    def __enter__(self) -> LocalSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str = b"", **kw: object) -> str:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body=body, **kw)  # type: ignore[arg-type]
        return self.url(path)

    def add_file(self, path: str, file: Path, **kw: object) -> str:
        return self.add(path, file.read_bytes(), **kw)

    def requests_to(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def requests_under(self, prefix: str) -> list[Hit]:
        """Requests whose path (query string included) starts with `prefix`."""
        with self._lock:
            return [h for h in self.hits if h.path.startswith(prefix)]

    def _route(self, path: str) -> Route | None:
        bare = path.split("?")[0]
        route = self.routes.get(path) or self.routes.get(bare)
        if route is None:
            below = [p for p, r in self.routes.items() if r.prefix and bare.startswith(p)]
            if below:
                route = self.routes[max(below, key=len)]
        return route

    # -- serving -----------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("#")[0]
        route = self._route(path)
        status = route.status if route else 404
        if route and route.redirect:
            status = 301
        etag = None
        if route and route.etag and route.stream is None:
            etag = f'"{hashlib.sha1(route.body).hexdigest()[:16]}"'
        if route and status == 200:
            not_modified_etag = etag is not None and h.headers.get("If-None-Match") == etag
            not_modified_date = bool(route.last_modified) and h.headers.get("If-Modified-Since") == route.last_modified
            if not_modified_etag or not_modified_date:
                status = 304
        with self._lock:
            self.hits.append(Hit(path, dict(h.headers.items()), status))
        if route is None:
            self._send(h, 404, b"not found", {"Content-Type": "text/plain"})
            return
        if route.delay:
            time.sleep(route.delay)
        if route.drop:
            h.close_connection = True
            h.connection.close()
            return
        headers = dict(route.headers)
        if route.content_type:
            headers["Content-Type"] = route.content_type
        if etag:
            headers["ETag"] = etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        if status == 301:
            headers["Location"] = self.url(route.redirect or "/")
            self._send(h, 301, b"", headers)
            return
        if status == 304:
            self._send(h, 304, b"", {k: v for k, v in headers.items() if k != "Content-Type"})
            return
        if route.stream is not None:
            self._stream(h, status, route, headers)
            return
        body = route.body
        if route.gzip:
            body = gzip_mod.compress(body)
            headers["Content-Encoding"] = "gzip"
        if route.truncate:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body) + 10_000))
            h.end_headers()
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        self._send(h, status, body, headers)

    def _stream(self, h: BaseHTTPRequestHandler, status: int, route: Route, headers: dict[str, str]) -> None:
        assert route.stream is not None
        chunked = route.length is None
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(route.length))
        h.end_headers()
        h.close_connection = True
        try:
            for chunk in route.stream():
                if route.chunk_delay and self._closing.wait(route.chunk_delay):
                    return
                if self._closing.is_set():
                    return
                if not chunk:
                    continue
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                h.wfile.flush()
            if chunked:
                h.wfile.write(b"0\r\n\r\n")
                h.wfile.flush()
        except OSError:  # the client hung up (a size limit or a timeout cut the download)
            return

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if status != 304:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if status != 304:
            h.wfile.write(body)
