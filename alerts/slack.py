"""Slack incoming webhook. Config: `url` (secret), `rate_limit` (default "1/s"), `timeout`.

`render_slack(notification)` builds a Block Kit message with a mrkdwn fallback `text`, from the
notification's `cleaned()` copy (no control characters or line breaks in any field):
- a header (plain_text): the title, `entity · categories · headline` or `Update n · entity · categories ·
  N sources (langs)`;
- a context line naming the story and the update: `Story #12 · update 2 · 3 sources, languages de, vi so far`;
- for an update, what is new (a category, sources, languages);
- the headline linked to the article and the gloss of each of the story's categories;
- the deciding sentence as a `rich_text` quote whose marked words are `style: {bold: true}` elements:
  bold that holds in any script (mrkdwn `*x*` needs word boundaries, which CJK and Thai lack);
- the strength and terms, source and time (the route's timezone), one line per other alert.

So that nothing from a feed can mention (`<!channel>`, `<@U1>`, `<#C1>`) or link, every `<` in mrkdwn is
one this module wrote:
- text (`escape`): `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;` (Slack's rules);
- links (`link`): only http(s) URLs, as `<url|label>`: in the URL `|`, `<`, `>`, whitespace and control
  characters are percent-encoded and `&` is `&amp;`; the label is escaped, with `|` as `¦`; any other URL
  is shown as escaped text;
- plain_text (`plain`) and rich_text text elements (`literal`): Slack does not parse them, so they are
  shown as is, except that a `<` there gets a word joiner (U+2060) after it (in plain_text: before `!`,
  `@` or `#`), so no mention- or link-shaped text is anywhere in the payload.
Texts are shortened (`message.shorten`: a word boundary, a character boundary in CJK/Thai, "…") to
Slack's limits (header 150, section text 3000, field 2000, 50 blocks, fallback ~4000), never inside an
entity or a link (`fit`). Success is HTTP 2xx with the body `ok`; anything else is a failure, reported
with Slack's error code (e.g. `invalid_token`, `channel_not_found`).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from alerts.config import SlackConfig
from alerts.http import host_of, post, scrub
from alerts.message import (
    HEALTH,
    Alert,
    Notification,
    category_label,
    evidence_line,
    glosses,
    is_web_url,
    marked_text,
    segments,
    shorten,
    shorten_segments,
    source_line,
    story_line,
    whats_new,
)
from monitor.errors import NotifyError

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
BLOCKS_MAX = 50
FALLBACK_MAX = 4000
CONTEXT_MAX = 300

_URL_UNSAFE = re.compile(r"[\s|<>\x00-\x1f\x7f-\x9f]")
_MENTION_START = re.compile(r"<(?=[!@#])")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """Shorten already-escaped mrkdwn to `limit` characters as `message.shorten` does (ending in "…"),
    and never inside an entity or a link (every `<` in escaped mrkdwn opens a link)."""
    if len(text) <= limit:
        return text
    cut = shorten(text, limit)[:-1]
    amp = cut.rfind("&", max(0, len(cut) - 5))
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    return cut.rstrip() + "…"


def plain(text: str, limit: int) -> str:
    """plain_text is not parsed by Slack: no escaping, only no mention-shaped `<!`, `<@`, `<#`, and the limit."""
    return shorten(_MENTION_START.sub("<\u2060", text), limit)


def literal(text: str) -> str:
    """A rich_text text element's text: shown as is, with a word joiner after every `<`."""
    return text.replace("<", "<\u2060")


def url_text(url: str) -> str:
    """A URL for mrkdwn: `|`, `<`, `>`, whitespace and control characters percent-encoded, `&` as `&amp;`."""
    return _URL_UNSAFE.sub(lambda m: quote(m.group(), safe=""), url).replace("&", "&amp;")


def link(url: str, text: str) -> str:
    """`<url|text>` for an http(s) URL; otherwise just the text (escaped)."""
    label = escape(text)
    return f"<{url_text(url)}|{label.replace('|', '¦')}>" if is_web_url(url) else label


def _section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(text, SECTION_MAX)}}


def _context(text: str) -> dict[str, object]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(text, CONTEXT_MAX)}]}


def _line(a: Alert) -> str:
    lang = f" ({escape(a.language)})" if a.language else ""
    return f"• {escape(a.source)}{lang}: {link(a.url, shorten(a.headline, 300))}"


def _sentence_block(a: Alert) -> dict[str, object] | None:
    """The deciding sentence as a rich_text quote, marked segments bold."""
    segs = shorten_segments([(literal(t), m) for t, m in segments(a)], SECTION_MAX - 2)
    if not segs:
        return None
    elements: list[dict[str, object]] = [{"type": "text", "text": "“"}]
    for t, m in segs:
        el: dict[str, object] = {"type": "text", "text": t}
        if m:
            el["style"] = {"bold": True}
        elements.append(el)
    elements.append({"type": "text", "text": "”"})
    return {"type": "rich_text", "elements": [{"type": "rich_text_quote", "elements": elements}]}


def _alert_blocks(n: Notification) -> list[dict[str, object]]:
    a = n.lead
    tz = n.timezone
    blocks: list[dict[str, object]] = [_context(escape(story_line(n)))]
    news = whats_new(n)
    if news:
        lines = [x.partition(": ") for x in news]
        blocks.append(_section("\n".join(f"*{escape(k.capitalize())}:* {escape(v)}" for k, _, v in lines)))
    head = f"*{link(a.url, shorten(a.headline, 1000))}*"
    gl = "\n".join(f"_{escape(k)}_" + (f": {escape(v)}" if v else "") for k, v in glosses(n))
    blocks.append(_section(head + (f"\n{gl}" if gl else "")))
    quote_block = _sentence_block(a)
    if quote_block:
        blocks.append(quote_block)
    facts = []
    if a.strength:
        terms = ", ".join(f"`{escape(t)}`" for t in a.terms)
        facts.append(f"*{escape(a.strength.capitalize())} match*" + (f": {terms}" if terms else ""))
    elif a.terms:
        facts.append("*Matched:* " + ", ".join(f"`{escape(t)}`" for t in a.terms))
    facts.append(f"*Source:* {escape(source_line(a, tz))}")
    blocks.append(_section("\n".join(facts)))
    return blocks


def _health_blocks(n: Notification) -> list[dict[str, object]]:
    a = n.lead
    return [
        _section(f"*{link(a.url, a.headline)}*"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": fit(f"*{escape(k)}*\n{escape(v)}", FIELD_MAX)}
                                       for k, v in a.facts(n.timezone)[:FIELDS_MAX]]},
    ]


def _digest_line(a: Alert, tz: str) -> str:
    cat = "source health" if a.kind == HEALTH else category_label(a.category)
    who = f"{escape(a.entity)} · " if a.entity and a.kind != HEALTH else ""
    extra = f" · {escape(a.strength)}" if a.strength else ""
    return f"• _{escape(cat)}_ {who}{link(a.url, shorten(a.headline, 300))} — {escape(source_line(a, tz))}{extra}"


def _list_blocks(title: str, lines: list[str], room: int) -> list[dict[str, object]]:
    """Sections listing `lines` (mrkdwn), each section under SECTION_MAX, at most `room` blocks."""
    blocks: list[dict[str, object]] = []
    current = f"*{escape(title)}*"
    shown = 0
    for line in lines:
        if len(current) + 1 + len(line) > SECTION_MAX:
            if len(blocks) == room - 1:
                break
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": current}})
            current = ""
        current = f"{current}\n{line}" if current else fit(line, SECTION_MAX)
        shown += 1
    rest = len(lines) - shown
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
        lines = [_digest_line(a, n.timezone) for a in n.alerts]
        blocks += _list_blocks("Alerts", lines, BLOCKS_MAX - len(blocks) - 1)
    else:
        blocks += _health_blocks(n) if n.health else _alert_blocks(n)
        if n.others:
            blocks += _list_blocks(f"Also in this message ({len(n.others)})", [_line(o) for o in n.others],
                                   BLOCKS_MAX - len(blocks) - 1)
    tail = f"newsmon · {escape(n.group_key)}"
    if n.mode == "update" and n.earlier:
        tail += f" · {n.earlier} earlier alert{'s' if n.earlier != 1 else ''} sent before"
    blocks.append(_context(tail))
    fallback = f"{escape(n.title)}\n{link(n.lead.url, n.lead.url)}"
    if n.mode != "digest" and not n.health:
        sentence = marked_text(segments(n.lead))
        if sentence:
            fallback += "\n" + escape(shorten(sentence, 1000))
        ev = evidence_line(n.lead)
        if ev:
            fallback += "\n" + escape(ev)
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
