"""`newsmon run` as a real subprocess against a local news site and a local webhook receiver: new stories
alert, SIGHUP with a changed keyword file changes what alerts, SIGTERM exits cleanly, kill -9 and restart
gives no duplicate and no missing alert, a failing source raises one health alert and one on recovery.
Every wait is on a condition with a deadline."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from tests.conftest import wait_until
from tests.httpserver import LocalSite
from tests.receiver import Receiver, Reply
from tests.sitedata import STORIES, Story, article_html, rss

OUTAGE, FRAUD, PARK, RUMOR = STORIES
RECALL = Story("powerbank-recall", "en", "Acme recalls 40,000 power banks over overheating risk", [
    "Acme Electronics announced a voluntary recall of 40,000 power banks sold since March after reports "
    "that some units overheat while charging.",
    "Customers should stop using the affected model and return it to any store for a full refund.",
])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DaemonProcess:
    """`newsmon run -c CONFIG` in a subprocess, with its output collected line by line."""

    def __init__(self, config: Path) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(config)],
            cwd=config.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 20, after: int = 0) -> str:
        found = wait_until(lambda: next((ln for ln in self.lines[after:] if text in ln), None), timeout,
                           f"{text!r} in the daemon's output:\n{self.output[-3000:]}")
        return str(found)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code


def write_config(tmp: Path, site: LocalSite, receiver: Receiver, port: int, extra_sources: str = "",
                 classify: str = "", crawl: str = "") -> Path:
    path = tmp / "config.yaml"
    path.write_text(f"""\
store: {{path: daemon.db}}
server: {{listen: "127.0.0.1:{port}"}}
crawl: {{delay: 0s, timeout: 3s, retries: 0, shutdown_grace: 5s{crawl}}}
{classify}
channels:
  hook: {{type: webhook, url: "{receiver.url}/hook"}}
delivery: {{backoff_base: 0.2s, backoff_max: 1s}}
routes:
  - channels: [hook]
    group_by: [story]
    group_wait: 0s
    group_interval: 0s
sources:
  - {{id: news, type: feed, url: "{site.url('/feed.xml')}", interval: 1s}}
{extra_sources}""", encoding="utf-8")
    return path


def stored(tmp: Path, url: str) -> bool:
    with sqlite3.connect(tmp / "daemon.db") as conn:
        return bool(conn.execute("SELECT 1 FROM articles WHERE url = ?", (url,)).fetchall())


def alerted_urls(receiver: Receiver) -> list[str]:
    return [a["url"] for r in receiver.succeeded() for a in r.json()["alerts"] if a["kind"] == "article"]


def publish(site: LocalSite, stories: list[Story]) -> None:
    for s in stories:
        site.add(f"/news/{s.slug}.html", article_html(s))
    site.add("/feed.xml", rss(site.base, stories), content_type="application/rss+xml")


def test_new_stories_alert_health_endpoint_and_sigterm(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [PARK])
        daemon = DaemonProcess(write_config(tmp_path, site, receiver, port))
        try:
            daemon.wait_for_line("newsmon running: 1 sources")
            wait_until(lambda: site.requests_to("/news/park-budget.html"), 20, "the first poll")
            publish(site, [PARK, OUTAGE, FRAUD])
            wait_until(lambda: len(alerted_urls(receiver)) >= 2, 20, "two alerts")
            assert sorted(alerted_urls(receiver)) == sorted(
                [site.url("/news/telco-outage.html"), site.url("/news/sparkasse-betrug.html")])
            health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())
            assert health["status"] == "ok" and health["sources"] == 1 and health["failing_sources"] == []
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            assert 'newsmon_matches_total{category="outage"} 1.0' in metrics
            assert 'newsmon_polls_total{result="ok",source="news"}' in metrics
            wait_until(lambda: 'newsmon_alerts{channel="hook",status="sent"} 2.0' in urllib.request.urlopen(
                f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode(), 10, "sent count in metrics")
            status = subprocess.run([sys.executable, "-m", "monitor", "status", "-c", "config.yaml"],
                                    cwd=tmp_path, capture_output=True, text=True, timeout=60)
            assert status.returncode == 0, status.stderr
            assert str(daemon.proc.pid) in status.stdout, "status knows the daemon runs (monitor/runinfo.py)"
            lines = status.stdout.splitlines()
            lines = lines[next(i for i, ln in enumerate(lines) if ln.startswith("SOURCE")):]
            assert lines[0].split() == ["SOURCE", "TYPE", "LAST", "POLL", "NEXT", "POLL", "NEW", "24H", "ARTICLES",
                                        "QUEUED", "ERRORS", "LAST", "ERROR"]
            assert lines[1].split()[:2] == ["news", "feed"] and lines[1].split()[-4:] == ["3", "3", "0", "0"]
            assert [ln.split() for ln in lines[3:5]] == [["CHANNEL", "SENT", "PENDING", "DEAD"], ["hook", "2", "0", "0"]]
        finally:
            code = daemon.stop(signal.SIGTERM)
        assert code == 0, daemon.output[-3000:]
        summary = daemon.wait_for_line("newsmon stopped after", timeout=1)
        assert "alerts in store: 2 sent, 0 pending, 0 dead" in summary
        assert len(alerted_urls(receiver)) == 2, "nothing sent twice"


def test_sighup_with_changed_keyword_file_changes_what_alerts(tmp_path: Path) -> None:
    port = free_port()
    keywords = tmp_path / "keywords"
    keywords.mkdir()
    rules = keywords / "recall.yaml"
    rules.write_text("language: en\ncategories:\n  recall:\n    strong: [\"product withdrawal notice\"]\n",
                     encoding="utf-8")
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [RECALL])
        cfg = write_config(tmp_path, site, receiver, port, classify="classify: {keywords: [keywords/]}")
        daemon = DaemonProcess(cfg)
        try:
            daemon.wait_for_line("newsmon running")
            wait_until(lambda: stored(tmp_path, site.url(f"/news/{RECALL.slug}.html")), 30,
                       "the recall story stored (classified with the first rules)")
            # An invalid edit is refused with the file and line; the old rules stay in force.
            rules.write_text("language: en\ncategories:\n  recall:\n    strong: [\"recalls\"]\n    bogus: 1\n",
                             encoding="utf-8")
            os.kill(daemon.proc.pid, signal.SIGHUP)
            refused = daemon.wait_for_line("reload refused")
            assert f"{rules}:5 categories.recall.bogus" in refused
            # A valid edit takes effect without a restart.
            mark = len(daemon.lines)
            rules.write_text("language: en\ncategories:\n  recall:\n    strong: [\"voluntary recall\", \"recalls\"]\n",
                             encoding="utf-8")
            os.kill(daemon.proc.pid, signal.SIGHUP)
            daemon.wait_for_line("reloaded:", after=mark)
            second = Story("kettle-recall", "en", "Brewmax recalls kettles after faulty switch reports", [
                "Brewmax announced a voluntary recall of its electric kettles after customers reported that "
                "the switch can fail to turn the heating element off.",
            ])
            publish(site, [RECALL, second])
            wait_until(lambda: alerted_urls(receiver), 20, "the recall alert")
            assert alerted_urls(receiver) == [site.url("/news/kettle-recall.html")]
            categories = [a["category"] for r in receiver.succeeded() for a in r.json()["alerts"]]
            assert categories == ["recall"]
        finally:
            assert daemon.stop() == 0, daemon.output[-3000:]


def test_kill9_and_restart_gives_no_duplicate_and_no_missing_alert(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [OUTAGE])
        cfg = write_config(tmp_path, site, receiver, port)
        daemon = DaemonProcess(cfg)
        try:
            wait_until(lambda: len(alerted_urls(receiver)) == 1, 25, "the first alert delivered")
            receiver.default = Reply(503, "down for maintenance")       # the receiver goes down
            publish(site, [OUTAGE, FRAUD, RUMOR])
            wait_until(lambda: len([r for r in receiver.requests if r.answer != "" and
                                    getattr(r.answer, "status", 200) == 503]) >= 2, 25,
                       "delivery attempts against the failing receiver")
        finally:
            daemon.stop(signal.SIGKILL)
        receiver.default = Reply(200, "ok")                              # and comes back
        restarted = DaemonProcess(cfg)
        try:
            wait_until(lambda: len(alerted_urls(receiver)) >= 3, 25, "the pending alerts after restart")
            # Let a few polls pass: nothing new may be sent.
            polls = len(site.requests_to("/feed.xml"))
            wait_until(lambda: len(site.requests_to("/feed.xml")) >= polls + 2, 20, "two more polls")
        finally:
            assert restarted.stop() == 0
    urls = alerted_urls(receiver)
    assert sorted(urls) == sorted(site.url(f"/news/{s.slug}.html") for s in (OUTAGE, FRAUD, RUMOR)), urls
    keys = [r.header("Idempotency-Key") for r in receiver.requests if r.method == "POST"]
    sent_keys = [r.header("Idempotency-Key") for r in receiver.succeeded()]
    assert len(sent_keys) == len(set(sent_keys)) == 3
    assert set(keys) == set(sent_keys), "retries carried the same idempotency keys"


def test_failing_source_raises_one_health_alert_and_one_on_recovery(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [PARK])
        site.add("/flaky.xml", b"oops", status=500)
        extra = f'  - {{id: flaky, type: feed, url: "{site.url("/flaky.xml")}", interval: 1s}}\n'
        cfg = write_config(tmp_path, site, receiver, port, extra_sources=extra,
                           crawl=", health_after: 2, backoff_max: 1s")
        daemon = DaemonProcess(cfg)
        try:
            def health_alerts() -> list[dict]:
                return [a for r in receiver.succeeded() for a in r.json()["alerts"] if a["kind"] == "source_health"]

            wait_until(lambda: health_alerts(), 25, "the failing-source alert")
            first = health_alerts()[0]
            assert (first["source"], first["status"], first["error"]) == ("flaky", "failing", "HTTP 500")
            failures = len(site.requests_to("/flaky.xml"))
            wait_until(lambda: len(site.requests_to("/flaky.xml")) >= failures + 2, 20, "more failed polls")
            assert len(health_alerts()) == 1, "one alert while failing, not one per poll"
            site.add("/flaky.xml", rss(site.base, [PARK]), content_type="application/rss+xml")
            wait_until(lambda: len(health_alerts()) == 2, 20, "the recovery alert")
            assert [a["status"] for a in health_alerts()] == ["failing", "recovered"]
        finally:
            assert daemon.stop() == 0, daemon.output[-3000:]


def listening_ports(pid: int) -> set[int]:
    """TCP ports a process listens on, from /proc (LISTEN is state 0A)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def test_the_daemon_listens_on_its_health_port_alone(tmp_path: Path) -> None:
    """Scrapy's telnet console and its RemoteControl server (2.19) run code sent to them: both are off,
    and no remote-control token is written under the user's state directory."""
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [PARK])
        config = write_config(tmp_path, site, receiver, port)
        env_home = dict(os.environ)
        os.environ["HOME"] = str(home)  # the daemon inherits it; restored below
        os.environ.pop("XDG_STATE_HOME", None)
        try:
            daemon = DaemonProcess(config)
        finally:
            os.environ.clear()
            os.environ.update(env_home)
        try:
            daemon.wait_for_line("newsmon running: 1 sources")
            wait_until(lambda: stored(tmp_path, site.url("/news/park-budget.html")), 20, "the first poll")
            assert listening_ports(daemon.proc.pid) == {port}
        finally:
            assert daemon.stop(signal.SIGTERM) == 0, daemon.output[-3000:]
    assert not list(home.rglob("*")), "nothing written under $HOME"
    assert "Remote control" not in daemon.output and "Telnet" not in daemon.output


def test_a_slow_page_is_requested_once_and_sigterm_keeps_to_the_grace_period(tmp_path: Path) -> None:
    """Polls every second while one article page takes 15 s: one request for it, not one per poll, and
    the other story is stored meanwhile. SIGTERM with that request in flight: exit 0 within
    shutdown_grace (4 s), the slow entry still queued for the next start."""
    import time

    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [OUTAGE, FRAUD])
        site.add(f"/news/{OUTAGE.slug}.html", article_html(OUTAGE), delay=15)
        config = write_config(tmp_path, site, receiver, port)
        config.write_text(config.read_text().replace("timeout: 3s, ", "timeout: 90s, ").replace(
            "shutdown_grace: 5s", "shutdown_grace: 4s"))
        daemon = DaemonProcess(config)
        try:
            daemon.wait_for_line("newsmon running: 1 sources")
            wait_until(lambda: stored(tmp_path, site.url(f"/news/{FRAUD.slug}.html")), 20, "the fast story")
            wait_until(lambda: len(site.requests_to("/feed.xml")) >= 5, 20, "five polls")
            assert len(site.requests_to(f"/news/{OUTAGE.slug}.html")) == 1, "one request per URL in flight"
            status = subprocess.run([sys.executable, "-m", "monitor", "status", "-c", "config.yaml"],
                                    cwd=tmp_path, capture_output=True, text=True, timeout=60)
            rows = status.stdout.splitlines()
            row = rows[next(i for i, ln in enumerate(rows) if ln.startswith("SOURCE")) + 1]
            assert row.split()[-2:] == ["1", "0"], status.stdout  # QUEUED, ERRORS
        finally:
            started = time.monotonic()
            code = daemon.stop(signal.SIGTERM)
            elapsed = time.monotonic() - started
        assert code == 0, daemon.output[-3000:]
        assert elapsed < 4 + 1.5, f"SIGTERM took {elapsed:.1f}s against a 4s grace period"
        assert "abandoning 1 in-flight article requests" in daemon.output
        assert "Traceback" not in daemon.output, daemon.output[-3000:]
        with sqlite3.connect(tmp_path / "daemon.db") as conn:
            assert conn.execute("SELECT url FROM pending_articles").fetchall() == [
                (site.url(f"/news/{OUTAGE.slug}.html"),)]
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_a_reload_that_fails_in_any_way_is_refused_and_the_watcher_keeps_going(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [PARK])
        cfg = write_config(tmp_path, site, receiver, port)
        good = cfg.read_text()
        daemon = DaemonProcess(cfg)
        try:
            daemon.wait_for_line("newsmon running")
            for bad in ("sources: &s [*s]\n", "x: &a [*a, *a]\n" + good, "\xff\xfe\x00garbage: [\n"):
                mark = len(daemon.lines)
                cfg.write_bytes(bad.encode("utf-8", "surrogateescape") if isinstance(bad, str) else bad)
                daemon.wait_for_line("reload refused", after=mark, timeout=15)
            mark = len(daemon.lines)
            cfg.write_text(good + f"  - {{id: second, type: feed, url: \"{site.url('/feed.xml')}\"}}\n")
            daemon.wait_for_line("reloaded: 2 sources", after=mark, timeout=15)
            assert "Traceback" not in daemon.output, daemon.output[-3000:]
        finally:
            assert daemon.stop() == 0, daemon.output[-3000:]


def test_a_reload_keeps_the_store_and_the_status_pages_token_until_a_restart(tmp_path: Path) -> None:
    """Editing server.token or store.path and reloading must not open the API, move its writes to another
    store or lose the run file: those settings wait for a restart, as the warning says."""
    import urllib.error

    port = free_port()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f'store: {{path: first.db}}\nserver: {{listen: "127.0.0.1:{port}", token: "s3cret-token"}}\n',
                   encoding="utf-8")
    daemon = DaemonProcess(cfg)
    try:
        daemon.wait_for_line("newsmon running")
        mark = len(daemon.lines)
        cfg.write_text(f'store: {{path: second.db}}\nserver: {{listen: "127.0.0.1:{port}"}}\n', encoding="utf-8")
        os.kill(daemon.proc.pid, signal.SIGHUP)
        warning = daemon.wait_for_line("take effect at the next restart", after=mark)
        assert "store.path and server settings" in warning
        daemon.wait_for_line("reloaded:", after=mark)
        url = f"http://127.0.0.1:{port}/api/v1/sources"
        try:
            urllib.request.urlopen(url, timeout=5)
            raise AssertionError("the API answered without the token after the reload")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        request = urllib.request.Request(url, headers={"Authorization": "Bearer s3cret-token"})
        assert urllib.request.urlopen(request, timeout=5).status == 200
        assert (tmp_path / "first.db.run.json").exists() and not (tmp_path / "second.db").exists()
    finally:
        code = daemon.stop(signal.SIGTERM)
    assert code == 0, daemon.output[-3000:]
    assert not (tmp_path / "first.db.run.json").exists(), "the run file is removed where it was written"
