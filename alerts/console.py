"""Prints alerts to stdout, several readable lines each. The implicit channel when none is configured,
so `make run` shows something. No config keys beyond the common `rate_limit`.

The first line is `=== ` and the title (`entity · categories · headline`, or `Update n · ...` for a
story's update); the lines under it, indented, are `message.text_lines`: what is new, the glosses, the
deciding sentence with its marked words in [brackets], strength and terms, source and time in the
route's timezone, the story so far, the link, one line per other alert.

Renders the notification's `cleaned()` copy: no field carries ESC (ANSI sequences), CR or another
control character into the operator's terminal, nor a line break that would fake a line."""

from __future__ import annotations

import sys

from alerts.config import ConsoleConfig
from alerts.message import Notification, text_lines


def render_console(n: Notification) -> str:
    n = n.cleaned()
    lines = [f"=== {n.title}"] + [f"    {line}" for line in text_lines(n)]
    return "\n".join(lines) + "\n"


class ConsoleChannel:
    def __init__(self, name: str, config: ConsoleConfig, timeout: float) -> None:
        self.name = name
        self.config = config

    def send(self, message: Notification) -> None:
        sys.stdout.write(render_console(message))
        sys.stdout.flush()
