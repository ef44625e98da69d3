"""Generic webhook: a JSON POST of the versioned payload (docs/alerts.md, "Webhook payload").

Config: `url` (secret), `secret` (optional HMAC key), `headers` (extra headers), `rate_limit`, `timeout`.
Headers sent: `Content-Type: application/json; charset=utf-8`, `Idempotency-Key` (the same on every
retry of one message), `X-Newsmon-Event` (the payload's `event`) and, with a secret,
`X-Newsmon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

Payload version 2 (`render_webhook`), one JSON object:
- `version`: 2; `event`: `story.created` (a story's first message, seq 0), `story.updated` (its n-th
  update), `digest`, or for a source-health alert `source.failing` / `source.recovered`;
- `idempotency_key`, `channel`, `group_key`, `mode` (alert|update|digest), `seq`, `thread_id`,
  `earlier` (alerts of the group sent before), `title`, `created` (ISO 8601, UTC), `timezone`;
- `story`: `{id, update, categories, new_categories, entities, sources, languages, articles}`, the story
  as it stands with the message's latest report (`update` is `seq`: 0 for the first message), or null
  for health alerts and digests;
- `alerts`: every alert's fields (`Alert.to_json`), among them `sentence` (`[[text, marked], ...]`),
  `strength`, `gloss`, `terms` (strongest first) and the story snapshot (`story_*`).
Version 1 had `id` (now `idempotency_key`) and `event` = the mode. Adding fields is compatible;
renaming or removing one bumps `version`.

Field values are sent as they are: JSON encoding is their escaping (quotes, backslashes and control
characters become escapes), so no value can break the payload. The one thing UTF-8 cannot carry, a lone
surrogate, is sent as "?" (`encode`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from alerts.config import WebhookConfig
from alerts.http import post
from alerts.message import Notification

PAYLOAD_VERSION = 2


def event_name(n: Notification) -> str:
    if n.mode == "digest":
        return "digest"
    if n.health:
        return f"source.{n.lead.status or 'failing'}"
    return "story.created" if n.seq == 0 and n.mode == "alert" else "story.updated"


def render_webhook(n: Notification) -> dict[str, object]:
    """The payload, version 2 (see the module docstring)."""
    story: dict[str, object] | None = None
    if n.mode != "digest" and not n.health:
        s = n.story
        story = {"id": s.id, "update": n.seq, "categories": s.categories, "new_categories": s.new_categories,
                 "entities": s.entities, "sources": s.sources, "languages": s.languages, "articles": s.articles}
    return {
        "version": PAYLOAD_VERSION,
        "event": event_name(n),
        "idempotency_key": n.idempotency_key,
        "channel": n.channel,
        "group_key": n.group_key,
        "mode": n.mode,
        "seq": n.seq,
        "thread_id": n.thread_id,
        "earlier": n.earlier,
        "title": n.title,
        "created": n.created.isoformat(),
        "timezone": n.timezone,
        "story": story,
        "alerts": [a.to_json() for a in n.alerts],
    }


def encode(payload: dict[str, object]) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate (only ever inside a string) becomes "?"."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, tolerance: float = 300, now: float | None = None) -> bool:
    """What a receiver does: check the signature and that the timestamp is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - t) > tolerance:
        return False
    expected = sign(secret, t, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookChannel:
    def __init__(self, name: str, config: WebhookConfig, timeout: float) -> None:
        self.name = name
        self.config = config
        self.timeout = config.timeout or timeout
        self.label = f"webhook {name}"

    def send(self, message: Notification) -> None:
        body = encode(render_webhook(message))
        headers = {k: v.get_secret_value() for k, v in self.config.headers.items()}
        headers.update(
            {
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": message.idempotency_key,
                "X-Newsmon-Event": event_name(message),
            }
        )
        if self.config.secret is not None:
            headers["X-Newsmon-Signature"] = sign(self.config.secret.get_secret_value(), int(time.time()), body)
        post(self.label, self.config.url.get_secret_value(), body, headers, self.timeout, self.config.secrets())
