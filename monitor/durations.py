"""Durations written as strings in config files: "30s", "5m", "2h", "1d", "1h30m"."""

from __future__ import annotations

import math
import re

MAX_SECONDS = 3650 * 86400  # ten years: longer would overflow timers, timeouts and date arithmetic
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: str | int | float) -> float:
    """Return seconds. Bare numbers are seconds. Raises ValueError with a readable reason."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        return _checked(value, repr(value))
    text = str(value).strip().lower().replace(" ", "")
    if not text:
        raise ValueError("empty duration")
    pos = 0
    total = 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f'not a duration: "{value}" (use e.g. "30s", "5m", "2h", "1d")')
    return _checked(total, f'"{value}"')


def _checked(seconds: float, shown: str) -> float:
    shown = shown if len(shown) <= 40 else shown[:36] + "…" + shown[-3:]
    if isinstance(seconds, float) and math.isnan(seconds):
        raise ValueError(f"not a finite number: {shown}")
    if seconds < 0:
        raise ValueError(f"negative duration: {shown}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"too long: {shown} (at most {MAX_SECONDS // 86400}d)")
    return float(seconds)


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for display: 90 -> "1m30s"."""
    seconds = int(round(seconds))
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)
