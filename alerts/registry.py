"""Channel types by name: a channel module's name, its config `type` and its registry key are the same
word. `build_channel(name, config, timeout)` returns the sender for one configured channel."""

from __future__ import annotations

from typing import Protocol

from alerts.apprise import AppriseChannel
from alerts.console import ConsoleChannel
from alerts.email import EmailChannel
from alerts.message import Notification
from alerts.slack import SlackChannel
from alerts.webhook import WebhookChannel


class Channel(Protocol):
    name: str

    def send(self, message: Notification) -> None:
        """Send one message; raise monitor.errors.NotifyError(reason, retryable, retry_after) on failure."""


CHANNELS: dict[str, type] = {
    "slack": SlackChannel,
    "webhook": WebhookChannel,
    "email": EmailChannel,
    "apprise": AppriseChannel,
    "console": ConsoleChannel,
}


def build_channel(name: str, config: object, timeout: float) -> Channel:
    kind = config.type
    return CHANNELS[kind](name, config, timeout)  # type: ignore[no-any-return]
