"""Escaping in every channel (issue 8, "Slack mention injection"): whatever a feed puts in any field (title,
link, source, snippet, terms, entity, tags, a source error, the deciding sentence's segments, the story
snapshot), no channel carries it out as markup.

- Slack: no `<!`, `<@`, `<#` anywhere in the payload; in mrkdwn every `<` opens a link the renderer made
  (an http(s) URL with nothing in it that could end the link), the only `>` outside links is the quote
  marker, and every `&` starts an entity; rich_text text (the sentence, bold marks) has a word joiner
  after every `<`;
- email: no header from data, no CR/LF in a header value; the HTML part has no tag, attribute or raw `<`
  from data (marks are the renderer's `<mark>`), and only http(s) hrefs; the text part has no control
  characters but its line breaks;
- console and Apprise: no ESC or other control character, no faked line;
- webhook: the body is valid UTF-8 JSON carrying the values as they are.

Property tests (hypothesis) over arbitrary text mixed with known-bad strings, then exact regressions, and
one real delivery to a Slack-like receiver on 127.0.0.1.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.apprise import render_apprise
from alerts.console import render_console
from alerts.email import render_email, render_html, render_text
from alerts.message import HEALTH, Alert, Notification, alert_from_article, one_line
from alerts.slack import fit, link, plain, render_slack, url_text
from alerts.webhook import encode, render_webhook
from tests.alert_fixtures import T0, article, channels, classification
from tests.receiver import Receiver

BAD = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123>", "<!subteam^S1|team>", "<http://evil|click>",
       "<", ">", "|", "&", "&lt;!here&gt;", "&amp;", "*", "`", '"', "'", " ", "\t", "\r\n", "\n", "\r", "\x00",
       "\x07", "\x1b[31m", "\x1b]0;title\x07", "\x9b2J", "\x85", "\x7f", "\u2028", "\ud800", "javascript:alert(1)",
       "https://", "HTTP://", "=?utf-8?q?x?=", "Bcc: x@evil.example", "<script>", "</a>", "-->"]

text = st.lists(st.one_of(st.sampled_from(BAD), st.text(st.characters(exclude_categories=()), max_size=12)),
                max_size=6).map("".join)
urls = st.one_of(text, text.map(lambda s: "https://news.example/" + s), text.map(lambda s: "HTTP://" + s),
                 text.map(lambda s: "https://news.example/" + s * 300))  # long enough to be cut in a section
segments = st.lists(st.tuples(text, st.booleans()).map(list), max_size=5)
alerts = st.builds(
    Alert, category=text, source=text, title=text, url=urls, kind=st.sampled_from(["article", HEALTH]),
    entity=st.none() | text, entities=st.lists(text, max_size=2), language=st.none() | text,
    published=st.none() | st.just(T0), score=st.none() | st.just(3.5), terms=st.lists(text, max_size=3),
    snippet=text, tags=st.lists(text, max_size=2), status=st.none() | text, error=st.none() | text,
    errors=st.none() | st.integers(0, 9), story_id=st.none() | st.integers(0, 99), gloss=text,
    strength=st.sampled_from(["", "strong", "clear", "borderline"]) | text, sentence=segments,
    story_categories=st.lists(text, max_size=3), story_new_categories=st.lists(text, max_size=2),
    story_sources=st.lists(text, max_size=3), story_languages=st.lists(text, max_size=3),
    story_articles=st.integers(0, 5),
    story_new_sources=st.lists(text, max_size=2), story_new_languages=st.lists(text, max_size=2),
)
notifications = st.builds(
    Notification, channel=st.just("c"), alerts=st.lists(alerts, min_size=1, max_size=4), idempotency_key=st.just("k1"),
    mode=st.sampled_from(["alert", "update", "digest"]), group_key=text, earlier=st.integers(0, 3),
    seq=st.integers(0, 3), thread_id=st.sampled_from(["", "thr-1", "th\r\nBcc: x"]),
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "Asia/Ho_Chi_Minh"]), created=st.just(T0),
)
prop = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# a link the Slack renderer made: an http(s) URL without whitespace, control characters, `|`, `<` or `>`,
# and a label without `|`, `<` or `>`
SLACK_LINK = re.compile(r"<https?://[^\s|<>\x00-\x1f\x7f-\x9f]*\|[^|<>]*>", re.IGNORECASE)
SLACK_ENTITIES = re.compile(r"(?:[^&]|&(?:amp|lt|gt);)*", re.DOTALL)
CONTROLS_BUT_LF = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def rich_texts(body: dict) -> list[str]:
    """The text elements of rich_text blocks (the deciding sentence)."""
    out = []
    for b in body["blocks"]:
        if b["type"] == "rich_text":
            for part in b["elements"]:
                out += [e["text"] for e in part["elements"]]
    return out


def mrkdwn_texts(body: dict) -> list[str]:
    out = [body["text"]]
    for b in body["blocks"]:
        objs = [b.get("text"), *b.get("fields", []), *b.get("elements", [])]
        out += [o["text"] for o in objs if o and o.get("type") == "mrkdwn"]
    return out


def assert_slack_safe(body: dict) -> None:
    raw = json.dumps(body, ensure_ascii=False)
    raw.encode("utf-8")  # what SlackChannel sends: strict UTF-8
    assert not re.search(r"<[!@#]", raw)
    for t in mrkdwn_texts(body):
        outside = SLACK_LINK.sub("", t)
        assert "<" not in outside and ">" not in outside, t
        assert SLACK_ENTITIES.fullmatch(t), t
        assert not CONTROLS_BUT_LF.search(t), t
    for t in rich_texts(body):
        assert not re.search("<(?!\u2060)", t), t
        assert not CONTROLS_BUT_LF.search(t) and "\n" not in t, t


class HtmlShape(HTMLParser):
    """Records tags, attributes and text; `convert_charrefs=False` so escaped text stays apart from raw text."""

    ALLOWED = {"html", "body", "h2", "h3", "a", "table", "tr", "th", "td", "p", "b", "code", "blockquote", "ul",
               "li", "small", "mark", "br"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.data: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.data.append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(data)

    handle_decl = handle_pi = unknown_decl = handle_comment


def assert_html_safe(html_text: str, n: Notification) -> HtmlShape:
    shape = HtmlShape()
    shape.feed(html_text)
    shape.close()
    assert shape.other == []
    urls = {one_line(a.url) for a in n.alerts}
    for tag, attrs in shape.tags:
        assert tag in HtmlShape.ALLOWED, tag
        if tag == "a":
            ((name, href),) = attrs
            assert name == "href" and href in urls and href.lower().startswith(("http://", "https://"))
        else:
            assert attrs in ([], [("align", "left")])
    data = "".join(shape.data)
    assert "<" not in data and ">" not in data and "&" not in data
    return shape


# -- properties ----------------------------------------------------------------------------------------


@prop
@given(notifications)
def test_slack_payload_never_carries_markup_from_data(n: Notification) -> None:
    assert_slack_safe(render_slack(n))


@prop
@given(urls, text)
def test_slack_link_is_one_link_or_plain_text(url: str, label: str) -> None:
    out = link(url, label)
    if url.lower().startswith(("http://", "https://")):
        assert SLACK_LINK.fullmatch(out), out
    else:
        assert "<" not in out and ">" not in out


@prop
@given(notifications)
def test_email_headers_come_only_from_the_renderer(n: Notification) -> None:
    msg = render_email(n, "newsmon <alerts@example.com>", ["team@example.com"])
    raw = msg.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if not line.startswith((b" ", b"\t"))]
    threading = [b"In-Reply-To", b"References"] if n.thread_id and n.seq else []
    assert names == [b"Subject", b"From", b"To", b"Date", b"Message-ID", *threading, b"X-Newsmon-Event",
                     b"MIME-Version", b"Content-Type"]
    assert len(msg["Subject"]) <= 120
    assert b"\r" not in head.replace(b"\r\n", b"") and b"\n" not in head.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"] == "team@example.com"
    for name, value in parsed.items():
        assert "\r" not in value and "\n" not in value, name


@prop
@given(notifications)
def test_email_html_part_has_no_markup_from_data(n: Notification) -> None:
    assert_html_safe(render_html(n), n)


@prop
@given(notifications)
def test_plain_text_outputs_have_no_control_characters(n: Notification) -> None:
    title, body = render_apprise(n)
    assert not CONTROLS_BUT_LF.search(title) and "\n" not in title
    assert not CONTROLS_BUT_LF.search(body) and body == render_text(n)
    console = render_console(n)
    assert not CONTROLS_BUT_LF.search(console) and "\x1b" not in console
    lines = console.splitlines()
    assert lines[0].startswith("=== ") and all(line.startswith("  ") for line in lines[1:])


@prop
@given(notifications)
def test_webhook_body_is_json_with_the_values_as_they_are(n: Notification) -> None:
    payload = json.loads(encode(render_webhook(n)).decode("utf-8"))
    for got, a in zip(payload["alerts"], n.alerts, strict=True):
        def utf8(v: object) -> object:
            if isinstance(v, str):
                return v.encode("utf-8", "replace").decode("utf-8")
            return [utf8(x) for x in v] if isinstance(v, list) else v

        sent = {k: utf8(v) for k, v in a.to_json().items()}
        assert {k: got[k] for k in sent} == sent
    assert payload["version"] == 2


# -- regressions, exact --------------------------------------------------------------------------------

EVIL_TITLE = "<!channel> Breaking: <http://evil|click> & <@U123>"
EVIL_LINK = "https://news.example/a?x=<!channel>|<http://evil|click> y"


def evil_notification(url: str = EVIL_LINK, title: str = EVIL_TITLE) -> Notification:
    """Through `alert_from_article`, as a feed entry becomes an alert."""
    a = alert_from_article(replace(article(title=title), url=url), classification(), "fraud", article_id=1,
                           story_id=None, source_tags=[])
    return Notification(channel="ch", alerts=[a], idempotency_key="k-evil", group_key="category=fraud", created=T0)


def headline(body: dict) -> str:
    """The Slack section with the linked headline (after the header and the story context line): its first line."""
    return body["blocks"][2]["text"]["text"].split("\n")[0]


SAFE_URL = "https://news.example/a?x=%3C!channel%3E%7C%3Chttp://evil%7Cclick%3E%20y"
SAFE_LABEL = "&lt;!channel&gt; Breaking: &lt;http://evil¦click&gt; &amp; &lt;@U123&gt;"


def test_slack_mentions_and_links_in_feed_link_and_title_are_escaped() -> None:
    body = render_slack(evil_notification())
    assert body["blocks"][0]["text"]["text"] == "MoMo · fraud · <\u2060!channel> Breaking: <http://evil|click> & <\u2060@U123>"
    assert headline(body) == f"*<{SAFE_URL}|{SAFE_LABEL}>*"
    assert body["text"].split("\n")[:2] == [
        "MoMo · fraud · &lt;!channel&gt; Breaking: &lt;http://evil|click&gt; &amp; &lt;@U123&gt;",
        f"<{SAFE_URL}|https://news.example/a?x=&lt;!channel&gt;¦&lt;http://evil¦click&gt; y>",
    ]
    assert_slack_safe(body)


@pytest.mark.parametrize("url", ["<!channel>", "!channel", "@U123", "#C123", "javascript:alert(1)", "<http://evil|click>"])
def test_slack_links_only_http_urls(url: str) -> None:
    body = render_slack(evil_notification(url=url, title="Fraud"))
    assert headline(body) == "*Fraud*"
    assert body["text"].split("\n")[1] == url.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert_slack_safe(body)


def test_slack_url_text_percent_encodes_what_could_end_a_link() -> None:
    assert url_text("https://x/a b|c<d>e&f\tg\u3000h") == "https://x/a%20b%7Cc%3Cd%3Ee&amp;f%09g%E3%80%80h"


def test_slack_fit_never_cuts_inside_a_link() -> None:
    assert fit("ab <https://x.example/long|label>", 12) == "ab…"
    assert fit("ab <https://x|y> cd", 18) == "ab <https://x|y>…"
    assert fit("abcdefghij <https://x.example/long|label>", 30) == "abcdefghij…"


def test_slack_plain_header_has_no_mention_shaped_text() -> None:
    assert plain("<!channel> <@U1> <#C1> <b> a<!here", 150) == "<\u2060!channel> <\u2060@U1> <\u2060#C1> <b> a<\u2060!here"


def test_slack_delivery_of_a_hostile_feed_entry() -> None:
    from alerts.registry import build_channel

    n = evil_notification()
    with Receiver() as rx:
        cfg = channels({"s": {"type": "slack", "url": f"{rx.url}/services/T/B/X", "timeout": 2}})["s"]
        build_channel("s", cfg, timeout=2).send(n)
        (req,) = rx.wait_for(1)
    assert b"<!" not in req.body and b"<@" not in req.body and b"<#" not in req.body
    body = req.json()
    assert_slack_safe(body)
    assert body == render_slack(n)
    assert headline(body) == f"*<{SAFE_URL}|{SAFE_LABEL}>*"


EVIL_SENTENCE = [["Said <!channel> & <@U1> ", False], ["<http://evil|click>\r\nBcc: x@evil.example", True],
                 [" \x1b[31m<script>x</script>", False], ["", True], ["*bold* `code`", True]]


def sentence_notification() -> Notification:
    n = evil_notification(url="https://news.example/a", title="Fraud")
    n.alerts[0].sentence = [list(s) for s in EVIL_SENTENCE]
    return n


def test_slack_sentence_segments_are_literal_and_bold() -> None:
    body = render_slack(sentence_notification())
    (quote,) = [b for b in body["blocks"] if b["type"] == "rich_text"]
    assert quote["elements"][0]["elements"] == [
        {"type": "text", "text": "“"},
        {"type": "text", "text": "Said <\u2060!channel> & <\u2060@U1> "},
        {"type": "text", "text": "<\u2060http://evil|click> Bcc: x@evil.example", "style": {"bold": True}},
        {"type": "text", "text": " [31m<\u2060script>x<\u2060/script>"},
        {"type": "text", "text": "*bold* `code`", "style": {"bold": True}},
        {"type": "text", "text": "”"},
    ]
    assert "Said &lt;!channel&gt; &amp; &lt;@U1&gt; [&lt;http://evil|click&gt; Bcc: x@evil.example]" in body["text"]
    assert_slack_safe(body)


def test_email_and_console_sentence_segments_escaped() -> None:
    n = sentence_notification()
    html_text = render_html(n)
    assert ("<blockquote>“Said &lt;!channel&gt; &amp; &lt;@U1&gt; <mark>&lt;http://evil|click&gt; Bcc: x@evil.example</mark>"
            " [31m&lt;script&gt;x&lt;/script&gt;<mark>*bold* `code`</mark>”</blockquote>") in html_text
    assert_html_safe(html_text, n)
    text_part = render_text(n)
    assert ("“Said <!channel> & <@U1> [<http://evil|click> Bcc: x@evil.example] [31m<script>x</script>[*bold* `code`]”"
            in text_part)
    out = render_console(n)
    assert "\x1b" not in out and "\r" not in out and "\n    Bcc" not in out


def test_email_hostile_feed_entry() -> None:
    n = evil_notification(url='https://news.example/"><script>x</script>', title="<!channel>\r\nBcc: x@evil.example <b>")
    msg = render_email(n, "alerts@example.com", ["team@example.com"])
    assert msg["Subject"] == "[newsmon] MoMo · fraud · <!channel> Bcc: x@evil.example <b>"
    assert msg["Bcc"] is None
    html_text = render_html(n)
    assert ('<h3><a href="https://news.example/&quot;&gt;&lt;script&gt;x&lt;/script&gt;">'
            "&lt;!channel&gt; Bcc: x@evil.example &lt;b&gt;</a></h3>") in html_text
    assert_html_safe(html_text, n)


@pytest.mark.parametrize("url", ["javascript:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>", "<!channel>"])
def test_email_html_links_only_http_urls(url: str) -> None:
    n = evil_notification(url=url, title="Fraud")
    html_text = render_html(n)
    assert "<h3>Fraud</h3>" in html_text and "href" not in html_text
    assert_html_safe(html_text, n)


def test_console_strips_terminal_escapes() -> None:
    n = evil_notification(url="https://news.example/\x1b[2Ja", title="\x1b[2J\x1b]0;pwned\x07Breaking\r\n=== fake\x9b31m")
    out = render_console(n)
    lines = out.splitlines()
    assert lines[0] == "=== MoMo · fraud · [2J]0;pwnedBreaking === fake31m"
    assert "    https://news.example/[2Ja" in lines and all(line.startswith("    ") for line in lines[1:])
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
