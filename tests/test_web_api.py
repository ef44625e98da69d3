"""The JSON API on the daemon's HTTP port (monitor/web), through the real HealthServer on 127.0.0.1:0 over a
real SQLite store with sources, articles, stories, outbox messages and silences: every endpoint with real
HTTP requests, the token, the loopback-only and cross-origin rules, a silence created and expired through
the API as `newsmon silence list` sees it, a dead letter requeued as `newsmon alerts list` sees it, and the
served OpenAPI description checked by schemathesis (`st run`, every default check) against the server."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from alerts.config import RouteConfig
from alerts.message import Alert
from alerts.outbox import add_item, add_to_group, record_dead, record_retry, record_sent, ts
from monitor.config import load_config
from monitor.health import HealthServer
from monitor.metrics import Metrics
from monitor.models import Article, Classification, Match
from monitor.store import SourceState, open_store
from monitor.story_ops import recompute
from tests.conftest import run_newsmon

TOKEN = "s3cret-web-token-42"

CONFIG = """\
store:
  path: news.db
stories:
  window: 48h
sources:
  - {id: reuters, type: feed, url: "https://reuters.example/rss"}
  - {id: ghanaweb, type: feed, url: "https://ghanaweb.example/rss"}
  - {id: punch, type: page, url: "https://punch.example/news"}
  - {id: quiet, type: sitemap, url: "https://quiet.example/sitemap.xml", enabled: false}
"""

# (source, language, fetched this long ago, title, categories, entities, story, copy of article n)
ARTICLES = [
    ("reuters", "en", timedelta(hours=3), "MoMo accounts targeted in fraud scheme", ["fraud"], ["MoMo"], 1, None),
    ("ghanaweb", "fr", timedelta(hours=2), "MoMo : fraude massive et panne du service", ["fraud", "outage"], ["MoMo"], 1, None),
    ("reuters", "en", timedelta(hours=1), "MoMo accounts targeted in fraud scheme", ["fraud"], ["MoMo"], 1, 1),
    ("ghanaweb", "en", timedelta(minutes=30), "MoMo app down for hours", ["outage"], ["MoMo"], 2, None),
    ("punch", "en", timedelta(days=4), "Bank outage in Lagos", ["outage"], [], 3, None),
    ("reuters", "en", timedelta(minutes=10), "Central bank holds rates", [], [], None, None),
]
TEXT = "Police said a large fraud scheme targeted MoMo mobile money accounts this week; the service was down."


@dataclass
class Site:
    dir: Path
    config: Path
    now: datetime
    outbox: dict[str, int]   # name -> outbox row id: sent, dead, held, retrying


def _alert(n: int, title: str) -> Alert:
    return Alert(category="fraud", source="reuters", title=title, url=f"https://reuters.example/news/{n}",
                 entity="MoMo", entities=["MoMo"], language="en", article_id=n)


def build_store(directory: Path, config_text: str = CONFIG) -> Site:
    """A store as a daemon leaves it: source states, articles (some flagged, grouped into stories, one a
    near-copy), and outbox messages in every state on two channels."""
    cfg = directory / "config.yaml"
    cfg.write_text(config_text, encoding="utf-8")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    store = open_store(directory / "news.db")
    try:
        with store.transaction() as conn:
            for sid in (1, 2, 3):
                conn.execute("INSERT INTO stories(id, title, first_seen, last_seen) VALUES (?, '', '', '')", (sid,))
            for n, (source, lang, age, title, cats, ents, story, copy_of) in enumerate(ARTICLES, 1):
                when = now - age
                article = Article(url=f"https://{source}.example/news/{n}", source_id=source, title=title,
                                  text=f"{title}. {TEXT}", language=lang, published=when - timedelta(minutes=5),
                                  fetched=when)
                result = Classification(categories=cats, scores={c: 3.0 for c in cats},
                                        matches=[Match(c, "fraud", "fraud", "text", 0, 2.0, lang, actor="MoMo")
                                                 for c in cats], entities=ents, language=lang)
                assert store.add_article(conn, article, result, story) == n
                conn.execute("UPDATE articles SET copy_of = ? WHERE id = ?", (copy_of, n))
            for sid in (1, 2, 3):
                assert recompute(conn, sid)
        store.save_source_state(SourceState("reuters", last_poll=now - timedelta(minutes=5),
                                            last_success=now - timedelta(minutes=5),
                                            next_poll=now + timedelta(minutes=5), polls=12))
        store.save_source_state(SourceState("ghanaweb", last_poll=now - timedelta(minutes=2),
                                            last_success=now - timedelta(hours=1), next_poll=now + timedelta(minutes=8),
                                            consecutive_errors=3, last_error="HTTP 500 Internal Server Error",
                                            last_error_at=now - timedelta(minutes=2), polls=30))
        route = RouteConfig.model_validate({"channels": ["ops"]})
        ids = {}
        with store.transaction() as conn:
            for name, channel, key in (("sent", "ops", "story=1"), ("dead", "ops", "story=2"),
                                       ("held", "ops", "story=3"), ("retrying", "mail", "story=1")):
                item = add_item(conn, _alert(len(ids) + 1, f"MoMo {name} alert"), now - timedelta(minutes=30))
                ids[name] = add_to_group(conn, 0, route, channel, key, item, now - timedelta(minutes=30))
            conn.execute("UPDATE alert_outbox SET open = 0, attempts = 1 WHERE id != ?", (ids["held"],))
            conn.execute("UPDATE alert_outbox SET due_at = ? WHERE id = ?", (ts(now + timedelta(hours=1)), ids["held"]))
        record_sent(store, ids["sent"], now - timedelta(minutes=20))
        record_dead(store, ids["dead"], "slack ops: HTTP 404 Not Found: no_service", now - timedelta(minutes=15))
        record_retry(store, ids["retrying"], "mail: connection refused", now + timedelta(minutes=10))
    finally:
        store.close()
    return Site(directory, cfg, now, ids)


class Server:
    def __init__(self, site: Site, env: dict[str, str] | None = None) -> None:
        self.site = site
        config = load_config(site.config, env=env)
        self.hs = HealthServer("127.0.0.1:0", Metrics(), lambda: (True, {"status": "ok"}),
                               config_provider=lambda: config)
        self.hs.start()
        self.base = f"http://{self.hs.address}"

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                token: str | None = None, raw: bytes | None = None) -> tuple[int, dict[str, str], Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = dict(headers or {})
        if body is not None and raw is None:
            h.setdefault("Content-Type", "application/json")
        if token:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                status, hdrs, payload = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            status, hdrs, payload = exc.code, dict(exc.headers), exc.read()
        ctype = hdrs.get("Content-Type", "")
        return status, hdrs, json.loads(payload) if ctype.startswith("application/json") and payload else payload

    def get(self, path: str, **kw: Any) -> Any:
        status, _, payload = self.request("GET", path, **kw)
        assert status == 200, (path, status, payload)
        return payload

    def stop(self) -> None:
        self.hs.stop()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return build_store(tmp_path)


@pytest.fixture
def server(site: Site) -> Iterator[Server]:
    s = Server(site)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def token_server(site: Site) -> Iterator[Server]:
    site.config.write_text(CONFIG + "server:\n  token: ${NEWSMON_WEB_TOKEN}\n", encoding="utf-8")
    s = Server(site, env={"NEWSMON_WEB_TOKEN": TOKEN})
    try:
        yield s
    finally:
        s.stop()


def newsmon(site: Site, *args: str) -> str:
    proc = run_newsmon(*args, "-c", str(site.config), cwd=site.dir)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- reading ------------------------------------------------------------------------------------------

def test_sources(server: Server) -> None:
    sources = {s["id"]: s for s in server.get("/api/v1/sources")["sources"]}
    assert list(sources) == ["reuters", "ghanaweb", "punch", "quiet"]
    r, g, p, q = (sources[k] for k in ("reuters", "ghanaweb", "punch", "quiet"))
    assert (r["state"], r["consecutive_errors"], r["last_error"], r["type"]) == ("ok", 0, None, "feed")
    assert (g["state"], g["consecutive_errors"], g["last_error"]) == ("failing", 3, "HTTP 500 Internal Server Error")
    assert (p["state"], p["last_poll"]) == ("never polled", None)
    assert (q["state"], q["enabled"]) == ("disabled", False)
    assert (r["new_24h"], r["articles"], g["new_24h"], p["new_24h"], p["articles"]) == (3, 3, 2, 0, 1)
    for s in sources.values():       # the sparkline: 24 hourly counts summing to the last 24h
        assert len(s["hourly"]) == 24 and sum(s["hourly"]) == s["new_24h"]
    assert r["hourly"][-1] + r["hourly"][-2] >= 1   # the article fetched 10 minutes ago: this hour or the one before
    assert datetime.fromisoformat(r["next_poll"]) > datetime.fromisoformat(r["last_poll"])


def test_outbox_and_daemon(server: Server) -> None:
    out = server.get("/api/v1/outbox")
    assert out["channels"] == {
        "mail": {"sent": 0, "pending": 1, "dead": 0, "held": 0, "ready": 0, "sending": 0, "retrying": 1},
        "ops": {"sent": 1, "pending": 1, "dead": 1, "held": 1, "ready": 0, "sending": 0, "retrying": 0},
    }
    assert out["oldest_pending"] is not None
    daemon = server.get("/api/v1/daemon")
    assert daemon["running"] is False and daemon["pid"] is None   # no `newsmon run` on this store


def test_stories_and_story(server: Server) -> None:
    stories = server.get("/api/v1/stories")["stories"]
    assert [s["id"] for s in stories] == [2, 1, 3]
    assert [s["id"] for s in server.get("/api/v1/stories?open=true")["stories"]] == [2, 1]
    assert [s["id"] for s in server.get("/api/v1/stories?since=1h")["stories"]] == [2]
    assert [s["id"] for s in server.get("/api/v1/stories?limit=1")["stories"]] == [2]
    one = {s["id"]: s for s in stories}[1]
    assert (one["state"], one["articles"], one["categories"], one["sources"]) == (
        "open", 3, ["fraud", "outage"], ["reuters", "ghanaweb"])
    d = server.get("/api/v1/stories/1")
    assert d["story"] == one
    assert [(a["id"], a["source"], a["copy_of"]) for a in d["articles"]] == [(1, "reuters", None), (2, "ghanaweb", None),
                                                                            (3, "reuters", 1)]
    # the same as `newsmon stories show 1 --format json` says
    cli = json.loads(newsmon(server.site, "stories", "show", "1", "--format", "json"))
    assert cli["story"] == one and [a["id"] for a in cli["articles"]] == [1, 2, 3]
    status, _, err = server.request("GET", "/api/v1/stories/99")
    assert (status, err) == (404, {"error": "no story 99"})


def test_articles_and_explanation(server: Server) -> None:
    listed = server.get("/api/v1/articles")["articles"]
    assert [a["id"] for a in listed] == [6, 4, 3, 2, 1, 5]
    assert [a["id"] for a in server.get("/api/v1/articles?flagged=true")["articles"]] == [4, 3, 2, 1, 5]
    assert [a["id"] for a in server.get("/api/v1/articles?category=outage")["articles"]] == [4, 2, 5]
    assert [a["id"] for a in server.get("/api/v1/articles?source=reuters&limit=2")["articles"]] == [6, 3]
    assert [a["id"] for a in server.get("/api/v1/articles?story=1")["articles"]] == [3, 2, 1]
    assert [a["id"] for a in server.get("/api/v1/articles?since=45m")["articles"]] == [6, 4]
    a = server.get("/api/v1/articles/1")
    assert (a["source"], a["story_id"], a["categories"]) == ("reuters", 1, ["fraud"])
    assert a["text"].startswith("MoMo accounts targeted in fraud scheme.")
    ex = a["explanation"]   # what `newsmon check` says of this text with the rules in force
    assert ex["categories"] == ["fraud"] and ex["scores"]["fraud"] > 0
    assert any(m["category"] == "fraud" and "fraud" in m["text"].lower() for m in ex["matches"])
    assert "fraud: score" in a["explanation_text"] and "FLAGGED" in a["explanation_text"]
    assert server.request("GET", "/api/v1/articles/999")[0] == 404


def test_alerts_list_and_filters(server: Server) -> None:
    alerts = server.get("/api/v1/alerts")["alerts"]
    ids = server.site.outbox
    assert {a["id"]: a["state"] for a in alerts} == {ids["sent"]: "sent", ids["dead"]: "dead", ids["held"]: "held",
                                                      ids["retrying"]: "retrying"}
    dead = server.get("/api/v1/alerts?state=dead")["alerts"]
    assert [(a["id"], a["channel"], a["last_error"]) for a in dead] == [
        (ids["dead"], "ops", "slack ops: HTTP 404 Not Found: no_service")]
    assert [a["id"] for a in server.get("/api/v1/alerts?state=pending")["alerts"]] == sorted(
        [ids["held"], ids["retrying"]], reverse=True)
    # the same rows as `newsmon alerts list --format json`
    assert json.loads(newsmon(server.site, "alerts", "list", "--format", "json")) == alerts


def test_bad_requests_are_json_errors(server: Server) -> None:
    for path in ("/api/v1/alerts?state=bogus", "/api/v1/stories?limit=0", "/api/v1/stories?limit=x",
                 "/api/v1/stories?since=soon", "/api/v1/stories?open=yes", "/api/v1/stories/abc",
                 "/api/v1/stories/0", "/api/v1/articles?limit=1&limit=2", "/api/v1/articles/99999999999999999999"):
        status, hdrs, payload = server.request("GET", path)
        assert status == 400 and hdrs["Content-Type"] == "application/json" and set(payload) == {"error"}, path
    status, _, payload = server.request("GET", "/api/v1/nothing")
    assert status == 404 and "error" in payload
    status, hdrs, payload = server.request("DELETE", "/api/v1/sources")
    assert (status, hdrs["Allow"]) == (405, "GET, HEAD") and "error" in payload
    status, hdrs, _ = server.request("GET", "/api/v1/silences/1/expire")
    assert (status, hdrs["Allow"]) == (405, "POST")
    status, _, payload = server.request("POST", "/api/v1/silences", raw=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and payload["error"].startswith("the body is not JSON")
    status, _, _ = server.request("POST", "/api/v1/silences", raw=b"{}", headers={"Content-Type": "text/plain"})
    assert status == 415


def test_healthz_and_metrics_unchanged(server: Server) -> None:
    status, hdrs, payload = server.request("GET", "/healthz")
    assert (status, hdrs["Content-Type"], payload) == (200, "application/json", {"status": "ok"})
    status, hdrs, payload = server.request("GET", "/metrics")
    assert status == 200 and hdrs["Content-Type"].startswith("text/plain") and b"# HELP" in payload


def test_reading_writes_nothing(server: Server) -> None:
    db = server.site.dir / "news.db"
    before = (db.stat().st_mtime_ns, db.stat().st_size)
    for path in ("/", "/stories/1", "/articles/1", "/api/v1/sources", "/api/v1/outbox", "/api/v1/stories",
                 "/api/v1/articles", "/api/v1/articles/2", "/api/v1/alerts", "/api/v1/silences"):
        server.get(path)
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before
    assert not (server.site.dir / "news.db-wal").exists()


# -- changing -----------------------------------------------------------------------------------------

def test_silence_round_trip_as_the_cli_sees_it(server: Server) -> None:
    status, _, made = server.request("POST", "/api/v1/silences", {
        "matchers": {"entity": "MoMo"}, "regex": {"category": "fraud|outage"}, "for": "2h",
        "reason": "known incident", "author": "ops-oncall"})
    assert status == 201, made
    assert (made["matchers"], made["active"], made["reason"], made["created_by"], made["duration"]) == (
        "entity=MoMo category=~fraud|outage", True, "known incident", "ops-oncall", "2h")
    ends = datetime.fromisoformat(made["ends_at"]) - datetime.fromisoformat(made["starts_at"])
    assert ends == timedelta(hours=2)
    listed = newsmon(server.site, "silence", "list")
    assert f"{made['id']:>4}  active " in listed and "entity=MoMo category=~fraud|outage  — known incident  (ops-oncall)" in listed
    assert [s["id"] for s in server.get("/api/v1/silences")["silences"]] == [made["id"]]

    status, _, expired = server.request("POST", f"/api/v1/silences/{made['id']}/expire")
    assert status == 200 and expired["active"] is False
    assert newsmon(server.site, "silence", "list") == "no active silences\n"
    assert server.get("/api/v1/silences")["silences"] == []
    assert [s["active"] for s in server.get("/api/v1/silences?all=true")["silences"]] == [False]
    status, _, err = server.request("POST", f"/api/v1/silences/{made['id']}/expire")
    assert (status, err) == (404, {"error": f"no active silence {made['id']}"})

    # one made with the CLI shows in the API
    newsmon(server.site, "silence", "add", "--match", "source=punch", "--for", "30m", "--reason", "noisy")
    assert [s["matchers"] for s in server.get("/api/v1/silences")["silences"]] == ["source=punch"]


@pytest.mark.parametrize("body, error", [
    ({"for": "2h"}, "give matchers (exact values) or regex (regular expressions)"),
    ({"matchers": {"team": "ops"}, "for": "2h"}, 'matchers: unknown key "team" (use one of: category, entity, language, source, tag)'),
    ({"matchers": {"entity": "MoMo"}, "for": "soon"}, 'for: give a duration of 1 to 999 minutes, hours or days, e.g. "30m", "2h", "7d"'),
    ({"matchers": {"entity": "MoMo"}}, 'for: give a duration of 1 to 999 minutes, hours or days, e.g. "30m", "2h", "7d"'),
    ({"regex": {"entity": "("}, "for": "1h"}, "regex.entity: invalid regular expression: missing ), unterminated subpattern at position 0"),
    ({"matchers": {"entity": "~x"}, "for": "1h"}, "matchers.entity: a value starting with ~ is a regular expression: put it in `regex`"),
    ({"matchers": {"entity": []}, "for": "1h"}, "matchers.entity: give at least one value"),
    ({"matchers": {"entity": "MoMo"}, "for": "1h", "until": "x"}, "unknown field: until"),
    (["entity=MoMo"], "give a JSON object"),
])
def test_silence_add_refuses_bad_input(server: Server, body: Any, error: str) -> None:
    status, _, payload = server.request("POST", "/api/v1/silences", body)
    assert (status, payload) == (400, {"error": error})
    assert server.get("/api/v1/silences?all=true")["silences"] == []


def test_retry_dead_letter_as_the_cli_sees_it(server: Server) -> None:
    ids = server.site.outbox
    assert server.request("POST", f"/api/v1/alerts/{ids['sent']}/retry")[:3:2] == (
        409, {"error": f"alert message {ids['sent']} is sent, not dead"})
    assert server.request("POST", "/api/v1/alerts/999/retry")[0] == 404
    status, _, payload = server.request("POST", f"/api/v1/alerts/{ids['dead']}/retry")
    assert (status, payload) == (200, {"requeued": 1})
    listed = newsmon(server.site, "alerts", "list")
    row = next(line for line in listed.splitlines() if line.split()[0] == str(ids["dead"]))
    assert "ready to send" in row
    assert newsmon(server.site, "alerts", "list", "--dead") == "no alert messages (dead)\n"
    assert server.get("/api/v1/alerts?state=dead")["alerts"] == []
    assert server.request("POST", "/api/v1/alerts/retry-dead")[2] == {"requeued": 0}


def test_retry_all_dead(server: Server) -> None:
    status, _, payload = server.request("POST", "/api/v1/alerts/retry-dead")
    assert (status, payload) == (200, {"requeued": 1})
    assert server.get("/api/v1/outbox")["channels"]["ops"]["dead"] == 0


def test_cross_origin_and_host_checks(server: Server) -> None:
    status, _, payload = server.request("POST", "/api/v1/alerts/retry-dead", headers={"Origin": "https://evil.example"})
    assert status == 403 and "cross-origin" in payload["error"]
    assert server.get("/api/v1/outbox")["channels"]["ops"]["dead"] == 1
    host = server.hs.address
    assert server.request("POST", "/api/v1/alerts/retry-dead", headers={"Origin": f"http://{host}"})[0] == 200
    # no token: a name other than an IP address or localhost (DNS rebinding) is refused
    status, _, payload = server.request("GET", "/api/v1/sources", headers={"Host": "evil.example"})
    assert status == 403
    assert server.request("GET", "/api/v1/sources", headers={"Host": "localhost"})[0] == 200


def test_changes_only_from_loopback_without_a_token(site: Site) -> None:
    from monitor.web import Request, WebApp

    app = WebApp(lambda: load_config(site.config))
    remote = app.handle(Request("POST", "/api/v1/alerts/retry-dead", client="192.0.2.7", headers={"host": "192.0.2.1"}))
    assert remote.status == 403 and b"only from this machine" in remote.body
    assert app.handle(Request("GET", "/api/v1/outbox", client="192.0.2.7", headers={"host": "192.0.2.1"})).status == 200
    local = app.handle(Request("POST", "/api/v1/alerts/retry-dead", client="::ffff:127.0.0.1"))
    assert local.status == 200


def test_token_required_when_set(token_server: Server) -> None:
    s = token_server
    for path in ("/", "/stories/1", "/api/v1/sources", "/api/v1/openapi.json", "/metrics"):
        status, hdrs, _ = s.request("GET", path)
        assert status == 401 and hdrs["WWW-Authenticate"].startswith("Bearer"), path
        assert s.request("GET", path, token="wrong-token")[0] == 401
        assert s.request("GET", path, token=TOKEN)[0] == 200, path
    status, _, payload = s.request("GET", "/api/v1/sources")
    assert payload == {"error": "a valid token is needed: Authorization: Bearer <server.token>"}
    assert s.request("GET", "/healthz")[0] == 200          # always open
    assert s.request("POST", "/api/v1/alerts/retry-dead")[0] == 401
    assert s.request("POST", "/api/v1/alerts/retry-dead", token=TOKEN)[2] == {"requeued": 1}
    # the page takes ?token= too (its links carry it); the API does not
    status, _, body = s.request("GET", f"/?token={TOKEN}")
    assert status == 200 and f'href="/stories/1?token={TOKEN}"'.encode() in body
    assert s.request("GET", f"/api/v1/sources?token={TOKEN}")[0] == 401
    # with a token, the Host check is off (a reverse proxy may name it)
    assert s.request("GET", "/api/v1/sources", token=TOKEN, headers={"Host": "newsmon.internal"})[0] == 200


def test_token_is_a_secret(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    from monitor.logs import redact

    site.config.write_text(CONFIG + f"server:\n  token: {TOKEN}\n  listen: 0.0.0.0:0\n", encoding="utf-8")
    config = load_config(site.config)
    assert TOKEN not in repr(config.server) and redact(f"token {TOKEN}") == "token ***"
    hs = HealthServer(config.server.listen, Metrics(), lambda: (True, {}), config_provider=lambda: config)
    try:
        hs.start()
    finally:
        hs.stop()
    assert not [r for r in caplog.records if r.levelname == "WARNING"]   # a token is set: no warning


def test_warning_when_listening_beyond_loopback_without_a_token(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    site.config.write_text(CONFIG + "server:\n  listen: 0.0.0.0:0\n", encoding="utf-8")
    config = load_config(site.config)
    hs = HealthServer(config.server.listen, Metrics(), lambda: (True, {}), config_provider=lambda: config)
    try:
        hs.start()
    finally:
        hs.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "server.token is not set" in warnings[0]


def test_status_says_no_daemon_runs(site: Site) -> None:
    out = newsmon(site, "status")
    lines = out.splitlines()
    assert lines[0] == "daemon: not running"
    assert lines[1].split()[:4] == ["SOURCE", "TYPE", "LAST", "POLL"]
    reuters = next(line for line in lines if line.startswith("reuters"))
    assert reuters.split()[4] == "-"      # NEXT POLL: no daemon polls it
    data = json.loads(newsmon(site, "status", "--format", "json"))
    assert data["daemon"]["running"] is False and [len(s["hourly"]) for s in data["sources"]] == [24] * 4


def test_healthz_and_metrics_skip_the_host_check(server: Server) -> None:
    """A Prometheus scraping `newsmon:9464` by name (compose, Kubernetes) is not a DNS-rebinding page:
    the read-only /healthz and /metrics answer whatever the Host; the page and the API still refuse it."""
    for host in ("newsmon:9464", "newsmon", "metrics.internal.example:9464"):
        status, _, payload = server.request("GET", "/metrics", headers={"Host": host})
        assert status == 200 and b"# HELP" in payload, (host, status, payload)
        assert server.request("GET", "/healthz", headers={"Host": host})[:3:2] == (200, {"status": "ok"})
        assert server.request("HEAD", "/metrics", headers={"Host": host})[0] == 200
        for path in ("/", "/api/v1/sources", "/stories/1"):
            assert server.request("GET", path, headers={"Host": host})[0] == 403, (host, path)


def test_metrics_by_name_still_needs_the_token(token_server: Server) -> None:
    s = token_server
    status, hdrs, _ = s.request("GET", "/metrics", headers={"Host": "newsmon:9464"})
    assert status == 401 and hdrs["WWW-Authenticate"].startswith("Bearer")
    assert s.request("GET", "/metrics", headers={"Host": "newsmon:9464"}, token="wrong-token")[0] == 401
    status, _, payload = s.request("GET", "/metrics", headers={"Host": "newsmon:9464"}, token=TOKEN)
    assert status == 200 and b"# HELP" in payload
    assert s.request("GET", "/healthz", headers={"Host": "newsmon:9464"})[0] == 200


def test_one_set_of_read_queries_one_loopback_rule_one_story_window(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-only store of the page and API inherits the writer's read queries (no copies, no unbound
    calls); health.py and the app share one loopback test; `newsmon stories` uses the views' window."""
    from monitor import health, views
    from monitor.commands import stories
    from monitor.store.sqlite import ReadOnlyStore, SqliteStore, StoreReads
    from monitor.web import app

    assert issubclass(SqliteStore, StoreReads) and issubclass(ReadOnlyStore, StoreReads)
    for name in ("query", "all_source_states", "pending_counts", "source_state", "count_articles", "get_article"):
        assert name not in vars(SqliteStore) and name not in vars(ReadOnlyStore), name
    writer, reader = open_store(site.dir / "news.db"), ReadOnlyStore(site.dir / "news.db")
    try:
        assert reader.all_source_states() == writer.all_source_states() and set(reader.all_source_states()) == {
            "reuters", "ghanaweb"}
        assert reader.pending_counts() == writer.pending_counts() == {}
        assert reader.source_state("ghanaweb") == writer.source_state("ghanaweb")
        assert reader.count_articles() == writer.count_articles() == len(ARTICLES)
        assert reader.get_article(1) == writer.get_article(1)
    finally:
        writer.close()
        reader.close()
    assert not hasattr(health, "_loopback") and not hasattr(app, "_is_loopback")
    for address, loopback in (("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
                              ("localhost", False), ("192.0.2.7", False), ("::ffff:192.0.2.7", False),
                              ("0.0.0.0", False), ("::", False), ("", False)):
        assert app.is_loopback(address) is loopback, address
    assert views.story_window(load_config(site.config)) == 48 * 3600
    asked = []

    def window(config: Any) -> float:
        asked.append(config.store_path)
        return 48 * 3600.0

    import argparse

    monkeypatch.setattr(views, "story_window", window)
    args = argparse.Namespace(action="merge", a=1, b=2, since=None, config=str(site.config), open=False,
                              format="table", limit=100)
    assert stories.run(args) == 0
    assert len(asked) == 1   # merge's window came from views.story_window


# -- the wire: Content-Length, bodies, timeouts -------------------------------------------------------

def _raw(server: Server, data: bytes, timeout: float = 10) -> bytes:
    """Send `data` on a fresh connection; everything the server answers until it closes."""
    import socket

    host, port = server.hs.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _post(length: str, body: bytes = b"") -> bytes:
    return (f"POST /api/v1/silences HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode("latin-1") + body


@pytest.mark.parametrize("length", ["\u00b2", "1\u00b3", "+5", "-1", "1_0", "0x10", "5 5"])
def test_a_bad_content_length_is_a_400(server: Server, length: str, caplog: pytest.LogCaptureFixture) -> None:
    """Only ASCII digits: "²" is a digit to str.isdigit() but not to int(). (Headers arrive as latin-1.)"""
    answer = _raw(server, _post(length, b'{"x": 1}'))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 400 ") or head.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert json.loads(body) == {"error": "bad Content-Length"}
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text   # no "request failed" traceback
    assert server.get("/api/v1/silences?all=true")["silences"] == []


def test_an_oversized_body_is_a_413(server: Server) -> None:
    from monitor.health import MAX_BODY

    answer = _raw(server, _post(str(MAX_BODY + 1)))   # refused before the body is sent
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b" 413 " in head.split(b"\r\n")[0] and json.loads(body) == {"error": "the body is too large"}


def test_wsgi_refuses_an_oversized_body_with_413_and_a_bad_length_with_400(site: Site) -> None:
    """As a WSGI app too: an oversized body is refused unread (413), not truncated into a 400."""
    import io

    from monitor.web import WebApp
    from monitor.web.app import MAX_BODY

    app = WebApp(lambda: load_config(site.config))

    def call(length: str, body: bytes) -> tuple[str, Any]:
        got: dict[str, str] = {}
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/silences", "QUERY_STRING": "",
                   "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": length, "REMOTE_ADDR": "127.0.0.1",
                   "HTTP_HOST": "127.0.0.1", "wsgi.input": io.BytesIO(body)}
        out = app(environ, lambda status, headers: got.setdefault("status", status))
        return got["status"], json.loads(b"".join(out))

    big = json.dumps({"matchers": {"entity": "MoMo"}, "for": "1h", "reason": "x" * MAX_BODY}).encode()
    assert call(str(len(big)), big) == ("413 Content Too Large", {"error": "the body is too large"})
    assert call("\u00b2", b"{}") == ("400 Bad Request", {"error": "bad Content-Length"})
    ok = json.dumps({"matchers": {"entity": "MoMo"}, "for": "1h"}).encode()
    assert call(str(len(ok)), ok)[0] == "201 Created"
    # and handed a Request with an oversized body directly
    from monitor.web import Request

    resp = app.handle(Request("POST", "/api/v1/silences", headers={"content-type": "application/json"},
                              body=big, client="127.0.0.1"))
    assert resp.status == 413


def test_a_short_body_times_out(site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A Content-Length larger than the body sent, then silence: the socket timeout frees the thread."""
    import logging
    import time

    caplog.set_level(logging.DEBUG, logger="monitor.health")
    monkeypatch.setattr(HealthServer, "timeout", 0.5, raising=False)
    s = Server(site)
    try:
        started = time.monotonic()
        assert _raw(s, _post("1000", b'{"matchers": '), timeout=8) == b""   # closed, nothing answered
        assert time.monotonic() - started < 5
        assert any("timed out" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
        assert s.get("/api/v1/silences?all=true")["silences"] == []   # nothing was done, and it still serves
    finally:
        s.stop()


# -- secrets ------------------------------------------------------------------------------------------

FILE_KEY = "SECRETKEY123"                 # written in the config file, as a source URL's `apikey`
ENV_SECRET = "nwsm-W3b-9c1d7e5f42"        # substituted for ${NEWSMON_WEB_FEED_SECRET}
SECRET_CONFIG = CONFIG + f"""\
  - {{id: keyed, type: feed, url: "https://keyed.example/rss?apikey={FILE_KEY}"}}
  - {{id: private, type: feed, url: "https://private.example/feeds/${{NEWSMON_WEB_FEED_SECRET}}/rss"}}
"""
SECRET_ENV = {"NEWSMON_WEB_FEED_SECRET": ENV_SECRET}


@pytest.fixture
def fresh_secrets() -> Iterator[None]:
    """The process-wide secret registry (monitor.logs) empty for this test, restored after: the secrets
    are masked because loading this config registered them, not because another test did."""
    from monitor import logs

    saved = set(logs._secrets)
    logs._secrets.clear()
    logs._pattern = None
    yield
    logs._secrets.clear()
    logs._secrets.update(saved)
    logs._pattern = None


@pytest.mark.usefixtures("fresh_secrets")
def test_config_secrets_never_appear_in_the_api_the_pages_or_the_commands(tmp_path: Path) -> None:
    """A source URL's key (in the file) and a ${VAR} value (in another source's URL) reach the store in
    source errors, an alert message's title and reason and an article's URL: every view masks them."""
    from monitor.logs import redact

    site = build_store(tmp_path, SECRET_CONFIG)
    keyed_url = f"https://keyed.example/rss?apikey={FILE_KEY}"
    private_url = f"https://private.example/feeds/{ENV_SECRET}/rss"
    store = open_store(site.dir / "news.db")
    try:
        store.save_source_state(SourceState("keyed", last_poll=site.now, consecutive_errors=2,
                                            last_error=f"HTTP 403 Forbidden: {keyed_url}", polls=2))
        store.save_source_state(SourceState("private", last_poll=site.now, consecutive_errors=1,
                                            last_error=f"cannot connect: {private_url}", polls=1))
        route = RouteConfig.model_validate({"channels": ["ops"]})
        with store.transaction() as conn:
            article = Article(url=f"https://keyed.example/news/7?apikey={FILE_KEY}", source_id="keyed",
                              title="MoMo fraud wave", text=f"MoMo fraud wave. {TEXT}", language="en",
                              published=site.now - timedelta(minutes=6), fetched=site.now - timedelta(minutes=5))
            result = Classification(categories=["fraud"], scores={"fraud": 3.0}, entities=["MoMo"], language="en",
                                    matches=[Match("fraud", "fraud", "fraud", "text", 0, 2.0, "en", actor="MoMo")])
            article_id = store.add_article(conn, article, result, 1)
            assert recompute(conn, 1)
            item = add_item(conn, _alert(9, f"source keyed failing: {keyed_url}"), site.now)
            dead = add_to_group(conn, 0, route, "ops", "source=keyed", item, site.now)
            conn.execute("UPDATE alert_outbox SET open = 0, attempts = 3 WHERE id = ?", (dead,))
        record_dead(store, dead, f"webhook ops: HTTP 401 for {private_url}", site.now)
    finally:
        store.close()

    s = Server(site, env=SECRET_ENV)   # loads the config: registers both secrets, as the daemon does
    try:
        seen: dict[str, bytes] = {}
        for path in ("/", "/stories/1", f"/articles/{article_id}", "/api/v1/daemon", "/api/v1/sources",
                     "/api/v1/outbox", "/api/v1/stories", "/api/v1/stories/1", "/api/v1/articles",
                     f"/api/v1/articles/{article_id}", "/api/v1/articles?source=keyed", "/api/v1/alerts",
                     "/api/v1/alerts?state=dead", "/api/v1/silences?all=true", "/api/v1/nothing"):
            status, _, payload = s.request("GET", path)
            body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
            assert status in (200, 404), (path, status)
            seen[path] = body
        sources = {x["id"]: x for x in s.get("/api/v1/sources")["sources"]}
        alerts = {a["id"]: a for a in s.get("/api/v1/alerts?state=dead")["alerts"]}
    finally:
        s.stop()
    # the values are there, masked: the views did return them
    assert sources["keyed"]["url"] == "https://keyed.example/rss?apikey=***"
    assert sources["keyed"]["last_error"] == "HTTP 403 Forbidden: https://keyed.example/rss?apikey=***"
    assert sources["private"]["url"] == "https://private.example/feeds/***/rss"
    assert alerts[dead]["title"] == "source keyed failing: https://keyed.example/rss?apikey=***"
    assert alerts[dead]["last_error"] == "webhook ops: HTTP 401 for https://private.example/feeds/***/rss"
    assert b"apikey=***" in seen["/"] and b"feeds/***/rss" in seen["/"]
    assert b"news/7?apikey=***" in seen[f"/articles/{article_id}"]
    assert redact(keyed_url) != keyed_url and redact(private_url) != private_url

    outputs = dict(seen)
    for args in (("status",), ("status", "--format", "json"), ("alerts", "list"),
                 ("alerts", "list", "--format", "json"), ("stories", "show", "1"),
                 ("stories", "show", "1", "--format", "json")):
        proc = run_newsmon(*args, "-c", str(site.config), cwd=site.dir, env=SECRET_ENV)
        assert proc.returncode == 0, proc.stderr
        outputs["newsmon " + " ".join(args)] = (proc.stdout + proc.stderr).encode()
    assert b"apikey=***" in outputs["newsmon stories show 1"]
    for where, text in outputs.items():
        for secret in (FILE_KEY, ENV_SECRET):
            assert secret.encode() not in text, f"{secret} in {where}"


# -- the OpenAPI contract -----------------------------------------------------------------------------

def test_openapi_contract(token_server: Server, tmp_path: Path) -> None:
    """schemathesis against the served description, with every default check: each operation's
    responses (status codes, content types, schemas), invalid input rejected, valid input accepted,
    unsupported methods answered 405 with Allow, and the token enforced."""
    spec = token_server.get("/api/v1/openapi.json", token=TOKEN)
    assert spec["openapi"].startswith("3.1") and "/api/v1/silences" in spec["paths"]
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is not installed: pip install -r requirements-test.lock"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    # Links between operations: only those the description declares or Location headers give. The inferred
    # ones would feed GET /stories/{id} an unflagged article's `story_id`, null, sent as "None" (a 400).
    (tmp_path / "schemathesis.toml").write_text('[phases.stateful.inference]\nalgorithms = ["location-headers"]\n')
    proc = subprocess.run(
        [st, "--no-color", "--config-file", str(tmp_path / "schemathesis.toml"), "run", f"{token_server.base}/api/v1/openapi.json", "--url", token_server.base,
         "-H", f"Authorization: Bearer {TOKEN}", "--max-examples", "40", "--seed", "7",
         "--generation-database", "none", "--request-timeout", "20"],
        capture_output=True, text=True, timeout=280, cwd=tmp_path, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "No issues found" in out or "passed" in out, out[-3000:]
    # it did change things, through the API only: the store is still sound
    with sqlite3.connect(token_server.site.dir / "news.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
