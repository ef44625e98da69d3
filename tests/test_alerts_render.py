"""Pure renderers and config models: Slack escaping and limits, the webhook payload, email and console
text, and config errors with exact messages (through the real config loader)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.config import check_references, parse_rate
from alerts.console import render_console
from alerts.email import render_email
from alerts.message import Alert, Notification, alert_from_article
from alerts.slack import BLOCKS_MAX, FALLBACK_MAX, HEADER_MAX, SECTION_MAX, escape, fit, render_slack
from alerts.webhook import render_webhook, sign
from monitor.config import load_config
from monitor.errors import ConfigError
from tests.alert_fixtures import SECRET_TOKEN, T0, article, classification, routes


def alert(n: int = 0, title: str = "Fraud at <MoMo> & partners", **kw: object) -> Alert:
    base = dict(category="fraud", source=f"src-{n}", title=title, url=f"https://n.example/{n}?a=1&b=<2>",
                entity="MoMo", entities=["MoMo"], language="en", published=T0, score=3.5,
                terms=["fraud"], snippet="police said a fraud scheme <script> & more")
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def note(alerts: list[Alert], mode: str = "alert", earlier: int = 0) -> Notification:
    return Notification(channel="c", alerts=alerts, idempotency_key="k1", mode=mode, group_key="category=fraud,entity=MoMo",
                        earlier=earlier, created=T0)


def all_texts(blocks: list[dict]) -> list[str]:
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", [])]
        out += [e["text"] for e in b.get("elements", [])]
    return out


def test_slack_message_exact() -> None:
    body = render_slack(note([alert()]))
    assert body["blocks"][:4] == [
        {"type": "header", "text": {"type": "plain_text", "text": "[fraud · MoMo] Fraud at <MoMo> & partners"}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": "*<https://n.example/0?a=1&amp;b=%3C2%3E|Fraud at &lt;MoMo&gt; &amp; partners>*"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": "*Category*\nfraud"},
            {"type": "mrkdwn", "text": "*Entity*\nMoMo"},
            {"type": "mrkdwn", "text": "*Source*\nsrc-0"},
            {"type": "mrkdwn", "text": "*Language*\nen"},
            {"type": "mrkdwn", "text": "*Published*\n2025-03-01 12:00 UTC"},
            {"type": "mrkdwn", "text": "*Score*\n3.5"},
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Matched:* `fraud`"}},
    ]
    assert body["blocks"][4]["text"]["text"] == ">police said a *fraud* scheme &lt;script&gt; &amp; more"
    # the fallback's URL is a link like any other (it was sent raw: issue 8, Slack mention injection)
    assert body["text"] == ("[fraud · MoMo] Fraud at &lt;MoMo&gt; &amp; partners\n"
                            "<https://n.example/0?a=1&amp;b=%3C2%3E|https://n.example/0?a=1&amp;b=&lt;2&gt;>\n"
                            "police said a fraud scheme &lt;script&gt; &amp; more")


def test_slack_limits_hold_for_huge_groups_and_fields() -> None:
    huge = "Ünïcode & <tags> " * 400
    alerts = [alert(i, title=huge, snippet=huge, terms=["&" * 50] * 100) for i in range(300)]
    for mode in ("alert", "update", "digest"):
        body = render_slack(note(alerts, mode, earlier=5))
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
], ids=["short", "cut", "entity", "entity-boundary"])
def test_slack_fit(text: str, limit: int, expected: str) -> None:
    assert fit(text, limit) == expected


def test_slack_escape() -> None:
    assert escape("a & <b> > c") == "a &amp; &lt;b&gt; &gt; c"


def test_webhook_payload_v1() -> None:
    payload = render_webhook(note([alert()]))
    assert list(payload) == ["version", "id", "event", "channel", "group_key", "earlier", "title", "created", "alerts"]
    assert (payload["version"], payload["id"], payload["event"]) == (1, "k1", "alert")
    assert payload["alerts"][0] == {
        "category": "fraud", "source": "src-0", "title": "Fraud at <MoMo> & partners",
        "url": "https://n.example/0?a=1&b=<2>", "kind": "article", "entity": "MoMo", "entities": ["MoMo"],
        "language": "en", "published": "2025-03-01T12:00:00+00:00", "score": 3.5, "terms": ["fraud"],
        "snippet": "police said a fraud scheme <script> & more", "story_id": None, "article_id": None, "tags": [],
        "status": None, "error": None, "errors": None,
    }


def test_webhook_signature_scheme() -> None:
    # documented in docs/alerts.md: v1 = hex HMAC-SHA256(secret, "<t>.<body>")
    assert sign("k", 1700000000, b'{"a":1}') == (
        "t=1700000000,v1=" + __import__("hmac").new(b"k", b'1700000000.{"a":1}', "sha256").hexdigest())


def test_email_render_multipart_and_escaped() -> None:
    msg = render_email(note([alert(0), alert(1)]), "newsmon <a@example.com>", ["t@example.com"])
    assert msg["Subject"] == "[newsmon] [fraud · MoMo] Fraud at <MoMo> & partners (+1 more source)"
    html = msg.get_body(("html",)).get_content()
    assert "Fraud at &lt;MoMo&gt; &amp; partners" in html and "<script>" not in html
    text = msg.get_body(("plain",)).get_content()
    assert "1 more source:\n- Fraud at <MoMo> & partners (src-1) https://n.example/1?a=1&b=<2>" in text


def test_console_render_exact() -> None:
    assert render_console(note([alert(0), alert(1)])) == (
        "=== [fraud · MoMo] Fraud at <MoMo> & partners (+1 more source)\n"
        "    https://n.example/0?a=1&b=<2>\n"
        "    category: fraud · entity: MoMo · source: src-0 · language: en · published: 2025-03-01 12:00 UTC · score: 3.5\n"
        "    matched: fraud\n"
        "    “police said a fraud scheme <script> & more”\n"
        "    1 more source:\n"
        "      - Fraud at <MoMo> & partners (src-1) https://n.example/1?a=1&b=<2>\n"
    )


def test_alert_from_article_quotes_the_match_in_context() -> None:
    text = "x " * 100 + "A large fraud scheme targeted MoMo accounts. " + "y " * 100
    a = alert_from_article(article(text=text), classification(text=text), "fraud", article_id=7, story_id=3,
                           source_tags=["ke"])
    assert a.snippet.startswith("…") and a.snippet.endswith("…")
    assert "A large fraud scheme targeted MoMo accounts." in a.snippet
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
