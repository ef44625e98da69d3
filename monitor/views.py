"""What `newsmon status/stories/alerts/silence`, the status page and the JSON API show: one function per
view, each taking the Config and an open store (and its arguments) and returning plain JSON-able
dicts and lists (times as UTC ISO strings). The commands format these as tables; the web app
(monitor/web) renders them as HTML or serves them as JSON.

Reading views only read (`query`, `store.conn` SELECTs): they work on a read-only connection.
`add_silence`, `expire_silence` and `retry` write, each in one short transaction.

Secrets: every text a secret can reach (a source's URL and last error, an alert message's title and
last error, an article's URL) is passed through monitor.logs.redact here, once, so the commands, the
page and the API show `***` for each registered secret (monitor/config.py registers them) and none of
them needs to redact again.

Errors: `NotFound` (an unknown id) and `ValueError` (bad arguments, the message says which).
"""

from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from monitor.durations import format_duration, parse_duration
from monitor.logs import redact
from monitor.store.sqlite import from_iso, to_iso

HOURS = 24                    # the sparkline: new articles per clock hour, the last 24 of them
ALERT_STATES = ("pending", "sent", "dead")


class NotFound(LookupError):
    """No such story, article, alert message or (active) silence; the message names it."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat() if dt else None


def _masked(text: str | None) -> str | None:
    """`text` with the registered secrets masked (None stays None)."""
    return redact(text) if text else text


# -- the daemon ---------------------------------------------------------------------------------------

def daemon(config: Any) -> dict[str, Any]:
    """Whether a daemon runs on this config's store (monitor/runinfo.py), since when and where its
    health endpoint is; when none runs, when one last stopped cleanly (null: never or not known)."""
    from monitor import runinfo

    info = runinfo.read(config)
    if info is None:
        return {"running": False, "pid": None, "started": None, "health_url": None, "config_path": None,
                "host": None, "last_stopped": _iso(runinfo.last_stopped(config))}
    return {"running": True, "pid": info.pid, "started": _iso(info.started), "health_url": info.health_url,
            "config_path": info.config_path, "host": info.host, "last_stopped": None}


# -- sources --------------------------------------------------------------------------------------------

def source_state(enabled: bool, st: Any, now: datetime) -> str:
    """disabled | never polled | held (a Retry-After holds it) | failing | ok."""
    if not enabled:
        return "disabled"
    if st is None or st.last_poll is None:
        return "never polled"
    if st.retry_after_until is not None and st.retry_after_until > now:
        return "held"
    if st.consecutive_errors:
        return "failing"
    return "ok"


def sources(config: Any, store: Any, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every configured source: polling state, last/next poll, new articles in the last 24h (and per
    clock hour: `hourly`, 24 counts, oldest first, the current hour last), stored articles, entries
    queued for their page, consecutive errors and the last error."""
    now = now or utcnow()
    states = store.all_source_states()
    day_ago = to_iso(now - timedelta(days=1))
    new_24h = dict(store.query("SELECT source_id, count(*) FROM articles WHERE fetched >= ? GROUP BY source_id",
                               (day_ago,)))
    total = dict(store.query("SELECT source_id, count(*) FROM articles GROUP BY source_id"))
    queued = store.pending_counts()
    first_hour = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    hours = [to_iso(first_hour + timedelta(hours=i))[:13] for i in range(HOURS)]  # "2026-12-03T17"
    index = {h: i for i, h in enumerate(hours)}
    hourly: dict[str, list[int]] = {}
    for source_id, hour, n in store.query(
            "SELECT source_id, substr(fetched, 1, 13), count(*) FROM articles WHERE fetched >= ?"
            " GROUP BY source_id, substr(fetched, 1, 13)", (to_iso(first_hour),)):
        if hour in index:
            hourly.setdefault(source_id, [0] * HOURS)[index[hour]] = int(n)
    out = []
    for s in config.sources:
        st = states.get(s.id)
        out.append({
            "id": s.id, "type": s.type, "url": _masked(s.url), "enabled": s.enabled,
            "state": source_state(s.enabled, st, now),
            "last_poll": to_iso(st.last_poll) if st else None,
            "last_success": to_iso(st.last_success) if st else None,
            "next_poll": to_iso(st.next_poll) if st else None,
            "new_24h": new_24h.get(s.id, 0), "articles": total.get(s.id, 0), "queued": queued.get(s.id, 0),
            "consecutive_errors": st.consecutive_errors if st else 0,
            "last_error": _masked(st.last_error) if st and st.consecutive_errors else None,
            "hourly": hourly.get(s.id, [0] * HOURS),
        })
    return out


# -- the outbox ---------------------------------------------------------------------------------------

def outbox(store: Any, now: datetime | None = None) -> dict[str, Any]:
    """Per channel, how many messages are sent, pending (of which held for grouping, ready to send,
    sending, waiting for retry) and dead; and when the oldest pending one was queued."""
    from alerts.outbox import _state

    now = now or utcnow()
    channels: dict[str, dict[str, int]] = {}

    def counts(channel: str) -> dict[str, int]:
        return channels.setdefault(channel, {"sent": 0, "pending": 0, "dead": 0, "held": 0, "ready": 0,
                                             "sending": 0, "retrying": 0})

    for channel, status, n in store.query("SELECT channel, status, count(*) FROM alert_outbox"
                                          " WHERE status != 'pending' GROUP BY channel, status"):
        counts(channel)[status] = int(n)
    for r in store.query("SELECT channel, status, sent_at, dead_at, lease_until, next_attempt_at, due_at, attempts"
                         " FROM alert_outbox WHERE status = 'pending'"):
        c = counts(r["channel"])
        c["pending"] += 1
        c[_state(r, now)[0]] += 1
    oldest = store.query("SELECT min(created) FROM alert_outbox WHERE status = 'pending'")[0][0]
    return {"channels": dict(sorted(channels.items())), "oldest_pending": oldest}


# -- stories ----------------------------------------------------------------------------------------------

def story_window(config: Any) -> float:
    """How long a story stays open after its last report, in seconds (`stories.window`)."""
    from monitor.story_ops import WINDOW

    return float(getattr(getattr(config, "stories", None), "window", WINDOW))


def stories(config: Any, store: Any, *, open_only: bool = False, since: datetime | str | None = None,
            limit: int = 100, now: datetime | None = None) -> list[dict[str, Any]]:
    """Stories not merged away, the latest report first (`since`: a datetime, or a duration such as
    "7d"; ValueError when it is neither)."""
    from monitor.story_ops import list_stories

    now = now or utcnow()
    if isinstance(since, str):
        since = now - timedelta(seconds=parse_duration(since))
    rows = list_stories(store.conn, now, open_only, since, window=story_window(config), limit=max(int(limit), 1))
    return [s.to_json() for s in rows]


def story(config: Any, store: Any, story_id: int, now: datetime | None = None) -> dict[str, Any]:
    """A story (a merged one too: `merged_into` says where its reports went) and its reports in the order
    they came; each report's `copy_of` (a near-copy of that article) and `copy_story` (that article's
    story, when it is another one)."""
    from monitor.story_ops import StoryError, story_detail

    try:
        d = story_detail(store.conn, int(story_id), now or utcnow(), window=story_window(config))
    except StoryError as exc:
        raise NotFound(str(exc)) from None
    return {"story": d.story.to_json(),
            "articles": [{**a.to_json(), "url": _masked(a.url), "copy_story": a.copy_story} for a in d.articles]}


# -- articles -------------------------------------------------------------------------------------------

_ARTICLE_COLUMNS = ("id, url, source_id, title, language, published, fetched, categories, entities, scores,"
                    " story_id, copy_of")


def _article_summary(r: Any) -> dict[str, Any]:
    import json

    return {"id": r["id"], "url": _masked(r["url"]), "source": r["source_id"], "title": r["title"],
            "language": r["language"], "published": r["published"], "fetched": r["fetched"],
            "categories": json.loads(r["categories"] or "[]"), "entities": json.loads(r["entities"] or "[]"),
            "scores": json.loads(r["scores"] or "{}"), "story_id": r["story_id"], "copy_of": r["copy_of"]}


def articles(config: Any, store: Any, *, source: str | None = None, category: str | None = None,
             story_id: int | None = None, flagged: bool = False, since: datetime | str | None = None,
             limit: int = 50, now: datetime | None = None) -> list[dict[str, Any]]:
    """Stored articles, the latest fetched first: those of one source, one story, flagged with one
    category (`category`) or with any (`flagged`), fetched `since` (a datetime or a duration)."""
    now = now or utcnow()
    where, params = [], []  # type: ignore[var-annotated]
    if source is not None:
        where.append("source_id = ?")
        params.append(source)
    if story_id is not None:
        where.append("story_id = ?")
        params.append(int(story_id))
    if category is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(articles.categories) WHERE value = ?)")
        params.append(category)
    if flagged:
        where.append("categories NOT IN ('[]', '')")
    if isinstance(since, str):
        since = now - timedelta(seconds=parse_duration(since))
    if since is not None:
        where.append("fetched >= ?")
        params.append(to_iso(since))
    sql = (f"SELECT {_ARTICLE_COLUMNS} FROM articles {'WHERE ' + ' AND '.join(where) if where else ''}"
           f" ORDER BY fetched DESC, id DESC LIMIT ?")
    return [_article_summary(r) for r in store.query(sql, [*params, max(int(limit), 1)])]


_RULES_LOCK = threading.Lock()
_RULES: list[tuple[Any, Any]] = []   # [(config, RuleSet)]: the rules of the last configs asked about


def _rules(config: Any) -> Any:
    from monitor.classify import load_ruleset

    with _RULES_LOCK:
        for cfg, rules in _RULES:
            if cfg is config:
                return rules
    rules = load_ruleset(config.classify, config.base_dir)
    with _RULES_LOCK:
        _RULES[:] = [(config, rules), *_RULES[:1]]
    return rules


def article(config: Any, store: Any, article_id: int, rules: Any = None) -> dict[str, Any]:
    """One article: what was stored (text, the categories, entities, scores it was flagged with) and
    `explanation`, the classifier's explanation under the rules in force (`rules`, or the config's
    keyword files), as `newsmon check --format json` gives it, with `explanation_text` as `newsmon
    check` prints it."""
    from monitor.classify import classify
    from monitor.commands.check import Analysed, render_text, to_json

    rows = store.query(f"SELECT {_ARTICLE_COLUMNS}, text, summary FROM articles WHERE id = ?", (int(article_id),))
    if not rows:
        raise NotFound(f"no article {article_id}")
    r = rows[0]
    out = _article_summary(r)
    out["text"] = r["text"]
    rules = rules if rules is not None else _rules(config)
    # the masked URL: the explanation names its input
    analysed = Analysed(out["url"], r["title"], r["text"], r["language"], from_iso(r["published"]),
                        classify(r["title"], r["text"], r["language"], rules))
    explanation = to_json(analysed)
    explanation.pop("text", None)   # the same as the article's
    out["explanation"] = explanation
    buf = io.StringIO()
    render_text(analysed, rules, buf, bold=False)
    out["explanation_text"] = buf.getvalue()
    return out


# -- alerts --------------------------------------------------------------------------------------------

def _alert_json(r: Any) -> dict[str, Any]:
    return {"id": r.id, "channel": r.channel, "state": r.state, "status": r.status, "due": _iso(r.due),
            "mode": r.mode, "group_key": r.group_key, "alerts": r.alerts, "attempts": r.attempts,
            "created": _iso(r.created), "last_attempt": _iso(r.last_attempt), "last_error": _masked(r.last_error),
            "title": _masked(r.title)}


def alerts(config: Any, store: Any, state: str | None = None, limit: int = 50,
           now: datetime | None = None) -> list[dict[str, Any]]:
    """The outbox, newest first, as `newsmon alerts list` shows it: each message's `state` (held, ready,
    sending, retrying, sent, dead), when (`due`), its channel, alerts, attempts and last error.
    `state`: only pending, sent or dead messages."""
    from alerts.outbox import list_rows

    if state is not None and state not in ALERT_STATES:
        raise ValueError(f'state: "{state}" is not one of {", ".join(ALERT_STATES)}')
    return [_alert_json(r) for r in list_rows(store, state, max(int(limit), 1), now or utcnow())]


def retry(config: Any, store: Any, ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Put dead letters back in the queue: those of `ids`, or every one (`ids` None). Returns how many."""
    from alerts.outbox import retry as requeue

    return requeue(store, now or utcnow(), None if ids is None else [int(i) for i in ids])


def alert_exists(store: Any, alert_id: int) -> str | None:
    """The stored status of outbox message `alert_id` (pending, sent, dead), None when there is none."""
    rows = store.query("SELECT status FROM alert_outbox WHERE id = ?", (int(alert_id),))
    return rows[0][0] if rows else None


# -- silences ------------------------------------------------------------------------------------------

def _silence_json(s: Any, now: datetime) -> dict[str, Any]:
    return {"id": s.id, "match": s.match, "matchers": s.matchers, "active": s.active(now),
            "starts_at": _iso(s.starts_at), "ends_at": _iso(s.ends_at), "reason": s.reason,
            "created_by": s.created_by, "created_at": _iso(s.created_at)}


def silences(config: Any, store: Any, include_expired: bool = False, now: datetime | None = None) -> list[dict[str, Any]]:
    """Active silences (`include_expired`: every one), oldest first."""
    from alerts.silences import list_silences

    now = now or utcnow()
    return [_silence_json(s, now) for s in list_silences(store, now, include_expired=include_expired)]


def parse_silence(matchers: list[str] | dict[str, Any], duration: str | float) -> tuple[dict[str, Any], float]:
    """(match dict, seconds) from matchers (`["entity=MoMo", "category=~fraud|outage"]`, or a dict
    `{"entity": "MoMo", "category": ["fraud", "outage"]}`) and a positive duration ("2h", or
    seconds). Raises ValueError saying what is wrong."""
    from alerts.routing import parse_matchers

    if isinstance(matchers, dict):
        items = []
        for key, value in matchers.items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) for v in values):
                raise ValueError(f'matchers: "{key}": give a string or a list of strings')
            items += [f"{key}={v}" for v in values]
    elif isinstance(matchers, list) and all(isinstance(m, str) for m in matchers):
        items = list(matchers)
    else:
        raise ValueError('matchers: give a list of "KEY=VALUE" strings or an object')
    match = parse_matchers(items)
    if isinstance(duration, bool) or not isinstance(duration, str | int | float):
        raise ValueError('for: give a duration such as "2h"')
    seconds = parse_duration(duration) if isinstance(duration, str) else float(duration)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f'--for must be positive: "{duration}"')
    if seconds > 100 * 365 * 86400:
        raise ValueError(f'--for is too long: "{duration}" (at most 100 years)')
    return match, seconds


def add_silence(config: Any, store: Any, matchers: list[str] | dict[str, Any], duration: str | float,
                reason: str = "", author: str = "", now: datetime | None = None) -> dict[str, Any]:
    """Silence matching alerts from now for `duration`; returns the new silence (its `duration` text,
    e.g. "2h", included). ValueError: bad matchers or duration."""
    from alerts.silences import add_silence as add
    from alerts.silences import list_silences

    now = now or utcnow()
    match, seconds = parse_silence(matchers, duration)
    sid = add(store, match, timedelta(seconds=seconds), now, reason, author)
    made = next(s for s in list_silences(store, now, include_expired=True) if s.id == sid)
    return {**_silence_json(made, now), "duration": format_duration(seconds)}


def expire_silence(config: Any, store: Any, silence_id: int, now: datetime | None = None) -> dict[str, Any]:
    """End an active silence now; returns it. NotFound when there is no such active silence."""
    from alerts.silences import expire_silence as expire
    from alerts.silences import list_silences

    now = now or utcnow()
    if not expire(store, int(silence_id), now):
        raise NotFound(f"no active silence {silence_id}")
    s = next(s for s in list_silences(store, now, include_expired=True) if s.id == int(silence_id))
    return _silence_json(s, now)


# -- for the commands: times as text -------------------------------------------------------------------

def ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{seconds // size}{unit}"
            break
    else:
        text = f"{seconds}s"
    return f"in {text}" if future else f"{text} ago"


def next_poll_text(next_poll: str | None, now: datetime, running: bool = True) -> str:
    """"-" (never scheduled, or no daemon runs to poll), "due", or "in 4m"."""
    if not next_poll or not running:
        return "-"
    when = datetime.fromisoformat(next_poll)
    return "due" if when <= now else ago(when, now)


def daemon_text(d: dict[str, Any], now: datetime) -> str:
    """`daemon: running, pid 1234, since 2026-12-03 17:40 UTC (2h ago), http://127.0.0.1:9464/`, or
    `daemon: not running (last stopped 2026-12-03 17:40 UTC, 5m ago)`, or `daemon: not running`."""
    if d["running"]:
        started = datetime.fromisoformat(d["started"])
        text = f"daemon: running, pid {d['pid']}, since {started.strftime('%Y-%m-%d %H:%M')} UTC ({ago(started, now)})"
        return text + (f", {d['health_url']}" if d.get("health_url") else "")
    if d.get("last_stopped"):
        stopped = datetime.fromisoformat(d["last_stopped"])
        return f"daemon: not running (last stopped {stopped.strftime('%Y-%m-%d %H:%M')} UTC, {ago(stopped, now)})"
    return "daemon: not running"
