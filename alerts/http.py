"""One HTTP POST for the HTTP channels (slack, webhook), with failures classified for the retry stage:

- connection errors, timeouts, 408, 425, 429 and 5xx are retryable (429/503 carry Retry-After);
- any other non-2xx is permanent.

Error messages name the channel and the host only: never the URL path (it holds the token) nor the
text of a `requests` exception (it repeats the URL). Known secrets are scrubbed from any response text.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urlsplit

import requests

from monitor import USER_AGENT
from monitor.errors import NotifyError

RETRYABLE_STATUS = {408, 425, 429} | set(range(500, 600))


def scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def host_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def status_text(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def post(
    label: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    secrets: list[str],
    session: requests.Session | None = None,
) -> requests.Response:
    """POST and return the 2xx response; raise NotifyError otherwise. `label` is e.g. 'slack ops'."""
    host = host_of(url)
    all_headers = {"User-Agent": USER_AGENT, **headers}
    try:
        resp = (session or requests).post(
            url, data=body, headers=all_headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        raise NotifyError(f"{label}: no response from {host} within {timeout:g}s", retryable=True) from None
    except requests.ConnectionError:
        raise NotifyError(f"{label}: connection to {host} failed", retryable=True) from None
    except requests.RequestException as exc:
        raise NotifyError(f"{label}: request to {host} failed ({type(exc).__name__})", retryable=True) from None
    if 200 <= resp.status_code < 300:
        return resp
    detail = scrub(" ".join(resp.text[:200].split()), secrets + [url])
    reason = f"{label}: HTTP {status_text(resp.status_code)} from {host}" + (f": {detail}" if detail else "")
    if resp.status_code in RETRYABLE_STATUS:
        raise NotifyError(reason, retryable=True, retry_after=retry_after(resp.headers.get("Retry-After")))
    raise NotifyError(reason, retryable=False)
