"""Any service Apprise supports, by its Apprise URL. Config: `url` (secret), `rate_limit`, `timeout`.

Goes through the same outbox, retries and rate limits as the other channels. Apprise reports only
success or failure, not why, so every failure except an unusable URL is treated as retryable (and ends
in the dead letters after `delivery.max_age`). Apprise's own logging is quietened while sending, since
its messages may contain the URL.
"""

from __future__ import annotations

import logging

import apprise as apprise_lib

from alerts.config import AppriseConfig
from alerts.email import render_text
from alerts.message import Notification
from monitor.errors import NotifyError


def render_apprise(n: Notification) -> tuple[str, str]:
    """(title, body) as plain text: the title (`entity · categories · headline`, or `Update n · ...`) and
    the email text part (marked words of the deciding sentence in [brackets]), so without control
    characters (`cleaned()`)."""
    return n.title, render_text(n)


class AppriseChannel:
    def __init__(self, name: str, config: AppriseConfig, timeout: float) -> None:
        self.name = name
        self.config = config
        self.timeout = config.timeout or timeout
        self.label = f"apprise {name}"

    def _service(self) -> tuple[apprise_lib.Apprise, str]:
        url = self.config.url.get_secret_value()
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        obj = apprise_lib.Apprise()
        if not obj.add(url):
            raise NotifyError(f"{self.label}: not a usable Apprise URL (scheme {scheme}://)", retryable=False)
        for server in obj:
            # Apprise's per-plugin socket timeouts (connect, read)
            if hasattr(server, "socket_connect_timeout"):
                server.socket_connect_timeout = self.timeout
                server.socket_read_timeout = self.timeout
        return obj, scheme

    def send(self, message: Notification) -> None:
        obj, scheme = self._service()
        title, body = render_apprise(message)
        log = logging.getLogger("apprise")
        level = log.level
        log.setLevel(logging.CRITICAL)
        try:
            ok = obj.notify(title=title, body=body, body_format=apprise_lib.NotifyFormat.TEXT)
        finally:
            log.setLevel(level)
        if not ok:
            raise NotifyError(f"{self.label}: the {scheme}:// service did not accept the message", retryable=True)
