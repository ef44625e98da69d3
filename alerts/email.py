"""Email over SMTP. Config: `host`, `port` (default 465 ssl / 587 starttls / 25 none), `security`
(ssl | starttls | none — none only for a local relay), `username` + `password` (optional login),
`from`, `to`, `subject_prefix`, `ca_file`, `rate_limit`, `timeout`.

TLS (`ssl` and `starttls`) always verifies the certificate and the host name; `ca_file` (a PEM file of CA
certificates, e.g. an internal relay's private CA) is trusted instead of the system store when given.

`render_email` builds a multipart/alternative message (text + HTML) with EmailMessage and policy SMTP,
so subjects and names in any script are encoded correctly. Both parts render the notification's
`cleaned()` copy, so no field carries a line break or another control character: the subject and names
go through `one_line`, so a CR or LF in an article can never add a header, and the text part has no
control characters but its own line breaks. In the HTML part every field is HTML-escaped, the deciding
sentence's marked words are `<mark>` (around escaped text) and only an http(s) URL becomes an `href`
(attribute-escaped); any other URL is shown as text.

Subject: `<subject_prefix> Story #12 · <title>` (the title: `entity · categories · headline`, or
`Update n · entity · categories · N sources (langs)`), so every message of a story starts alike; at most
SUBJECT_MAX (120) characters, the headline shortened first. RFC 5322 recommends lines of at most 78
characters; the email library folds the header at 78, so a long subject is folded, never cut mid-word.

Threading: the first message of a story (seq 0) has the thread's root Message-ID
`<thread_id@domain>` (domain: the sender address's, or "newsmon.invalid"); an update has its own
Message-ID from the idempotency key, and `In-Reply-To` and `References` name the root. Both are derived
from stored keys, so a retry after an unknown outcome carries the same Message-ID.
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
from alerts.message import (
    HEALTH,
    SENTENCE_MAX,
    Alert,
    Notification,
    category_label,
    evidence_line,
    glosses,
    is_web_url,
    one_line,
    segments,
    shorten,
    shorten_segments,
    source_line,
    story_line,
    text_lines,
    whats_new,
)
from monitor.errors import NotifyError
from monitor.textutil import collapse_ws

SUBJECT_MAX = 120


def _address(text: str) -> Address:
    name, addr = parseaddr(text)
    return Address(display_name=one_line(name), addr_spec=addr)


def subject(n: Notification, prefix: str = "[newsmon]") -> str:
    """`[newsmon] Story #12 · MoMo · outage · headline`, at most SUBJECT_MAX characters, one line."""
    n = n.cleaned()
    head = one_line(prefix)
    sid = n.lead.story_id if n.mode != "digest" and not n.health else None
    if sid is not None:
        head = f"{head} Story #{sid} ·".strip()
    head = f"{head} " if head else ""
    return shorten(head + n.title_within(max(SUBJECT_MAX - len(head), 20)), SUBJECT_MAX)


def render_text(n: Notification) -> str:
    n = n.cleaned()
    lines = [n.title, "", *text_lines(n), "", f"-- newsmon · {n.group_key}"]
    return "\n".join(lines) + "\n"


def _link(url: str, text: str) -> str:
    """An `<a>` for an http(s) URL, the text alone otherwise; both escaped (`quote=True` for the attribute)."""
    return f'<a href="{html.escape(url)}">{html.escape(text)}</a>' if is_web_url(url) else html.escape(text)


def _sentence_html(a: Alert) -> str:
    segs = shorten_segments(segments(a), SENTENCE_MAX)
    if not segs:
        return ""
    body = "".join(f"<mark>{html.escape(t)}</mark>" if m else html.escape(t) for t, m in segs)
    return f"<blockquote>“{body}”</blockquote>"


def _facts_table(a: Alert, tz: str) -> str:
    e = html.escape
    return "<table>" + "".join(f"<tr><th align=left>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in a.facts(tz)) + "</table>"


def _others_html(title: str, alerts: list[Alert]) -> str:
    e = html.escape
    items = "".join(f"<li>{e(o.source)}" + (f" ({e(o.language)})" if o.language else "") + f": {_link(o.url, o.headline)}</li>"
                    for o in alerts)
    return f"<p>{e(title)}</p><ul>{items}</ul>"


def render_html(n: Notification) -> str:
    n = n.cleaned()
    e = html.escape
    tz = n.timezone
    parts = [f"<html><body><h2>{e(n.title)}</h2>"]
    if n.mode == "digest":
        for a in n.alerts:
            cat = "source health" if a.kind == HEALTH else category_label(a.category)
            who = f"{a.entity} · " if a.entity and a.kind != HEALTH else ""
            parts.append(f"<h3>[{e(cat)}] {e(who)}{_link(a.url, a.headline)}</h3>{_facts_table(a, tz)}")
    elif n.health:
        parts.append(f"<h3>{_link(n.lead.url, n.lead.headline)}</h3>{_facts_table(n.lead, tz)}")
        if n.others:
            parts.append(_others_html(f"Also in this message ({len(n.others)}):", n.others))
    else:
        lead = n.lead
        parts.append(f"<p><small>{e(story_line(n))}</small></p>")
        news = whats_new(n)
        if news:
            parts.append("<p>" + "<br>".join(f"<b>{e(x[0].upper() + x[1:])}</b>" for x in news) + "</p>")
        parts.append(f"<h3>{_link(lead.url, lead.headline)}</h3>")
        gl = glosses(n)
        if gl:
            parts.append("<ul>" + "".join(f"<li><b>{e(k)}</b>" + (f": {e(v)}" if v else "") + "</li>" for k, v in gl) + "</ul>")
        parts.append(_sentence_html(lead))
        ev = evidence_line(lead)
        if ev:
            parts.append(f"<p>{e(ev[0].upper() + ev[1:])}</p>")
        parts.append(f"<p>{e(source_line(lead, tz))}<br>{_link(lead.url, lead.url)}</p>")
        if n.others:
            parts.append(_others_html(f"Also in this message ({len(n.others)}):", n.others))
        if n.mode == "update" and n.earlier:
            parts.append(f"<p>{n.earlier} earlier alert{'s' if n.earlier != 1 else ''} for this story sent before.</p>")
    parts.append(f"<p><small>newsmon · {e(n.group_key)}</small></p></body></html>")
    return "".join(parts)


def _msgid_part(text: str) -> str:
    return "".join(c for c in text if c.isascii() and (c.isalnum() or c in "-._"))


def render_email(n: Notification, sender: str, recipients: list[str], subject_prefix: str = "[newsmon]") -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = subject(n, subject_prefix)
    msg["From"] = _address(sender)
    msg["To"] = [_address(r) for r in recipients]
    msg["Date"] = format_datetime(n.created)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "newsmon.invalid"
    key, thread = _msgid_part(n.idempotency_key), _msgid_part(n.thread_id)
    root = f"<{thread}@{domain}>" if thread else None
    if root and n.seq == 0:
        msg["Message-ID"] = root
    else:
        msg["Message-ID"] = f"<{key}@{domain}>"
        if root:
            msg["In-Reply-To"] = root
            msg["References"] = root
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
