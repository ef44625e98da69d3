"""What an operator sees of `newsmon run` as a real subprocess: the run file `newsmon status` reads
(written once started, gone after SIGTERM, ignored when its pid is dead or not newsmon), a second daemon
on the same store refused, and the first minutes offline (sources on a closed local port): one summary
line after the first cycle, and /healthz 503 `degraded` listing the failing sources."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from monitor import runinfo
from monitor.config import load_config
from tests.conftest import run_newsmon, wait_until
from tests.httpserver import LocalSite
from tests.sitedata import STORIES, article_html, rss
from tests.test_daemon import DaemonProcess, free_port

PARK = STORIES[2]


def closed_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def config_with(tmp: Path, port: int, sources: list[tuple[str, str]]) -> Path:
    path = tmp / "config.yaml"
    lines = "".join(f'  - {{id: {sid}, type: feed, url: "{url}", interval: 1s}}\n' for sid, url in sources)
    path.write_text(f"""\
store: {{path: run.db}}
server: {{listen: "127.0.0.1:{port}"}}
crawl: {{delay: 0s, timeout: 3s, retries: 0, shutdown_grace: 5s, backoff_max: 2s}}
channels:
  out: {{type: console}}
sources:
{lines}""", encoding="utf-8")
    return path


def summary_lines(daemon: DaemonProcess) -> list[str]:
    return [ln for ln in daemon.lines if "sources unreachable" in ln or "first cycle:" in ln]


def test_the_run_file_is_written_while_running_and_gone_after_sigterm(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site:
        site.add("/feed.xml", rss(site.base, []), content_type="application/rss+xml")
        cfg = config_with(tmp_path, port, [("news", site.url("/feed.xml"))])
        config = load_config(cfg)
        assert runinfo.read(config) is None and runinfo.last_stopped(config) is None
        before = datetime.now(timezone.utc).replace(microsecond=0)
        daemon = DaemonProcess(cfg)
        try:
            info = wait_until(lambda: runinfo.read(config), 30, f"the run file\n{daemon.output[-2000:]}")
            assert isinstance(info, runinfo.RunInfo)
            assert info.pid == daemon.proc.pid
            assert info.health_url == f"http://127.0.0.1:{port}/"
            assert info.config_path == str(cfg.resolve())
            assert info.host == socket.gethostname()
            assert before - timedelta(seconds=1) <= info.started <= datetime.now(timezone.utc)
            assert runinfo.path(config) == tmp_path / "run.db.run.json"
            on_disk = json.loads(runinfo.path(config).read_text(encoding="utf-8"))
            assert set(on_disk) == {"pid", "started", "health_url", "config_path", "host"}
            # the URL it names is the daemon's health endpoint
            with urllib.request.urlopen(info.health_url + "healthz", timeout=5) as r:
                assert json.loads(r.read())["sources"] == 1
        finally:
            code = daemon.stop(signal.SIGTERM)
        assert code == 0, daemon.output[-3000:]
    assert not runinfo.path(config).exists()
    assert runinfo.read(config) is None
    stopped = runinfo.last_stopped(config)
    assert stopped is not None and before - timedelta(seconds=1) <= stopped <= datetime.now(timezone.utc)


def test_a_stale_run_file_is_not_taken_for_a_daemon(tmp_path: Path) -> None:
    """kill -9 leaves the file behind: a dead pid, or a pid since reused by another program, is no daemon."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text("store: {path: run.db}\n", encoding="utf-8")
    config = load_config(cfg)

    def file_naming(pid: int) -> None:
        runinfo.path(config).write_text(json.dumps({
            "pid": pid, "started": "2026-01-01T00:00:00+00:00", "health_url": "http://127.0.0.1:9464/",
            "config_path": str(cfg), "host": socket.gethostname()}), encoding="utf-8")

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    file_naming(dead.pid)
    assert runinfo.read(config) is None, "a dead pid"
    other = subprocess.Popen(["sleep", "30"])
    try:
        file_naming(other.pid)
        assert runinfo.read(config) is None, "a live pid that is not newsmon"
    finally:
        other.kill()
        other.wait()
    runinfo.path(config).write_text("{not json", encoding="utf-8")
    assert runinfo.read(config) is None, "a damaged file"
    # remove() leaves a file that is not ours alone
    file_naming(dead.pid)
    runinfo.remove(config)
    assert runinfo.path(config).exists()


def test_a_second_daemon_on_the_same_store_is_refused(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site:
        site.add("/feed.xml", rss(site.base, []), content_type="application/rss+xml")
        cfg = config_with(tmp_path, port, [("news", site.url("/feed.xml"))])
        daemon = DaemonProcess(cfg)
        try:
            daemon.wait_for_line("newsmon running", timeout=30)
            # another config file naming the same store, with another health port
            other = tmp_path / "other.yaml"
            other.write_text(cfg.read_text(encoding="utf-8").replace(str(port), str(free_port())),
                             encoding="utf-8")
            second = run_newsmon("run", "-c", str(other), cwd=tmp_path, timeout=60)
            assert second.returncode == 2, second.stdout + second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert lines[0].startswith("newsmon run: another newsmon is already running on store ")
            assert f"pid {daemon.proc.pid}" in lines[0] and str(tmp_path / "run.db") in lines[0]
            assert daemon.proc.poll() is None, "the first daemon runs on"
            assert runinfo.read(load_config(cfg)).pid == daemon.proc.pid  # type: ignore[union-attr]
        finally:
            assert daemon.stop(signal.SIGTERM) == 0, daemon.output[-3000:]
        # once it has stopped, the store is free again
        again = DaemonProcess(cfg)
        try:
            again.wait_for_line("newsmon running", timeout=30)
        finally:
            assert again.stop(signal.SIGTERM) == 0, again.output[-3000:]


def test_a_second_daemon_reaching_the_store_through_a_symlink_is_refused(tmp_path: Path) -> None:
    """Another config directory whose store.path is a symlink to the running daemon's store: one store,
    so one lock (the lock and run files are named after the resolved store path)."""
    port = free_port()
    with LocalSite() as site:
        site.add("/feed.xml", rss(site.base, []), content_type="application/rss+xml")
        cfg = config_with(tmp_path, port, [("news", site.url("/feed.xml"))])
        daemon = DaemonProcess(cfg)
        try:
            daemon.wait_for_line("newsmon running", timeout=30)
            other_dir = tmp_path / "other"
            other_dir.mkdir()
            (other_dir / "run.db").symlink_to(tmp_path / "run.db")
            other = config_with(other_dir, free_port(), [("news", site.url("/feed.xml"))])
            second = run_newsmon("run", "-c", str(other), cwd=other_dir, timeout=30)
            assert second.returncode == 2, second.stdout + second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("newsmon run: another newsmon is already running on store "), lines
            assert f"pid {daemon.proc.pid}" in lines[0] and str((tmp_path / "run.db").resolve()) in lines[0]
            assert runinfo.read(load_config(other)).pid == daemon.proc.pid  # type: ignore[union-attr]
            assert not (other_dir / "run.db.run.lock").exists()
            # a symlinked config directory reaches the same lock file too
            link = tmp_path / "linked"
            link.symlink_to(other_dir)
            assert runinfo.lock_path(load_config(link / "config.yaml")) == (tmp_path / "run.db.run.lock").resolve()
        finally:
            assert daemon.stop(signal.SIGTERM) == 0, daemon.output[-3000:]


def test_a_filesystem_that_cannot_lock_is_not_another_daemon(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """flock failing with ENOLCK (NFS without a lock manager) is said as such, in one line, exit 2."""
    import errno
    import fcntl

    from monitor.cli import main

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    cfg = config_with(tmp_path, free_port(), [("news", "http://127.0.0.1:9/feed.xml")])
    assert main(["run", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    lock = (tmp_path / "run.db.run.lock").resolve()
    assert err == (f"newsmon run: cannot lock {lock}: {os.strerror(errno.ENOLCK)}: locking failed on the filesystem of "
                   "the store (a network filesystem without locks?), so one daemon per store cannot be ensured; "
                   "put store.path on a local filesystem\n")
    assert "already running" not in err
    assert not (tmp_path / "run.db").exists(), "refused before the store is opened"


def test_offline_first_cycle_gives_one_summary_line_and_degraded_health(tmp_path: Path) -> None:
    port = free_port()
    dead = closed_port()
    ids = ["alpha", "bravo", "charlie", "delta"]
    cfg = config_with(tmp_path, port, [(sid, f"http://127.0.0.1:{dead}/{sid}.xml") for sid in ids])
    daemon = DaemonProcess(cfg)
    try:
        line = daemon.wait_for_line("sources unreachable", timeout=40)
        assert line.split(" ", 3)[2] == "WARNING", line
        assert line.endswith("monitor.daemon: 4 of 4 sources unreachable — no network? try `newsmon demo`")
        status, body = healthz(port)
        assert status == 503, body
        assert body["status"] == "degraded" and body["failing_sources"] == sorted(ids)
        assert body["sources"] == 4 and body["polled_sources"] == 4
        assert "4 of 4" in body["sources_error"]
        # more failed polls follow (backing off up to 2s): still one summary line
        polls = sum(1 for ln in daemon.lines if "connection refused" in ln)
        wait_until(lambda: sum(1 for ln in daemon.lines if "connection refused" in ln) >= polls + 4, 30,
                   "more failed polls")
        assert len(summary_lines(daemon)) == 1, summary_lines(daemon)
        # each failing poll still says which source and why, once per poll
        assert {sid for sid in ids if any(f"source {sid}: " in ln and "connection refused" in ln
                                          for ln in daemon.lines)} == set(ids)
    finally:
        assert daemon.stop(signal.SIGTERM) == 0, daemon.output[-3000:]


def test_a_first_cycle_with_a_minority_failing_is_one_info_line_and_health_stays_ok(tmp_path: Path) -> None:
    port = free_port()
    dead = closed_port()
    with LocalSite() as site:
        site.add("/feed.xml", rss(site.base, [PARK]), content_type="application/rss+xml")
        site.add("/other.xml", rss(site.base, []), content_type="application/rss+xml")
        cfg = config_with(tmp_path, port, [("news", site.url("/feed.xml")), ("other", site.url("/other.xml")),
                                           ("gone", f"http://127.0.0.1:{dead}/feed.xml")])
        daemon = DaemonProcess(cfg)
        try:
            line = daemon.wait_for_line("first cycle:", timeout=40)
            assert " INFO monitor.daemon: first cycle: 3 sources polled, 1 failing (gone)" in line, line
            status, body = healthz(port)
            assert (status, body["status"], body["failing_sources"]) == (200, "ok", ["gone"]), body
            time.sleep(3)
            assert len(summary_lines(daemon)) == 1, summary_lines(daemon)
            # the two working sources going down too makes it most of them: degraded
            site.add("/feed.xml", b"oops", status=500)
            site.add("/other.xml", b"oops", status=500)
            wait_until(lambda: healthz(port)[0] == 503, 30, "degraded health")
            status, body = healthz(port)
            assert body["status"] == "degraded" and body["failing_sources"] == ["gone", "news", "other"]
            assert len(summary_lines(daemon)) == 1, "the summary is about the first cycle only"
        finally:
            assert daemon.stop(signal.SIGTERM) == 0, daemon.output[-3000:]


def test_the_run_file_of_a_daemon_whose_health_port_is_taken_has_no_url(tmp_path: Path) -> None:
    """server.listen unbindable: the daemon runs on, and its run file says health_url null."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        with LocalSite() as site:
            site.add("/feed.xml", rss(site.base, []), content_type="application/rss+xml")
            cfg = config_with(tmp_path, port, [("news", site.url("/feed.xml"))])
            config = load_config(cfg)
            daemon = DaemonProcess(cfg)
            try:
                info = wait_until(lambda: runinfo.read(config), 30, f"the run file\n{daemon.output[-2000:]}")
                assert info.pid == daemon.proc.pid and info.health_url is None  # type: ignore[union-attr]
                assert os.path.exists(runinfo.path(config))
            finally:
                assert daemon.stop(signal.SIGTERM) == 0, daemon.output[-3000:]
    finally:
        busy.close()
    assert runinfo.read(config) is None


def test_a_running_daemon_serves_its_status_page_and_api_and_status_names_it(tmp_path: Path) -> None:
    """The page and the API on the daemon's own port (not a bare HealthServer): the story it just alerted
    on is there, and `newsmon status` names the daemon and its URL."""
    port = free_port()
    with LocalSite() as site:
        site.add("/feed.xml", rss(site.base, [STORIES[0]]), content_type="application/rss+xml")
        for story in STORIES[:1]:
            site.add(f"/news/{story.slug}.html", article_html(story))
        cfg = config_with(tmp_path, port, [("news", site.url("/feed.xml"))])
        config = load_config(cfg)
        daemon = DaemonProcess(cfg)
        try:
            info = wait_until(lambda: runinfo.read(config), 30, f"the run file\n{daemon.output[-2000:]}")
            base = info.health_url  # type: ignore[union-attr]
            stories = wait_until(lambda: json.loads(urllib.request.urlopen(base + "api/v1/stories", timeout=5).read())
                                 .get("stories"), 60, f"a story in the API\n{daemon.output[-2000:]}")
            assert [s["title"] for s in stories] == [STORIES[0].title]
            with urllib.request.urlopen(base, timeout=5) as r:
                assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
                page = r.read().decode()
            assert "news" in page and STORIES[0].title in page
            status = run_newsmon("status", "-c", str(cfg), cwd=tmp_path)
            first = status.stdout.splitlines()[0]
            assert first.startswith(f"daemon: running, pid {daemon.proc.pid}, since ") and first.endswith(base), status.stdout
        finally:
            code = daemon.stop(signal.SIGTERM)
        assert code == 0, daemon.output[-3000:]
    status = run_newsmon("status", "-c", str(cfg), cwd=tmp_path)
    assert status.stdout.splitlines()[0].startswith("daemon: not running (last stopped "), status.stdout
