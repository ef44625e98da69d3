"""Email over SMTP. Config: `host`, `port` (default 465 ssl / 587 starttls / 25 none), `security`
(ssl | starttls | none — none only for a local relay), `username` + `password` (optional login),
`from`, `to`, `subject_prefix`, `ca_file`, `rate_limit`, `timeout`.

TLS (`ssl` and `starttls`) always verifies the certificate and the host name; `ca_file` (a PEM file of CA
certificates, e.g. an internal relay's private CA) is trusted instead of the system store when given.

`render_email` builds a multipart/alternative message (text + HTML) with EmailMessage and policy SMTP,
so subjects and names in any script are encoded correctly. Both parts render the notification's
`cleaned()` copy, so no field carries a line break or another control character: the subject and names
go through `one_line`, so a CR or LF in an article can never add a header, and the text part has no
control characters but its own line breaks. In the HTML part every field is HTML-escaped and only an
http(s) URL becomes an `href` (attribute-escaped); any other URL is shown as text. The Message-ID is
derived from the idempotency key, so a retry after an unknown outcome carries the same Message-ID.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from alerts.config import EmailConfig
from alerts.http import scrub
from alerts.message import Alert, Notification, is_web_url, more_sources, one_line
from monitor.errors import NotifyError
from monitor.textutil import collapse_ws


def _address(text: str) -> Address:
    name, addr = parseaddr(text)
    return Address(display_name=one_line(name), addr_spec=addr)


def render_text(n: Notification) -> str:
    n = n.cleaned()
    lines = [n.title, ""]
    alerts = n.alerts if n.mode == "digest" else [n.lead]
    for a in alerts:
        lines += [a.headline, a.url]
        lines += [f"{label}: {value}" for label, value in a.facts()]
        if a.terms:
            lines.append("Matched: " + ", ".join(a.terms))
        if a.snippet:
            lines.append(f"“{a.snippet}”")
        lines.append("")
    if n.mode != "digest" and n.others:
        lines.append(f"{more_sources(len(n.others))}:")
        lines += [f"- {o.headline} ({o.source}) {o.url}" for o in n.others]
        lines.append("")
    if n.mode == "update" and n.earlier:
        lines.append(f"{n.earlier} earlier alerts for this story were sent before.")
    lines.append(f"-- newsmon · {n.group_key}")
    return "\n".join(lines) + "\n"


def _link(url: str, text: str) -> str:
    """An `<a>` for an http(s) URL, the text alone otherwise; both escaped (`quote=True` for the attribute)."""
    return f'<a href="{html.escape(url)}">{html.escape(text)}</a>' if is_web_url(url) else html.escape(text)


def _html_alert(a: Alert) -> str:
    e = html.escape
    rows = "".join(f"<tr><th align=left>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in a.facts())
    out = f"<h3>{_link(a.url, a.headline)}</h3><table>{rows}</table>"
    if a.terms:
        out += "<p><b>Matched:</b> " + ", ".join(f"<code>{e(t)}</code>" for t in a.terms) + "</p>"
    if a.snippet:
        out += f"<blockquote>{e(a.snippet)}</blockquote>"
    return out


def render_html(n: Notification) -> str:
    n = n.cleaned()
    e = html.escape
    parts = [f"<html><body><h2>{e(n.title)}</h2>"]
    alerts = n.alerts if n.mode == "digest" else [n.lead]
    parts += [_html_alert(a) for a in alerts]
    if n.mode != "digest" and n.others:
        parts.append(f"<p>{more_sources(len(n.others))}:</p><ul>")
        parts += [f"<li>{_link(o.url, o.headline)} ({e(o.source)})</li>" for o in n.others]
        parts.append("</ul>")
    if n.mode == "update" and n.earlier:
        parts.append(f"<p>{n.earlier} earlier alerts for this story were sent before.</p>")
    parts.append(f"<p><small>newsmon · {e(n.group_key)}</small></p></body></html>")
    return "".join(parts)


def render_email(n: Notification, sender: str, recipients: list[str], subject_prefix: str = "[newsmon]") -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = one_line(f"{subject_prefix} {n.title}")
    msg["From"] = _address(sender)
    msg["To"] = [_address(r) for r in recipients]
    msg["Date"] = format_datetime(n.created)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "newsmon.invalid"
    key = "".join(c for c in n.idempotency_key if c.isalnum() or c in "-._")
    msg["Message-ID"] = f"<{key}@{domain}>"
    msg["X-Newsmon-Event"] = n.mode
    msg.set_content(render_text(n))
    msg.add_alternative(render_html(n), subtype="html")
    return msg


class EmailChannel:
    def __init__(self, name: str, config: EmailConfig, timeout: float) -> None:
        self.name = name
        self.config = config
        self.timeout = config.timeout or timeout
        self.label = f"email {name}"

    def send(self, message: Notification) -> None:
        c = self.config
        msg = render_email(message, c.from_, c.to, c.subject_prefix)
        host = f"{c.host}:{c.effective_port}"
        context = self._tls_context() if c.security != "none" else None
        try:
            self._deliver(msg, context)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(f"{self.label}: login refused by {host} (SMTP {exc.smtp_code})", retryable=False) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            retry = all(400 <= code < 500 for code in codes)
            raise NotifyError(
                f"{self.label}: {host} refused the recipients (SMTP {', '.join(map(str, codes))})", retryable=retry
            ) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            detail = scrub(collapse_ws(text)[:200], c.secrets())
            raise NotifyError(
                f"{self.label}: SMTP {exc.smtp_code} from {host}: {detail}", retryable=400 <= exc.smtp_code < 500
            ) from None
        except ssl.SSLCertVerificationError as exc:
            reason = scrub(collapse_ws(exc.verify_message or str(exc.reason or "unknown reason")), c.secrets())
            raise NotifyError(f"{self.label}: {host}: certificate verification failed: {reason}", retryable=False) from None
        except smtplib.SMTPNotSupportedError:
            raise NotifyError(f"{self.label}: {host} does not support STARTTLS or login", retryable=False) from None
        except TimeoutError:
            raise NotifyError(f"{self.label}: no response from {host} within {self.timeout:g}s", retryable=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"{self.label}: connection to {host} failed ({type(exc).__name__})", retryable=True) from None

    def _tls_context(self) -> ssl.SSLContext:
        """Certificate and host name verification on; `ca_file` replaces the system CA store. An unusable
        `ca_file` is permanent: retrying reads the same file."""
        ca_file = self.config.ca_file
        try:
            return ssl.create_default_context(cafile=ca_file)
        except ssl.SSLError as exc:
            reason = "no usable PEM certificate in it" if exc.reason == "NO_CERTIFICATE_OR_CRL_FOUND" else str(exc.reason)
            raise NotifyError(f'{self.label}: ca_file "{ca_file}": {reason}', retryable=False) from None
        except OSError as exc:
            raise NotifyError(f'{self.label}: ca_file "{ca_file}": {exc.strerror or type(exc).__name__}', retryable=False) from None

    def _deliver(self, msg: EmailMessage, context: ssl.SSLContext | None) -> None:
        c = self.config
        smtp: smtplib.SMTP
        if c.security == "ssl":
            smtp = smtplib.SMTP_SSL(c.host, c.effective_port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(c.host, c.effective_port, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if c.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if c.username:
                smtp.login(c.username, c.password.get_secret_value() if c.password else "")
            smtp.send_message(msg)
