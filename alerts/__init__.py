"""Alert delivery: channels (slack, webhook, email, apprise, console), routing, grouping, silences and
a durable outbox. See docs/alerts.md."""

from __future__ import annotations

from alerts.engine import AlertEngine

__all__ = ["AlertEngine"]
