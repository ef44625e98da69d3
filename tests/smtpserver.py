"""A real SMTP server (aiosmtpd) on 127.0.0.1, port chosen by the OS, capturing what it receives.

    with SmtpServer() as smtp:
        smtp.script("451 4.3.0 try again later")   # optional replies to DATA, in order; then 250
        ... send to ("127.0.0.1", smtp.port) ...
        msgs = smtp.wait_for(1)                    # [Received(mail_from, rcpt_tos, raw, message)]

TLS and login (see tests/tlscerts.py for the context):

    SmtpServer(starttls=ctx, users={"alerts": "pw"})      # STARTTLS required before anything else
    SmtpServer(implicit_tls=ctx, users={"alerts": "pw"})  # TLS from the first byte (SMTPS)

With `users`, AUTH PLAIN/LOGIN is offered only over TLS and every attempt is recorded in `smtp.logins`
as Login(username, password_ok, over_tls).
"""

from __future__ import annotations

import email
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class Login:
    username: str
    password_ok: bool
    over_tls: bool


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
    def __init__(
        self,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        assert not (starttls and implicit_tls), "STARTTLS or implicit TLS, not both"
        self.messages: list[Received] = []
        self.logins: list[Login] = []
        self._script: deque[str] = deque()
        self._cond = threading.Condition()
        self._users = users
        self.port = _free_port()
        kwargs: dict[str, object] = {}
        if starttls:
            kwargs.update(tls_context=starttls, require_starttls=True)
        if users is not None:
            kwargs["authenticator"] = self._authenticate
            # aiosmtpd 1.4.6 only counts a STARTTLS upgrade as TLS, so with implicit TLS it would refuse
            # every AUTH (aio-libs/aiosmtpd#281); there the whole connection is TLS, and _authenticate
            # still refuses a login that did not arrive over TLS.
            kwargs["auth_require_tls"] = implicit_tls is None
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, ssl_context=implicit_tls, ready_timeout=30.0,
            **kwargs,
        )

    def _authenticate(self, server: SMTP, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        assert self._users is not None
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        over_tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        username = data.login.decode("utf-8", "replace")
        ok = self._users.get(username) == data.password.decode("utf-8", "replace")
        with self._cond:
            self.logins.append(Login(username, ok, over_tls))
            self._cond.notify_all()
        return AuthResult(success=ok and over_tls, handled=False)

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
