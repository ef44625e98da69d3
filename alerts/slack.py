"""Slack incoming webhook. Config: `url` (secret), `rate_limit` (default "1/s"), `timeout`.

`render_slack(notification)` builds a Block Kit message with a mrkdwn fallback `text`, from the
notification's `cleaned()` copy (no control characters or line breaks in any field). So that nothing from
a feed can mention (`<!channel>`, `<@U1>`, `<#C1>`) or link, every `<` in mrkdwn is one this module wrote:
- text (`escape`): `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;` (Slack's rules);
- links (`link`): only http(s) URLs, as `<url|label>`: in the URL `|`, `<`, `>`, whitespace and control
  characters are percent-encoded and `&` is `&amp;`; the label is escaped, with `|` as `¦`; any other URL
  is shown as escaped text;
- the plain_text header (`plain`): Slack does not parse it, so it is shown as is, except that `<` before
  `!`, `@` or `#` gets a word joiner (U+2060), so no mention-shaped text is anywhere in the payload.
Texts are cut to Slack's limits (header 150, section text 3000, field 2000, 50 blocks, fallback ~4000),
never inside an entity or a link. Success is HTTP 2xx with the body `ok`; anything else is a
failure, reported with Slack's error code (e.g. `invalid_token`, `channel_not_found`).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from alerts.config import SlackConfig
from alerts.http import host_of, post, scrub
from alerts.message import Alert, Notification, is_web_url, more_sources
from monitor.errors import NotifyError

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
BLOCKS_MAX = 50
FALLBACK_MAX = 4000

_URL_UNSAFE = re.compile(r"[\s|<>\x00-\x1f\x7f-\x9f]")
_MENTION_START = re.compile(r"<(?=[!@#])")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """Cut already-escaped mrkdwn to `limit` characters, ending in "…", never inside an entity or a link
    (every `<` in escaped mrkdwn opens a link)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&", max(0, len(cut) - 5))
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    return cut + "…"


def plain(text: str, limit: int) -> str:
    """plain_text is not parsed by Slack: no escaping, only no mention-shaped `<!`, `<@`, `<#`, and the limit."""
    text = _MENTION_START.sub("<\u2060", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def url_text(url: str) -> str:
    """A URL for mrkdwn: `|`, `<`, `>`, whitespace and control characters percent-encoded, `&` as `&amp;`."""
    return _URL_UNSAFE.sub(lambda m: quote(m.group(), safe=""), url).replace("&", "&amp;")


def link(url: str, text: str) -> str:
    """`<url|text>` for an http(s) URL; otherwise just the text (escaped)."""
    label = escape(text)
    return f"<{url_text(url)}|{label.replace('|', '¦')}>" if is_web_url(url) else label


def _line(a: Alert) -> str:
    return f"• {link(a.url, a.headline[:300])} — {escape(a.source)}"


def _alert_blocks(a: Alert) -> list[dict[str, object]]:
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": fit(f"*{link(a.url, a.headline[:1000])}*", SECTION_MAX)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": fit(f"*{label}*\n{escape(value)}", FIELD_MAX)}
                for label, value in a.facts()[:FIELDS_MAX]
            ],
        },
    ]
    if a.terms:
        terms = ", ".join(f"`{escape(t)}`" for t in a.terms)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": fit(f"*Matched:* {terms}", SECTION_MAX)}})
    if a.snippet:
        quoted = escape(a.snippet)
        for t in sorted(a.terms, key=len, reverse=True)[:1]:
            quoted = quoted.replace(escape(t), f"*{escape(t)}*", 1)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": fit(f">{quoted}", SECTION_MAX)}})
    return blocks


def _list_blocks(title: str, alerts: list[Alert], room: int) -> list[dict[str, object]]:
    """Sections listing alerts, each section under SECTION_MAX, at most `room` blocks."""
    blocks: list[dict[str, object]] = []
    current = f"*{escape(title)}*"
    shown = 0
    for a in alerts:
        line = _line(a)
        if len(current) + 1 + len(line) > SECTION_MAX:
            if len(blocks) == room - 1:
                break
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": current}})
            current = ""
        current = f"{current}\n{line}" if current else fit(line, SECTION_MAX)
        shown += 1
    rest = len(alerts) - shown
    if rest:
        tail = f"\n…and {rest} more"
        current = fit(current, SECTION_MAX - len(tail)) + tail
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": current}})
    return blocks


def render_slack(n: Notification) -> dict[str, object]:
    """The JSON body for a Slack incoming webhook."""
    n = n.cleaned()
    blocks: list[dict[str, object]] = [{"type": "header", "text": {"type": "plain_text", "text": plain(n.title, HEADER_MAX)}}]
    if n.mode == "digest":
        blocks += _list_blocks("Alerts", n.alerts, BLOCKS_MAX - len(blocks) - 1)
    else:
        blocks += _alert_blocks(n.lead)
        if n.mode == "update" and n.earlier:
            others_title = f"{more_sources(len(n.alerts))} since the last message ({n.earlier} before)"
            blocks += _list_blocks(others_title, n.alerts, BLOCKS_MAX - len(blocks) - 1)
        elif n.others:
            blocks += _list_blocks(f"{more_sources(len(n.others))}", n.others, BLOCKS_MAX - len(blocks) - 1)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": fit(f"newsmon · {escape(n.group_key)}", 300)}]})
    fallback = f"{escape(n.title)}\n{link(n.lead.url, n.lead.url)}"
    if n.lead.snippet:
        fallback += "\n" + escape(n.lead.snippet)
    return {"text": fit(fallback, FALLBACK_MAX), "blocks": blocks[:BLOCKS_MAX]}


class SlackChannel:
    def __init__(self, name: str, config: SlackConfig, timeout: float) -> None:
        self.name = name
        self.config = config
        self.timeout = config.timeout or timeout
        self.label = f"slack {name}"

    def send(self, message: Notification) -> None:
        url = self.config.url.get_secret_value()
        body = json.dumps(render_slack(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        resp = post(self.label, url, body, headers, self.timeout, self.config.secrets())
        text = resp.text.strip()
        if text != "ok":
            detail = scrub(" ".join(text[:200].split()), self.config.secrets()) or "empty body"
            raise NotifyError(
                f'{self.label}: HTTP {resp.status_code} from {host_of(url)} without "ok": {detail}',
                retryable=False,
            )
