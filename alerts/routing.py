"""Pure routing: which routes (and so channels) an alert goes to, its group key, and whether a silence
matches it. Reads the `routes:` config (RouteConfig).

Matching: each `match` key (category, entity, language, source, tag) must match; a value matches when
it equals one of the given values (case-insensitive) or, written "~regex", the regex matches the whole
value. `entity` and `tag` match if any of the alert's entities / tags match. First matching route wins
unless it has `continue: true`; an alert reaches each channel at most once.
"""

from __future__ import annotations

import re
from functools import lru_cache

from alerts.config import RouteConfig
from alerts.message import Alert


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def alert_values(alert: Alert, key: str) -> list[str]:
    if key == "category":
        return [alert.category]
    if key == "entity":
        return alert.entities or ([alert.entity] if alert.entity else [])
    if key == "language":
        return [alert.language] if alert.language else []
    if key == "source":
        return [alert.source]
    if key == "tag":
        return alert.tags
    raise KeyError(key)


def value_matches(wanted: str | list[str], values: list[str]) -> bool:
    for w in wanted if isinstance(wanted, list) else [wanted]:
        if w.startswith("~"):
            rx = _regex(w[1:])
            if any(rx.fullmatch(v) for v in values):
                return True
        elif any(w.casefold() == v.casefold() for v in values):
            return True
    return False


def matches(match: dict[str, str | list[str]], alert: Alert) -> bool:
    return all(value_matches(wanted, alert_values(alert, key)) for key, wanted in match.items())


def route_alert(routes: list[RouteConfig], alert: Alert) -> list[tuple[int, str]]:
    """(route index, channel) pairs the alert goes to, each channel once, in route order."""
    out: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, route in enumerate(routes):
        if not matches(route.match, alert):
            continue
        for ch in route.channels:
            if ch not in seen:
                seen.add(ch)
                out.append((i, ch))
        if not route.continue_:
            break
    return out


def group_key(route: RouteConfig, alert: Alert) -> str:
    """Alerts with the same key (per route and channel) are sent together. Default: the story (so one
    story is one thread of messages); grouping by entity, an alert without one is keyed by its story (or,
    failing that, its URL)."""
    if route.digest is not None:
        return "digest"
    parts = []
    for key in route.group_by:
        if key == "entity" and not alert.entity:
            parts.append(f"story={alert.story_id}" if alert.story_id is not None else f"url={alert.url}")
        elif key == "entity":
            parts.append(f"entity={alert.entity}")
        elif key == "story":
            parts.append(f"story={alert.story_id}" if alert.story_id is not None else f"url={alert.url}")
        else:
            vals = alert_values(alert, key)
            parts.append(f"{key}={vals[0] if vals else ''}")
    return ",".join(parts) or "all"


def parse_matchers(items: list[str]) -> dict[str, str | list[str]]:
    """`["entity=MoMo", "category=~fraud|outage"]` -> a match dict; raises ValueError naming the bad item."""
    from alerts.config import MATCH_KEYS

    out: dict[str, str | list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not value:
            raise ValueError(f'"{item}": use KEY=VALUE or KEY=~REGEX')
        if key not in MATCH_KEYS:
            raise ValueError(f'"{item}": unknown key "{key}" (use one of: {", ".join(MATCH_KEYS)})')
        if value.startswith("~"):
            try:
                re.compile(value[1:])
            except re.error as exc:
                raise ValueError(f'"{item}": invalid regular expression: {exc}') from None
        prev = out.get(key)
        out[key] = value if prev is None else [*(prev if isinstance(prev, list) else [prev]), value]
    if not out:
        raise ValueError("a silence needs at least one --match")
    return out
