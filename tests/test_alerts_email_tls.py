"""The email channel over TLS against a real aiosmtpd on loopback, with a CA and server certificate made
at test time (tests/tlscerts.py): STARTTLS and implicit TLS deliver both parts and log in over TLS; an
untrusted CA or a certificate for another name is a permanent "certificate verification failed" with the
exact reason; a wrong password is the usual refused login; an unusable `ca_file` is permanent; no
password ever shows in an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.message import Alert, Notification
from alerts.registry import build_channel
from monitor.config import load_config
from monitor.errors import ConfigError, NotifyError
from tests.alert_fixtures import SECRET_PASSWORD, T0, channels
from tests.smtpserver import Login, SmtpServer
from tests.tlscerts import Pki, make_pki

TIMEOUT = 20.0  # generous: the machine may be busy; a passing test never waits for it
USER = "alerts@example.com"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


def notification() -> Notification:
    a = Alert(
        category="fraud", source="news-a", title="Fraud warning: MoMo accounts targeted",
        url="https://news.example/a/1", entity="MoMo", entities=["MoMo"], language="en", published=T0,
        score=3.5, terms=["fraud"], snippet="Police said a large fraud scheme targeted MoMo accounts",
    )
    return Notification(channel="ch", alerts=[a], idempotency_key="tls-1", group_key="category=fraud", created=T0)


def server(mode: str, pki: Pki) -> SmtpServer:
    ctx = pki.server_context()
    tls = {"starttls": ctx} if mode == "starttls" else {"implicit_tls": ctx}
    return SmtpServer(users={USER: SECRET_PASSWORD}, **tls)  # type: ignore[arg-type]


def config(mode: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"type": "email", "host": "127.0.0.1", "port": port, "security": mode, "username": USER,
            "password": SECRET_PASSWORD, "from": "newsmon <alerts@example.com>", "to": ["team@example.com"],
            "timeout": TIMEOUT, **extra}


def send(cfg: dict[str, Any]) -> NotifyError | None:
    ch = build_channel("ch", channels({"ch": cfg})["ch"], timeout=TIMEOUT)
    try:
        ch.send(notification())
    except NotifyError as exc:
        assert SECRET_PASSWORD not in str(exc) and SECRET_PASSWORD not in repr(exc) and SECRET_PASSWORD not in exc.reason
        return exc
    return None


MODES = ["starttls", "ssl"]


@pytest.mark.parametrize(
    "mode,host", [("starttls", "127.0.0.1"), ("ssl", "127.0.0.1"), ("starttls", "localhost"), ("ssl", "localhost")],
    ids=["starttls-ip", "ssl-ip", "starttls-dns", "ssl-dns"],
)
def test_delivers_both_parts_and_logs_in_over_tls(pki: Pki, mode: str, host: str) -> None:
    with server(mode, pki) as smtp:
        assert send(config(mode, smtp.port, host=host, ca_file=str(pki.ca_file))) is None
        (got,) = smtp.wait_for(1, timeout=TIMEOUT)
    assert smtp.logins == [Login(USER, password_ok=True, over_tls=True)]
    assert got.rcpt_tos == ["team@example.com"]
    assert got.message.get_content_type() == "multipart/alternative"
    assert "Matched: fraud" in got.message.get_body(("plain",)).get_content()
    assert '<a href="https://news.example/a/1">' in got.message.get_body(("html",)).get_content()


def test_relative_ca_file_is_read_from_the_working_directory(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with server("starttls", pki) as smtp:
        assert send(config("starttls", smtp.port, ca_file=pki.ca_file.name)) is None
        smtp.wait_for(1, timeout=TIMEOUT)


# (case id, ca_file: None = system store / "other" = a different CA / "own" = the server's CA,
#  certificate names, expected reason)
REFUSED = [
    ("system-store", None, ("localhost", "127.0.0.1"), "unable to get local issuer certificate"),
    ("other-ca", "other", ("localhost", "127.0.0.1"), "unable to get local issuer certificate"),
    ("wrong-name", "own", ("localhost",), "IP address mismatch, certificate is not valid for '127.0.0.1'."),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case,ca,names,reason", REFUSED, ids=[c[0] for c in REFUSED])
def test_untrusted_certificate_is_permanent_and_sends_no_password(
    tmp_path: Path, mode: str, case: str, ca: str | None, names: tuple[str, ...], reason: str
) -> None:
    pki = make_pki(tmp_path, names=names)
    ca_file = {None: None, "own": str(pki.ca_file), "other": str(make_pki(tmp_path, name="other").ca_file)}[ca]
    with server(mode, pki) as smtp:
        err = send(config(mode, smtp.port, ca_file=ca_file))
    assert err is not None
    assert (str(err), err.retryable, err.retry_after) == (
        f"email ch: 127.0.0.1:{smtp.port}: certificate verification failed: {reason}", False, None
    )
    assert smtp.logins == [] and smtp.messages == []


@pytest.mark.parametrize("mode", MODES)
def test_wrong_password_is_a_refused_login(pki: Pki, mode: str) -> None:
    with server(mode, pki) as smtp:
        err = send(config(mode, smtp.port, ca_file=str(pki.ca_file), password="not-" + SECRET_PASSWORD))
    assert err is not None
    assert (str(err), err.retryable) == (f"email ch: login refused by 127.0.0.1:{smtp.port} (SMTP 535)", False)
    assert "not-" + SECRET_PASSWORD not in str(err)
    assert smtp.logins and all(login == Login(USER, password_ok=False, over_tls=True) for login in smtp.logins)
    assert smtp.messages == []


def test_ca_file_unusable_is_permanent(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    for path, reason in [(missing, "No such file or directory"), (not_pem, "no usable PEM certificate in it")]:
        err = send(config("starttls", 25, host="smtp.invalid", ca_file=str(path)))
        assert err is not None
        assert (str(err), err.retryable) == (f'email ch: ca_file "{path}": {reason}', False)


def test_ca_file_with_security_none_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("config.yaml").write_text(
        "channels:\n  m: {type: email, host: relay, security: none, ca_file: ca.pem,\n"
        "      from: a@example.com, to: [b@example.com]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_config("config.yaml")
    assert [str(p) for p in exc.value.problems] == [
        'config.yaml:2 channels.m.ca_file: only used with security "ssl" or "starttls"'
    ]
