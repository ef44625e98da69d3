"""Prints alerts to stdout, several readable lines each. The implicit channel when none is configured,
so `make run` shows something. No config keys beyond the common `rate_limit`.

Renders the notification's `cleaned()` copy: no field carries ESC (ANSI sequences), CR or another
control character into the operator's terminal, nor a line break that would fake a line."""

from __future__ import annotations

import sys

from alerts.config import ConsoleConfig
from alerts.message import Notification, more_sources


def render_console(n: Notification) -> str:
    n = n.cleaned()
    lines = [f"=== {n.title}"]
    alerts = n.alerts if n.mode == "digest" else [n.lead]
    for a in alerts:
        if n.mode == "digest":
            lines.append(f"  * {a.headline}")
        lines.append(f"    {a.url}")
        lines.append("    " + " · ".join(f"{k.lower()}: {v}" for k, v in a.facts()))
        if a.terms:
            lines.append("    matched: " + ", ".join(a.terms))
        if a.snippet:
            lines.append(f"    “{a.snippet}”")
    if n.mode != "digest" and n.others:
        lines.append(f"    {more_sources(len(n.others))}:")
        lines += [f"      - {o.headline} ({o.source}) {o.url}" for o in n.others]
    if n.mode == "update" and n.earlier:
        lines.append(f"    ({n.earlier} earlier alerts for this story were sent before)")
    return "\n".join(lines) + "\n"


class ConsoleChannel:
    def __init__(self, name: str, config: ConsoleConfig, timeout: float) -> None:
        self.name = name
        self.config = config

    def send(self, message: Notification) -> None:
        sys.stdout.write(render_console(message))
        sys.stdout.flush()
