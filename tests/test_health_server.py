"""The health endpoint (a ThreadingHTTPServer thread, as the daemon starts it) shrugs off clients that
hang up mid-request or before reading the response: no traceback, and it keeps answering. A client that
connects and sends nothing (or stops in the middle of its headers) is disconnected after the socket
timeout, with one debug line, instead of holding a thread and a socket forever."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from monitor.health import HealthServer
from monitor.metrics import Metrics
from tests.conftest import wait_until


class Gate:
    """The health callback: can hold a request after it was read and before it is answered."""

    def __init__(self) -> None:
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> tuple[bool, dict[str, object]]:
        if self.hold:
            self.entered.set()
            self.release.wait(10)
        return True, {"status": "ok"}


@pytest.fixture
def server(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[HealthServer, Gate]]:
    caplog.set_level(logging.DEBUG, logger="monitor.health")
    gate = Gate()
    hs = HealthServer("127.0.0.1:0", Metrics(), gate)
    hs.start()
    try:
        yield hs, gate
    finally:
        gate.release.set()
        hs.stop()


def _connect(hs: HealthServer) -> socket.socket:
    host, port = hs.address.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=5)


def _reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN (SO_LINGER on, timeout 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _handlers_done() -> bool:
    return not any("process_request_thread" in t.name for t in threading.enumerate())


def _assert_quiet_and_serving(hs: HealthServer, caplog: pytest.LogCaptureFixture,
                              capfd: pytest.CaptureFixture[str], hung_up: bool = True) -> None:
    wait_until(_handlers_done, 10, "the request handlers to finish")
    if hung_up:   # the server did see the broken connection, and said so in one debug line
        assert any(r.levelno == logging.DEBUG and "went away" in r.getMessage() for r in caplog.records)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert "Traceback" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.INFO] == []
    with urllib.request.urlopen(f"http://{hs.address}/healthz", timeout=5) as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == {"status": "ok"}


def test_reset_in_the_middle_of_the_headers(server, caplog, capfd) -> None:  # type: ignore[no-untyped-def]
    hs, _ = server
    for _ in range(3):
        sock = _connect(hs)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")   # no blank line: headers go on
        time.sleep(0.05)                                                # the handler is reading them
        _reset(sock)
    _assert_quiet_and_serving(hs, caplog, capfd)


def test_partial_request_line_then_close(server, caplog, capfd) -> None:  # type: ignore[no-untyped-def]
    hs, _ = server
    for partial in (b"", b"GE", b"GET /heal", b"GET /healthz HTTP/1.1\r\nHo"):
        sock = _connect(hs)
        sock.sendall(partial)
        sock.close()
    _assert_quiet_and_serving(hs, caplog, capfd, hung_up=False)


@pytest.mark.parametrize("close", [_reset, socket.socket.close], ids=["rst", "fin"])
def test_hang_up_before_reading_the_response(server, caplog, capfd, close) -> None:  # type: ignore[no-untyped-def]
    hs, gate = server
    gate.hold = True
    sock = _connect(hs)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert gate.entered.wait(5), "the request was read"    # its response is about to be written
    close(sock)
    time.sleep(0.05)                                        # the client is gone before the handler writes
    gate.hold = False
    gate.release.set()
    # after a FIN the first write may still succeed; after an RST the handler surely fails
    _assert_quiet_and_serving(hs, caplog, capfd, hung_up=close is _reset)


@pytest.fixture
def quick_server(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[HealthServer]:
    """A server whose connections time out after half a second instead of health.TIMEOUT (30 s)."""
    caplog.set_level(logging.DEBUG, logger="monitor.health")
    monkeypatch.setattr(HealthServer, "timeout", 0.5, raising=False)
    hs = HealthServer("127.0.0.1:0", Metrics(), lambda: (True, {"status": "ok"}))
    hs.start()
    try:
        yield hs
    finally:
        hs.stop()


def test_the_default_timeout_is_30_seconds() -> None:
    from monitor import health

    assert health.TIMEOUT == 30 and HealthServer.timeout == health.TIMEOUT


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"], ids=["nothing", "half-headers"])
def test_an_idle_connection_is_closed_after_the_timeout(quick_server, caplog, capfd, sent) -> None:  # type: ignore[no-untyped-def]
    hs = quick_server
    sock = _connect(hs)   # recv gives up after 5 s: long after the server's 0.5 s
    try:
        sock.sendall(sent)
        started = time.monotonic()
        assert sock.recv(1024) == b"", "the server closes the connection without answering"
        assert time.monotonic() - started < 4
    finally:
        sock.close()
    wait_until(_handlers_done, 10, "the request handler to finish")
    assert any(r.levelno == logging.DEBUG and "timed out" in r.getMessage() for r in caplog.records), caplog.text
    _assert_quiet_and_serving(hs, caplog, capfd, hung_up=False)
