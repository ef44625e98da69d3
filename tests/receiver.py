"""A scripted HTTP receiver on 127.0.0.1 for tests: plays Slack, a webhook consumer or any HTTP service.

    with Receiver() as rx:                      # port 0: the OS picks a free port
        rx.script(Reply(500), Reply(429, headers={"Retry-After": "1"}), HANG, DROP, Reply(200, "ok"))
        ... post to rx.url + "/any/path" ...
        reqs = rx.wait_for(3, timeout=5)         # the first 3 requests, or AssertionError

Each request takes the next scripted response; when the script is empty, `default` answers. `HANG`
holds the request without answering until the receiver stops (or `release()`); `DROP` closes the
connection without a response. Every request is recorded (method, path, headers, body), including
hung and dropped ones.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


HANG = "hang"
DROP = "drop"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answer: Reply | str = ""          # the scripted action it got: a Reply, HANG or DROP
    at: float = 0.0                   # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


class Receiver:
    def __init__(self, default: Reply | str | None = None) -> None:
        self.default: Reply | str = default if default is not None else Reply(200, "ok")
        self.requests: list[Request] = []
        self._script: deque[Reply | str] = deque()
        self._cond = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._cond:
                    action = receiver._script.popleft() if receiver._script else receiver.default
                    receiver.requests.append(
                        Request("POST", self.path, dict(self.headers.items()), body, action, time.monotonic())
                    )
                    receiver._cond.notify_all()
                if action == HANG:
                    receiver._release.wait(60)
                    self.close_connection = True
                    return
                if action == DROP:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                assert isinstance(action, Reply)
                data = action.body.encode("utf-8")
                self.send_response(action.status)
                for k, v in action.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name="receiver", daemon=True
        )

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *actions: Reply | str) -> None:
        with self._cond:
            self._script.extend(actions)

    def succeeded(self) -> list[Request]:
        """Requests answered with a 2xx."""
        with self._cond:
            return [r for r in self.requests if isinstance(r.answer, Reply) and 200 <= r.answer.status < 300]

    def release(self) -> None:
        """Let hung requests go (they get no response)."""
        self._release.set()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Request]:
        """Block until at least `n` requests arrived; return them. AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} requests within {timeout}s, got {len(self.requests)}")
                self._cond.wait(left)
            return list(self.requests)
