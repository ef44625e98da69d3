"""Every channel against a real receiver on loopback: the conformance table (what each outcome means
for the retry stage, with the exact message) and the rule that no secret ever appears in an error
message or a repr. Plus the things only a real server shows: the webhook signature verifies, email
arrives with both parts and correctly encoded headers, a CRLF title adds no header, Apprise delivers."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from alerts.message import Alert, Notification, sample_notification
from alerts.registry import CHANNELS, build_channel
from alerts.webhook import verify
from monitor.errors import NotifyError
from tests.alert_fixtures import SECRET_KEY, SECRET_PASSWORD, SECRET_TOKEN, T0, channels
from tests.receiver import DROP, HANG, Receiver, Reply
from tests.smtpserver import SmtpServer

TIMEOUT = 0.5


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def notification(title: str = "Fraud warning: MoMo accounts targeted", key: str = "key-1") -> Notification:
    a = Alert(
        category="fraud",
        source="news-a",
        title=title,
        url="https://news.example/a/1?x=1&y=2",
        entity="MoMo",
        entities=["MoMo"],
        language="en",
        published=T0,
        score=3.5,
        terms=["fraud"],
        snippet="Police said a large fraud scheme targeted MoMo accounts",
    )
    return Notification(channel="ch", alerts=[a], idempotency_key=key, group_key="category=fraud,entity=MoMo", created=T0)


# -- the conformance table --------------------------------------------------------------------------
# (case id, what the server does, expected: None for success, else (retryable, retry_after, message))
# Messages use {host} for "127.0.0.1:<port>".

HTTP_CASES: dict[str, list[tuple[str, Any, Any]]] = {
    "slack": [
        ("ok", Reply(200, "ok"), None),
        ("500", Reply(500, "oops"), (True, None, "slack ch: HTTP 500 Internal Server Error from {host}: oops")),
        ("503-retry-after", Reply(503, "", {"Retry-After": "7"}), (True, 7.0, "slack ch: HTTP 503 Service Unavailable from {host}")),
        ("429", Reply(429, "rate_limited", {"Retry-After": "3"}), (True, 3.0, "slack ch: HTTP 429 Too Many Requests from {host}: rate_limited")),
        ("404", Reply(404, "no_service"), (False, None, "slack ch: HTTP 404 Not Found from {host}: no_service")),
        ("403-echoes-token", Reply(403, f"invalid_token {SECRET_TOKEN}"), (False, None, "slack ch: HTTP 403 Forbidden from {host}: invalid_token ***")),
        ("410", Reply(410, "channel_is_archived"), (False, None, "slack ch: HTTP 410 Gone from {host}: channel_is_archived")),
        ("200-not-ok", Reply(200, "invalid_payload"), (False, None, 'slack ch: HTTP 200 from {host} without "ok": invalid_payload')),
        ("drop", DROP, (True, None, "slack ch: connection to {host} failed")),
        ("hang", HANG, (True, None, f"slack ch: no response from {{host}} within {TIMEOUT:g}s")),
    ],
    "webhook": [
        ("ok", Reply(200, ""), None),
        ("204", Reply(204, ""), None),
        ("500", Reply(502, "bad gateway"), (True, None, "webhook ch: HTTP 502 Bad Gateway from {host}: bad gateway")),
        ("429", Reply(429, "", {"Retry-After": "2"}), (True, 2.0, "webhook ch: HTTP 429 Too Many Requests from {host}")),
        ("404", Reply(404, "not found"), (False, None, "webhook ch: HTTP 404 Not Found from {host}: not found")),
        ("400-echoes-secrets", Reply(400, f"bad {SECRET_KEY} {SECRET_TOKEN}"), (False, None, "webhook ch: HTTP 400 Bad Request from {host}: bad *** ***")),
        ("drop", DROP, (True, None, "webhook ch: connection to {host} failed")),
        ("hang", HANG, (True, None, f"webhook ch: no response from {{host}} within {TIMEOUT:g}s")),
    ],
    # Apprise only says success or failure, so every failure is retryable (documented).
    "apprise": [
        ("ok", Reply(200, "{}"), None),
        ("500", Reply(500, ""), (True, None, "apprise ch: the json:// service did not accept the message")),
        ("404", Reply(404, ""), (True, None, "apprise ch: the json:// service did not accept the message")),
    ],
}


def http_config(kind: str, base: str) -> dict[str, Any]:
    if kind == "slack":
        return {"type": "slack", "url": f"{base}/services/{SECRET_TOKEN}", "timeout": TIMEOUT}
    if kind == "webhook":
        return {"type": "webhook", "url": f"{base}/hook/{SECRET_TOKEN}", "secret": SECRET_KEY, "timeout": TIMEOUT,
                "headers": {"Authorization": f"Bearer {SECRET_TOKEN}"}}
    if kind == "apprise":
        host = base.removeprefix("http://")
        return {"type": "apprise", "url": f"json://user:{SECRET_PASSWORD}@{host}/hook/{SECRET_TOKEN}", "timeout": TIMEOUT}
    raise AssertionError(kind)


def send(config: dict[str, Any], n: Notification) -> NotifyError | None:
    cfg = channels({"ch": config})["ch"]
    ch = build_channel("ch", cfg, timeout=TIMEOUT)
    assert SECRET_TOKEN not in repr(cfg) and SECRET_PASSWORD not in repr(cfg) and SECRET_KEY not in repr(cfg)
    try:
        ch.send(n)
    except NotifyError as exc:
        return exc
    return None


def assert_outcome(err: NotifyError | None, expected: Any, host: str) -> None:
    if expected is None:
        assert err is None, f"expected success, got {err}"
        return
    retryable, retry_after, message = expected
    assert err is not None, "expected a failure"
    assert (err.retryable, err.retry_after, str(err)) == (retryable, retry_after, message.format(host=host))
    for secret in (SECRET_TOKEN, SECRET_KEY, SECRET_PASSWORD):
        assert secret not in str(err) and secret not in repr(err) and secret not in err.reason


@pytest.mark.parametrize(
    "kind,case,action,expected",
    [(k, cid, a, e) for k, cases in HTTP_CASES.items() for cid, a, e in cases],
    ids=[f"{k}-{cid}" for k, cases in HTTP_CASES.items() for cid, _, _ in cases],
)
def test_http_channel_conformance(kind: str, case: str, action: Any, expected: Any) -> None:
    with Receiver() as rx:
        rx.script(action)
        err = send(http_config(kind, rx.url), notification())
        assert len(rx.requests) == 1
        assert_outcome(err, expected, f"127.0.0.1:{rx.port}")


@pytest.mark.parametrize("kind", ["slack", "webhook"])
def test_http_channel_connection_refused_is_retryable(kind: str) -> None:
    port = closed_port()
    err = send(http_config(kind, f"http://127.0.0.1:{port}"), notification())
    assert_outcome(err, (True, None, f"{kind} ch: connection to {{host}} failed"), f"127.0.0.1:{port}")


SMTP_CASES = [
    ("accepted", None, {}, None),
    ("451-temporary", "451 4.3.0 Try again later", {}, (True, None, "email ch: SMTP 451 from {host}: 4.3.0 Try again later")),
    ("554-rejected", "554 5.7.1 Message rejected", {}, (False, None, "email ch: SMTP 554 from {host}: 5.7.1 Message rejected")),
    ("starttls-unsupported", None, {"security": "starttls"}, (False, None, "email ch: {host} does not support STARTTLS or login")),
    ("login-unsupported", None, {"username": "alerts", "password": SECRET_PASSWORD},
     (False, None, "email ch: {host} does not support STARTTLS or login")),
]


@pytest.mark.parametrize("case,reply,extra,expected", SMTP_CASES, ids=[c[0] for c in SMTP_CASES])
def test_email_channel_conformance(case: str, reply: str | None, extra: dict[str, Any], expected: Any) -> None:
    with SmtpServer() as smtp:
        if reply:
            smtp.script(reply)
        cfg = {"type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
               "from": "newsmon <alerts@example.com>", "to": ["team@example.com"], **extra}
        err = send(cfg, notification())
        assert_outcome(err, expected, f"127.0.0.1:{smtp.port}")
        assert len(smtp.messages) == (1 if expected is None else 0)


def test_email_server_down_is_retryable() -> None:
    port = closed_port()
    cfg = {"type": "email", "host": "127.0.0.1", "port": port, "security": "none", "password": SECRET_PASSWORD,
           "from": "alerts@example.com", "to": ["team@example.com"]}
    err = send(cfg, notification())
    assert_outcome(err, (True, None, "email ch: connection to {host} failed (ConnectionRefusedError)"), f"127.0.0.1:{port}")


def test_apprise_unusable_url_is_permanent() -> None:
    err = send({"type": "apprise", "url": f"nosuchservice://{SECRET_TOKEN}"}, notification())
    assert_outcome(err, (False, None, "apprise ch: not a usable Apprise URL (scheme nosuchservice://)"), "")


def test_console_channel_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert send({"type": "console"}, notification()) is None
    out = capsys.readouterr().out
    assert out.startswith("=== MoMo · fraud · Fraud warning: MoMo accounts targeted\n")
    assert "    fraud: scam, phishing or impersonation\n" in out and "    Matched: fraud\n" in out


def test_every_channel_type_has_a_conformance_table() -> None:
    covered = set(HTTP_CASES) | {"email", "console"}
    assert covered == set(CHANNELS)


# -- what only a real receiver shows -------------------------------------------------------------------


def test_webhook_payload_headers_and_signature_verify() -> None:
    with Receiver() as rx:
        cfg = http_config("webhook", rx.url)
        assert send(cfg, notification(key="idem-42")) is None
        (req,) = rx.wait_for(1)
    assert req.path == f"/hook/{SECRET_TOKEN}"
    assert req.header("Idempotency-Key") == "idem-42"
    assert req.header("X-Newsmon-Event") == "story.created"
    assert req.header("Authorization") == f"Bearer {SECRET_TOKEN}"
    assert req.header("Content-Type") == "application/json; charset=utf-8"
    sig = req.header("X-Newsmon-Signature")
    assert sig is not None and verify(SECRET_KEY, sig, req.body)
    assert not verify("wrong-key", sig, req.body)
    assert not verify(SECRET_KEY, sig, req.body + b" ")
    payload = req.json()
    assert payload["version"] == 2 and payload["idempotency_key"] == "idem-42" and payload["event"] == "story.created"
    assert payload["alerts"][0]["title"] == "Fraud warning: MoMo accounts targeted"
    assert payload["alerts"][0]["terms"] == ["fraud"]


def test_slack_posts_block_kit_json() -> None:
    with Receiver() as rx:
        assert send(http_config("slack", rx.url), notification(title="A & B <script>")) is None
        (req,) = rx.wait_for(1)
    body = req.json()
    assert body["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "MoMo · fraud · A & B <script>"}}
    assert body["text"].startswith("MoMo · fraud · A &amp; B &lt;script&gt;\n")


def test_apprise_json_delivers_through_local_receiver() -> None:
    with Receiver(Reply(200, "{}")) as rx:
        assert send(http_config("apprise", rx.url), notification()) is None
        (req,) = rx.wait_for(1)
    assert req.path == f"/hook/{SECRET_TOKEN}"
    body = req.json()
    assert body["title"] == "MoMo · fraud · Fraud warning: MoMo accounts targeted"
    assert "Matched: fraud" in body["message"] and "“Police said a large [fraud] scheme" in body["message"]


def test_email_arrives_with_both_parts_and_encoded_headers() -> None:
    title = "Мошенничество: 移动支付 fraud <b>alert</b> & more"
    with SmtpServer() as smtp:
        cfg = {"type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
               "from": "Ньюсмон Алерты <alerts@example.com>", "to": ["team@example.com", "soc@example.com"],
               "subject_prefix": "[newsmon]"}
        assert send(cfg, notification(title=title, key="idem-7")) is None
        (got,) = smtp.wait_for(1)
    assert got.mail_from == "alerts@example.com"
    assert got.rcpt_tos == ["team@example.com", "soc@example.com"]
    got.raw.decode("ascii")  # every header and body part is 7-bit/encoded on the wire
    msg = got.message
    assert msg["Subject"] == f"[newsmon] MoMo · fraud · {title}"
    assert msg["From"].addresses[0].display_name == "Ньюсмон Алерты"
    assert msg["Message-ID"] == "<idem-7@example.com>"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert title in text and "Matched: fraud" in text and "fraud: scam, phishing or impersonation" in text
    assert "&lt;b&gt;alert&lt;/b&gt; &amp; more" in html and "<b>alert</b>" not in html
    assert 'href="https://news.example/a/1?x=1&amp;y=2"' in html


def test_email_title_with_crlf_adds_no_header() -> None:
    title = "Breaking\r\nBcc: victim@evil.example\r\nX-Injected: yes\nSubject: spoof"
    with SmtpServer() as smtp:
        cfg = {"type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
               "from": "alerts@example.com", "to": ["team@example.com"]}
        assert send(cfg, notification(title=title)) is None
        (got,) = smtp.wait_for(1)
    assert got.rcpt_tos == ["team@example.com"]
    assert got.message["Bcc"] is None and got.message["X-Injected"] is None
    assert got.message.get_all("Subject") == [
        "[newsmon] MoMo · fraud · Breaking Bcc: victim@evil.example X-Injected: yes Subject: spoof"
    ]


def test_sample_notification_is_sendable_to_console(capsys: pytest.CaptureFixture[str]) -> None:
    assert send({"type": "console"}, sample_notification("ch")) is None
    assert "Test alert from newsmon" in capsys.readouterr().out


def test_email_story_thread_over_smtp() -> None:
    """The first message of a story is the thread's root; an update replies to it, with its own id."""
    first = notification(key="idem-1")
    first.thread_id, first.alerts[0].story_id = "thread-9", 9
    update = notification(title="Update from another outlet", key="idem-2")
    update.mode, update.seq, update.thread_id, update.earlier, update.alerts[0].story_id = "update", 1, "thread-9", 1, 9
    with SmtpServer() as smtp:
        cfg = {"type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
               "from": "newsmon <alerts@example.com>", "to": ["team@example.com"]}
        assert send(cfg, first) is None and send(cfg, update) is None
        got = [m.message for m in smtp.wait_for(2)]
    assert [m["Message-ID"] for m in got] == ["<thread-9@example.com>", "<idem-2@example.com>"]
    assert got[0]["In-Reply-To"] is None
    assert got[1]["In-Reply-To"] == got[1]["References"] == "<thread-9@example.com>"
    assert got[0]["Subject"] == "[newsmon] Story #9 · MoMo · fraud · Fraud warning: MoMo accounts targeted"
    assert got[1]["Subject"] == "[newsmon] Story #9 · Update 1 · MoMo · fraud · 1 source (en)"
