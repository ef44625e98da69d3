"""A real SMTP server (aiosmtpd) on 127.0.0.1, port chosen by the OS, capturing what it receives.

    with SmtpServer() as smtp:
        smtp.script("451 4.3.0 try again later")   # optional replies to DATA, in order; then 250
        ... send to ("127.0.0.1", smtp.port) ...
        msgs = smtp.wait_for(1)                    # [Received(mail_from, rcpt_tos, raw, message)]
"""

from __future__ import annotations

import email
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        s = self.server
        with s._cond:
            if s._script:
                return s._script.popleft()
            raw = envelope.original_content or envelope.content  # type: ignore[attr-defined]
            msg = email.message_from_bytes(raw, policy=default)
            s.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, msg))  # type: ignore[attr-defined,arg-type]
            s._cond.notify_all()
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._script: deque[str] = deque()
        self._cond = threading.Condition()
        self.port = _free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *replies: str) -> None:
        with self._cond:
            self._script.extend(replies)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} messages within {timeout}s, got {len(self.messages)}")
                self._cond.wait(left)
            return list(self.messages)
