"""Pure renderers and config models: titles, shortening, Slack escaping and limits, the webhook payload
v2, email threading and text, console text, and config errors with exact messages (through the real
config loader)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from alerts.config import check_references, parse_rate
from alerts.console import render_console
from alerts.email import SUBJECT_MAX, render_email, render_html, render_text
from alerts.message import (
    HEALTH,
    Alert,
    Notification,
    alert_from_article,
    format_time,
    health_alert,
    sample_notification,
    shorten,
    story_view,
)
from alerts.slack import BLOCKS_MAX, FALLBACK_MAX, HEADER_MAX, SECTION_MAX, escape, fit, render_slack
from alerts.webhook import render_webhook, sign
from monitor.config import load_config
from monitor.errors import ConfigError
from tests.alert_fixtures import SECRET_TOKEN, T0, article, classification, routes

PUB = datetime(2026, 12, 3, 14, 40, tzinfo=timezone.utc)


def alert(n: int = 0, title: str = "Fraud at <MoMo> & partners", **kw: object) -> Alert:
    base = dict(category="fraud", source=f"src-{n}", title=title, url=f"https://n.example/{n}?a=1&b=<2>",
                entity="MoMo", entities=["MoMo"], language="en", published=T0, score=3.5,
                terms=["fraud"], snippet="police said a fraud scheme <script> & more")
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def note(alerts: list[Alert], mode: str = "alert", earlier: int = 0, **kw: object) -> Notification:
    return Notification(channel="c", alerts=alerts, idempotency_key="k1", mode=mode, group_key="category=fraud,entity=MoMo",
                        earlier=earlier, created=T0, **kw)  # type: ignore[arg-type]


def momo_first() -> Notification:
    """A story's first alert: Vietnamese, one category."""
    a = Alert(category="outage", source="vnexpress", title="Ứng dụng MoMo gián đoạn, người dùng không thể thanh toán",
              url="https://vnexpress.example/momo.html", entity="MoMo", entities=["MoMo"], language="vi", published=PUB,
              score=6.0, terms=["gián đoạn", "không thể thanh toán"], strength="strong", gloss="service down or failing",
              sentence=[["Từ sáng nay ứng dụng MoMo ", False], ["gián đoạn", True], [", nhiều người dùng ", False],
                        ["không thể thanh toán", True], [".", False]],
              story_id=12, story_categories=["outage"], story_sources=["vnexpress"], story_languages=["vi"],
              story_articles=1)
    return Notification(channel="ops", alerts=[a], idempotency_key="k-first", group_key="story=12", seq=0,
                        thread_id="thr12", timezone="Europe/Berlin", created=PUB)


def momo_update() -> Notification:
    """Update 2 of the story: the company now denies rumors (a new category), a German outlet joins."""
    a1 = Alert(category="rumor", source="tuoitre", title="MoMo bác bỏ tin đồn bị tấn công", url="https://tuoitre.example/momo",
               entity="MoMo", entities=["MoMo"], language="vi", published=PUB, score=4.1, terms=["bác bỏ tin đồn"],
               strength="clear", sentence=[["Đại diện MoMo ", False], ["bác bỏ tin đồn", True], [" bị tấn công.", False]],
               story_id=12, story_categories=["outage", "rumor"], story_new_categories=["rumor"],
               story_sources=["vnexpress", "tuoitre"], story_languages=["vi"], story_articles=2,
               story_new_sources=["tuoitre"])
    a2 = Alert(category="outage", source="heise", title="MoMo: Störung der Bezahl-App dauert an", url="https://heise.example/momo",
               entity="MoMo", entities=["MoMo"], language="de", published=PUB, terms=["Störung"], strength="borderline",
               sentence=[["Die ", False], ["Störung", True], [" dauert an.", False]], story_id=12,
               story_categories=["outage", "rumor"], story_sources=["vnexpress", "tuoitre", "heise"],
               story_languages=["vi", "de"], story_articles=3, story_new_sources=["heise"], story_new_languages=["de"])
    return Notification(channel="ops", alerts=[a1, a2], idempotency_key="k-upd", mode="update", group_key="story=12",
                        earlier=2, seq=2, thread_id="thr12", timezone="Europe/Berlin", created=PUB)


def all_texts(blocks: list[dict]) -> list[str]:
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", [])]
        out += [e["text"] for e in b.get("elements", []) if "text" in e]
        for e in b.get("elements", []):
            out += ["".join(x["text"] for x in e.get("elements", []))]
    return out


# -- titles, times, shortening -------------------------------------------------------------------------


def test_titles() -> None:
    assert momo_first().title == "MoMo · outage · Ứng dụng MoMo gián đoạn, người dùng không thể thanh toán"
    assert momo_update().title == "Update 2 · MoMo · outage, rumors denied · 3 sources (vi, de)"
    assert note([alert(entity=None, entities=[])]).title == "fraud · Fraud at <MoMo> & partners"
    assert note([alert(0), alert(1, category="outage")], "digest").title == "Digest: 2 alerts (fraud, outage)"
    failing = health_alert("bbc", "https://bbc.example/rss", "failing", "HTTP 503", 5)
    assert note([failing]).title == "Source bbc is failing (5 errors)"
    # the headline is shortened first; the story prefix stays whole
    long = momo_first()
    long.alerts[0].title = "Ứng dụng MoMo gián đoạn " * 10
    t = long.title_within(60)
    assert len(t) <= 60 and t.startswith("MoMo · outage · Ứng dụng MoMo") and t.endswith("…")
    assert not t.endswith(" …") and "đoạ…" not in t  # a word boundary


def test_story_view_new_sources_and_languages() -> None:
    s = story_view(momo_update().alerts)
    assert (s.id, s.categories, s.new_categories, s.sources, s.languages, s.articles) == (
        12, ["outage", "rumor"], ["rumor"], ["vnexpress", "tuoitre", "heise"], ["vi", "de"], 3)
    assert (s.new_sources, s.new_languages, s.so_far()) == (["tuoitre", "heise"], ["de"], "3 sources, languages vi, de")
    # what each report added is what the story engine recorded for it: a source seen before is not new
    n = momo_update()
    n.alerts[0].story_new_sources = []
    assert story_view(n.alerts).new_sources == ["heise"]
    # without a snapshot (grouped by category): from the alerts themselves
    s = story_view([alert(0), alert(1, language="de")])
    assert (s.categories, s.sources, s.languages, s.entities) == (["fraud"], ["src-0", "src-1"], ["en", "de"], ["MoMo"])


@pytest.mark.parametrize("tz,expected", [
    ("UTC", "2026-12-03 14:40 UTC"),
    ("Europe/Berlin", "2026-12-03 15:40 CET"),
    ("Asia/Ho_Chi_Minh", "2026-12-03 21:40 +07 (Asia/Ho_Chi_Minh)"),
    ("Not/AZone", "2026-12-03 14:40 UTC"),
])
def test_format_time_in_the_routes_zone(tz: str, expected: str) -> None:
    assert format_time(PUB, tz) == expected


@pytest.mark.parametrize("text,limit,expected", [
    ("abc", 5, "abc"),
    ("abcdef", 5, "abcd…"),
    ("the quick brown fox", 14, "the quick…"),           # at a word boundary
    ("the quick brown fox", 11, "the quick…"),
    ("supercalifragilistic x", 10, "supercali…"),         # a word longer than the room: a character cut
    ("移动支付服务中断用户无法付款", 8, "移动支付服务中…"),        # CJK: any character boundary
    ("ระบบธนาคารล่มทั้งวัน", 8, "ระบบธนา…"),            # Thai: never between a consonant and its marks
    ("Störung bei Netz", 16, "Störung bei Netz"),
    ("ab", 1, "a"),
], ids=["short", "cut", "word", "word-exact", "long-word", "cjk", "thai", "fits", "tiny"])
def test_shorten(text: str, limit: int, expected: str) -> None:
    out = shorten(text, limit)
    assert out == expected and len(out) <= limit


# -- Slack ---------------------------------------------------------------------------------------------


def test_slack_message_exact() -> None:
    body = render_slack(momo_first())
    assert body["blocks"] == [
        {"type": "header", "text": {"type": "plain_text",
                                    "text": "MoMo · outage · Ứng dụng MoMo gián đoạn, người dùng không thể thanh toán"}},
        {"type": "context", "elements": [{"type": "mrkdwn",
                                          "text": "Story #12 · first alert · 1 source, language vi so far"}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            "*<https://vnexpress.example/momo.html|Ứng dụng MoMo gián đoạn, người dùng không thể thanh toán>*\n"
            "_outage_: service down or failing")}},
        {"type": "rich_text", "elements": [{"type": "rich_text_quote", "elements": [
            {"type": "text", "text": "“"},
            {"type": "text", "text": "Từ sáng nay ứng dụng MoMo "},
            {"type": "text", "text": "gián đoạn", "style": {"bold": True}},
            {"type": "text", "text": ", nhiều người dùng "},
            {"type": "text", "text": "không thể thanh toán", "style": {"bold": True}},
            {"type": "text", "text": "."},
            {"type": "text", "text": "”"},
        ]}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            "*Strong match*: `gián đoạn`, `không thể thanh toán`\n*Source:* vnexpress (vi) · 2026-12-03 15:40 CET")}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "newsmon · story=12"}]},
    ]
    assert body["text"] == (
        "MoMo · outage · Ứng dụng MoMo gián đoạn, người dùng không thể thanh toán\n"
        "<https://vnexpress.example/momo.html|https://vnexpress.example/momo.html>\n"
        "Từ sáng nay ứng dụng MoMo [gián đoạn], nhiều người dùng [không thể thanh toán].\n"
        "strong match: gián đoạn, không thể thanh toán")


def test_slack_update_names_the_story_and_what_is_new() -> None:
    blocks = render_slack(momo_update())["blocks"]
    assert blocks[0]["text"]["text"] == "Update 2 · MoMo · outage, rumors denied · 3 sources (vi, de)"
    assert blocks[1]["elements"][0]["text"] == "Story #12 · update 2 · 3 sources, languages vi, de so far"
    assert blocks[2]["text"]["text"] == (
        "*New category:* rumors denied (a company or authority denies a rumor or fake news)\n"
        "*New sources:* tuoitre (vi), heise (de)\n*New languages:* de")
    assert blocks[3]["text"]["text"].endswith(
        "\n_outage_: service down or failing\n_rumors denied_: a company or authority denies a rumor or fake news")
    assert blocks[-2]["text"]["text"] == (
        "*Also in this message (1)*\n• heise (de): <https://heise.example/momo|MoMo: Störung der Bezahl-App dauert an>")
    assert blocks[-1]["elements"][0]["text"] == "newsmon · story=12 · 2 earlier alerts sent before"
    assert "score" not in json.dumps(blocks).lower() and "4.1" not in json.dumps(blocks)


def test_slack_marks_are_bold_in_cjk_without_spaces() -> None:
    a = alert(title="移动支付服务中断", language="zh", sentence=[["今天上午", False], ["支付服务中断", True], ["，用户无法付款。", False]])
    quote = render_slack(note([a]))["blocks"][3]
    assert quote["type"] == "rich_text"
    assert quote["elements"][0]["elements"][2] == {"type": "text", "text": "支付服务中断", "style": {"bold": True}}


def test_slack_limits_hold_for_huge_groups_and_fields() -> None:
    huge = "Ünïcode & <tags> " * 400
    seg = [[huge, False], [huge, True], [huge, False]]
    alerts = [alert(i, title=huge, snippet=huge, terms=["&" * 50] * 100, sentence=seg, story_id=1,
                    story_categories=["fraud"] * 50, story_sources=[huge] * 3, story_articles=3) for i in range(300)]
    for mode in ("alert", "update", "digest"):
        body = render_slack(note(alerts, mode, earlier=5, seq=1))
        blocks = body["blocks"]
        assert len(blocks) <= BLOCKS_MAX
        assert len(blocks[0]["text"]["text"]) <= HEADER_MAX
        assert all(len(t) <= SECTION_MAX for t in all_texts(blocks))
        assert len(body["text"]) <= FALLBACK_MAX
        assert "more" in blocks[-2]["text"]["text"]  # "…and N more" when the list is cut
        json.dumps(body)


@pytest.mark.parametrize("text,limit,expected", [
    ("abc", 5, "abc"),
    ("abcdef", 5, "abcd…"),
    ("ab&amp;cd", 5, "ab…"),     # never cut inside an entity
    ("a&lt;&gt;", 7, "a&lt;…"),
    ("one two three four", 12, "one two…"),  # a word boundary, as `shorten`
], ids=["short", "cut", "entity", "entity-boundary", "word"])
def test_slack_fit(text: str, limit: int, expected: str) -> None:
    assert fit(text, limit) == expected


def test_slack_escape() -> None:
    assert escape("a & <b> > c") == "a &amp; &lt;b&gt; &gt; c"


# -- webhook -------------------------------------------------------------------------------------------


def test_webhook_payload_v2() -> None:
    payload = render_webhook(momo_update())
    assert list(payload) == ["version", "event", "idempotency_key", "channel", "group_key", "mode", "seq", "thread_id",
                             "earlier", "title", "created", "timezone", "story", "alerts"]
    assert (payload["version"], payload["event"], payload["idempotency_key"], payload["seq"]) == (2, "story.updated", "k-upd", 2)
    assert payload["story"] == {"id": 12, "update": 2, "categories": ["outage", "rumor"], "new_categories": ["rumor"],
                                "entities": ["MoMo"], "sources": ["vnexpress", "tuoitre", "heise"],
                                "languages": ["vi", "de"], "articles": 3}
    first = payload["alerts"][0]
    assert first["sentence"] == [["Đại diện MoMo ", False], ["bác bỏ tin đồn", True], [" bị tấn công.", False]]
    assert (first["strength"], first["gloss"], first["terms"]) == ("clear", "", ["bác bỏ tin đồn"])
    assert render_webhook(momo_first())["event"] == "story.created"
    assert render_webhook(momo_first())["story"]["update"] == 0


def test_webhook_events_for_health_and_digest() -> None:
    failing = health_alert("bbc", "https://bbc.example/rss", "failing", "HTTP 503", 5)
    recovered = health_alert("bbc", "https://bbc.example/rss", "recovered", None, 0)
    assert (render_webhook(note([failing]))["event"], render_webhook(note([failing]))["story"]) == ("source.failing", None)
    assert render_webhook(note([recovered]))["event"] == "source.recovered"
    assert render_webhook(note([alert()], "digest"))["event"] == "digest"


def test_webhook_signature_scheme() -> None:
    # documented in docs/alerts.md: v1 = hex HMAC-SHA256(secret, "<t>.<body>")
    assert sign("k", 1700000000, b'{"a":1}') == (
        "t=1700000000,v1=" + __import__("hmac").new(b"k", b'1700000000.{"a":1}', "sha256").hexdigest())


# -- email ---------------------------------------------------------------------------------------------


def test_email_threading() -> None:
    first = render_email(momo_first(), "newsmon <alerts@example.com>", ["t@example.com"])
    update = render_email(momo_update(), "newsmon <alerts@example.com>", ["t@example.com"])
    assert first["Message-ID"] == "<thr12@example.com>" and first["In-Reply-To"] is None
    assert update["Message-ID"] == "<k-upd@example.com>"
    assert update["In-Reply-To"] == update["References"] == "<thr12@example.com>"
    assert first["Subject"] == "[newsmon] Story #12 · MoMo · outage · Ứng dụng MoMo gián đoạn, người dùng không thể thanh toán"
    assert update["Subject"] == "[newsmon] Story #12 · Update 2 · MoMo · outage, rumors denied · 3 sources (vi, de)"
    # no thread: the idempotency key alone, no references
    bare = render_email(note([alert()]), "alerts@example.com", ["t@example.com"])
    assert bare["Message-ID"] == "<k1@example.com>" and bare["References"] is None


def test_email_subject_is_bounded_and_folded() -> None:
    n = momo_first()
    n.alerts[0].title = "Ứng dụng MoMo gián đoạn trên toàn quốc " * 8
    msg = render_email(n, "alerts@example.com", ["t@example.com"])
    assert len(msg["Subject"]) <= SUBJECT_MAX and msg["Subject"].startswith("[newsmon] Story #12 · MoMo · outage · ")
    assert msg["Subject"].endswith("…")
    head = msg.as_bytes().split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))


def test_email_text_body_of_an_update() -> None:
    assert render_text(momo_update()) == EMAIL_UPDATE_TEXT


EMAIL_UPDATE_TEXT = """Update 2 · MoMo · outage, rumors denied · 3 sources (vi, de)

New category: rumors denied (a company or authority denies a rumor or fake news)
New sources: tuoitre (vi), heise (de)
New languages: de
MoMo bác bỏ tin đồn bị tấn công
outage: service down or failing
rumors denied: a company or authority denies a rumor or fake news
“Đại diện MoMo [bác bỏ tin đồn] bị tấn công.”
Clear match: bác bỏ tin đồn
tuoitre (vi) · 2026-12-03 15:40 CET
Story #12 · update 2 · 3 sources, languages vi, de so far
https://tuoitre.example/momo
Also in this message (1):
- heise (de): MoMo: Störung der Bezahl-App dauert an https://heise.example/momo
(2 earlier alerts for this story were sent before)

-- newsmon · story=12
"""


def test_email_html_marks_and_escapes() -> None:
    a = alert(sentence=[["police said a ", False], ["fraud <b>scheme</b>", True], [" & more", False]], strength="clear")
    out = render_html(note([a, alert(1)]))
    assert "<blockquote>“police said a <mark>fraud &lt;b&gt;scheme&lt;/b&gt;</mark> &amp; more”</blockquote>" in out
    assert "Fraud at &lt;MoMo&gt; &amp; partners" in out and "<script>" not in out
    assert '<li>src-1 (en): <a href="https://n.example/1?a=1&amp;b=&lt;2&gt;">Fraud at &lt;MoMo&gt; &amp; partners</a></li>' in out
    assert "3.5" not in out


def test_email_render_multipart() -> None:
    msg = render_email(note([alert(0), alert(1)]), "newsmon <a@example.com>", ["t@example.com"])
    assert msg["Subject"] == "[newsmon] MoMo · fraud · Fraud at <MoMo> & partners"
    text = msg.get_body(("plain",)).get_content()
    assert "Also in this message (1):\n- src-1 (en): Fraud at <MoMo> & partners https://n.example/1?a=1&b=<2>" in text
    assert "“police said a [fraud] scheme <script> & more”" in text  # no sentence: the snippet, the term marked


# -- console -------------------------------------------------------------------------------------------


def test_console_render_exact() -> None:
    assert render_console(momo_update()) == CONSOLE_UPDATE


CONSOLE_UPDATE = """=== Update 2 · MoMo · outage, rumors denied · 3 sources (vi, de)
    New category: rumors denied (a company or authority denies a rumor or fake news)
    New sources: tuoitre (vi), heise (de)
    New languages: de
    MoMo bác bỏ tin đồn bị tấn công
    outage: service down or failing
    rumors denied: a company or authority denies a rumor or fake news
    “Đại diện MoMo [bác bỏ tin đồn] bị tấn công.”
    Clear match: bác bỏ tin đồn
    tuoitre (vi) · 2026-12-03 15:40 CET
    Story #12 · update 2 · 3 sources, languages vi, de so far
    https://tuoitre.example/momo
    Also in this message (1):
    - heise (de): MoMo: Störung der Bezahl-App dauert an https://heise.example/momo
    (2 earlier alerts for this story were sent before)
"""


def test_console_first_alert_digest_and_health() -> None:
    assert render_console(momo_first()) == (
        "=== MoMo · outage · Ứng dụng MoMo gián đoạn, người dùng không thể thanh toán\n"
        "    outage: service down or failing\n"
        "    “Từ sáng nay ứng dụng MoMo [gián đoạn], nhiều người dùng [không thể thanh toán].”\n"
        "    Strong match: gián đoạn, không thể thanh toán\n"
        "    vnexpress (vi) · 2026-12-03 15:40 CET\n"
        "    Story #12 · first alert · 1 source, language vi so far\n"
        "    https://vnexpress.example/momo.html\n")
    failing = health_alert("bbc", "https://bbc.example/rss", "failing", "HTTP 503", 5)
    assert render_console(note([failing])) == (
        "=== Source bbc is failing (5 errors)\n"
        "    source: bbc · status: failing · errors: 5 · error: HTTP 503\n"
        "    https://bbc.example/rss\n")
    digest = note([alert(0, strength="clear"), failing], "digest", timezone="Europe/Berlin")
    assert render_console(digest) == (
        "=== Digest: 2 alerts (fraud, source_health)\n"
        "    * [fraud] MoMo · Fraud at <MoMo> & partners\n"
        "      src-0 (en) · 2025-03-01 13:00 CET · clear\n"
        "      https://n.example/0?a=1&b=<2>\n"
        "    * [source health] Source bbc is failing (5 errors)\n"
        "      source: bbc · status: failing · errors: 5 · error: HTTP 503\n"
        "      https://bbc.example/rss\n")


def test_sample_notification_reads_like_a_real_alert() -> None:
    n = sample_notification("c")
    out = render_console(n)
    assert out.startswith("=== newsmon · test · Test alert from newsmon: delivery works\n")
    assert "[delivery works]" in out and "Strong match" in out and "1 source, language en so far" in out
    assert render_webhook(n)["event"] == "story.created"
    assert n.lead.kind != HEALTH


def test_alert_from_article_quotes_the_match_in_context() -> None:
    text = "x " * 100 + "A large fraud scheme targeted MoMo accounts. " + "y " * 100
    a = alert_from_article(article(text=text), classification(text=text), "fraud", article_id=7, story_id=3,
                           source_tags=["ke"])
    # the sentence that holds the match, verbatim, the match marked; the next sentence is not quoted
    assert a.sentence[-2:] == [["fraud", True], [" scheme targeted MoMo accounts.", False]]
    assert a.snippet.endswith("A large [fraud] scheme targeted MoMo accounts.") and "y" not in a.snippet
    assert "".join(t for t, _ in a.sentence) == text[:text.index("accounts.") + len("accounts.")].strip()
    assert (a.terms, a.entity, a.score, a.story_id, a.article_id, a.tags) == (["fraud"], "MoMo", 3.5, 3, 7, ["ke"])


@pytest.mark.parametrize("value,expected", [("1/s", 1.0), ("30/m", 2.0), ("5/10s", 2.0), ("none", None), (None, None)])
def test_parse_rate(value: str | None, expected: float | None) -> None:
    assert parse_rate(value) == expected


def test_check_references() -> None:
    rts = routes({"match": {"category": "fraud"}, "channels": ["a", "ops"]}, {"channels": ["a"]}, {"channels": ["a"]})
    assert check_references({"a": object()}, rts) == [
        (("routes", 0, "channels", 1), 'undefined channel "ops"'),
        (("routes", 2), 'unreachable: routes[1] has no match and no "continue: true"'),
    ]


CONFIG_ERRORS = [
    ("undefined-channel",
     'channels:\n  a: {type: console}\nroutes:\n  - channels: [a, ops]\n',
     ['config.yaml:4 routes[0].channels[1]: undefined channel "ops"']),
    ("unknown-key",
     'channels:\n  s: {type: slack, url: "https://hooks.example/T/B/X", colour: red}\n',
     ["config.yaml:2 channels.s.colour: unknown key"]),
    ("bad-url-no-secret",
     f'channels:\n  s: {{type: slack, url: "ftp://{SECRET_TOKEN}"}}\n',
     ["config.yaml:2 channels.s.url: not an http(s) URL"]),
    ("bad-match-key",
     'channels:\n  a: {type: console}\nroutes:\n  - match: {team: ops}\n    channels: [a]\n',
     ['config.yaml:4 routes[0].match: unknown match key "team" (use one of: category, entity, language, source, tag)']),
    ("bad-duration",
     'channels:\n  a: {type: console}\nroutes:\n  - channels: [a]\n    group_wait: soon\n',
     ['config.yaml:5 routes[0].group_wait: not a duration: "soon" (use e.g. "30s", "5m", "2h", "1d")']),
    ("bad-rate",
     'channels:\n  s: {type: slack, url: "https://h.example/x", rate_limit: fast}\n',
     ['config.yaml:2 channels.s.rate_limit: not a rate: "fast" (use e.g. "1/s", "30/m", or "none")']),
    ("email-missing-to",
     'channels:\n  m: {type: email, host: smtp.example.com, from: a@example.com}\n',
     ["config.yaml:2 channels.m.to: required key is missing"]),
    ("unknown-type",
     'channels:\n  x: {type: pager}\n',
     None),
]


@pytest.mark.parametrize("name,text,expected", CONFIG_ERRORS, ids=[c[0] for c in CONFIG_ERRORS])
def test_config_errors_name_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str,
                                     expected: list[str] | None) -> None:
    monkeypatch.chdir(tmp_path)
    Path("config.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config("config.yaml")
    messages = [str(p) for p in exc.value.problems]
    assert all(SECRET_TOKEN not in m for m in messages)
    if expected is not None:
        assert messages == expected
    else:
        assert len(messages) == 1 and messages[0].startswith("config.yaml:2 channels.x")


def test_secrets_stay_out_of_repr_and_dumps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK", f"https://soc.example/hooks/{SECRET_TOKEN}")
    monkeypatch.setenv("PW", SECRET_TOKEN)
    (tmp_path / "config.yaml").write_text(
        'channels:\n  h: {type: webhook, url: "${HOOK}", secret: "${PW}", headers: {Authorization: "${PW}"}}\n'
        '  m: {type: email, host: smtp.example.com, password: "${PW}", from: a@example.com, to: [b@example.com]}\n',
        encoding="utf-8")
    config = load_config(tmp_path / "config.yaml")
    assert SECRET_TOKEN not in repr(config.channels) and SECRET_TOKEN not in config.model_dump_json()
    assert config.channels["h"].url.get_secret_value().endswith(SECRET_TOKEN)
