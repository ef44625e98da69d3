"""Store faults (issue 8) against the real daemon: the database locked by another process, a full disk
(RLIMIT_FSIZE on the running daemon: every write past the limit fails with EFBIG, as on a full disk),
the database deleted under it, and a read-only database at start.

What must hold: the reactor keeps going (/healthz answers promptly, `degraded` with the error), one clear
error line instead of a traceback per write, a metric; when the fault ends the stories published meanwhile
are stored and alerted; a vanished database stops the daemon with a critical line and exit code 1.
"""

from __future__ import annotations

import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import run_newsmon, wait_until
from tests.httpserver import LocalSite
from tests.receiver import Receiver
from tests.test_daemon import FRAUD, OUTAGE, PARK, DaemonProcess, alerted_urls, free_port, publish, stored, write_config


def healthz(port: int) -> tuple[int, dict, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    return status, json.loads(body), time.monotonic() - started


def metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
    return values[0] if values else 0.0


def error_lines(daemon: DaemonProcess) -> list[str]:
    return [ln for ln in daemon.lines if "store: cannot write" in ln]


def test_a_locked_database_degrades_health_and_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [PARK])
        daemon = DaemonProcess(write_config(tmp_path, site, receiver, port))
        try:
            daemon.wait_for_line("newsmon running")
            wait_until(lambda: stored(tmp_path, site.url("/news/park-budget.html")), 30, "the first story")
            locker = sqlite3.connect(tmp_path / "daemon.db", isolation_level=None)
            locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            publish(site, [PARK, OUTAGE])
            daemon.wait_for_line("store: cannot write", timeout=30)
            status, body, took = healthz(port)
            assert status == 503 and body["status"] == "degraded" and "locked" in body["store_error"]
            assert took < 5, f"/healthz took {took:.1f}s while the store was locked"
            assert metric(port, "newsmon_store_errors_total") >= 1
            time.sleep(6)  # several polls fail meanwhile
            assert len(error_lines(daemon)) == 1, "\n".join(error_lines(daemon))
            locker.execute("ROLLBACK")
            locker.close()
            daemon.wait_for_line("store: writes succeed again", timeout=30)
            wait_until(lambda: alerted_urls(receiver) == [site.url("/news/telco-outage.html")], 30,
                       "the story published while the store was locked")
            assert healthz(port)[1]["status"] == "ok"
        finally:
            assert daemon.stop() == 0, daemon.output[-3000:]
    assert "Traceback" not in daemon.output, daemon.output[-3000:]


def test_a_full_disk_degrades_health_and_the_stories_wait_for_space(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [PARK])
        daemon = DaemonProcess(write_config(tmp_path, site, receiver, port))
        pid = daemon.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        try:
            daemon.wait_for_line("newsmon running")
            wait_until(lambda: stored(tmp_path, site.url("/news/park-budget.html")), 30, "the first story")
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))  # no write past the first byte
            publish(site, [PARK, OUTAGE, FRAUD])
            daemon.wait_for_line("store: cannot write", timeout=30)
            status, body, _ = healthz(port)
            assert status == 503 and body["status"] == "degraded", body
            time.sleep(6)
            assert len(error_lines(daemon)) == 1, "\n".join(error_lines(daemon))
            assert alerted_urls(receiver) == []
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))  # space again
            wait_until(lambda: len(alerted_urls(receiver)) == 2, 40, "the two stories once there is space")
            assert sorted(alerted_urls(receiver)) == sorted(
                [site.url("/news/telco-outage.html"), site.url("/news/sparkasse-betrug.html")])
        finally:
            code = daemon.stop()
        assert code == 0, daemon.output[-3000:]
        assert "store writes failed" in daemon.wait_for_line("newsmon stopped after", timeout=1)
    assert "Traceback" not in daemon.output, daemon.output[-3000:]
    with sqlite3.connect(tmp_path / "daemon.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_a_deleted_database_stops_the_daemon_loudly(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [PARK])
        daemon = DaemonProcess(write_config(tmp_path, site, receiver, port))
        daemon.wait_for_line("newsmon running")
        wait_until(lambda: stored(tmp_path, site.url("/news/park-budget.html")), 30, "the first story")
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"daemon.db{suffix}").unlink(missing_ok=True)
        code = daemon.proc.wait(30)
        daemon._reader.join(5)
    assert code == 1, daemon.output[-3000:]
    assert "CRITICAL" in daemon.output or "critical" in daemon.output.lower()
    assert "was deleted or replaced while newsmon was running" in daemon.output
    assert "Traceback" not in daemon.output, daemon.output[-3000:]


def test_a_read_only_database_is_refused_at_start_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        publish(site, [PARK])
        cfg = write_config(tmp_path, site, receiver, port)
        first = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        with sqlite3.connect(tmp_path / "daemon.db") as conn:
            conn.execute("PRAGMA journal_mode=DELETE")  # a clean file, no -wal/-shm beside it
        readonly = read_only_copy(tmp_path / "daemon.db", tmp_path / "ro")
        cfg.write_text(cfg.read_text().replace("path: daemon.db", f"path: {readonly}"))
        proc = subprocess.run([sys.executable, "-m", "monitor", "run", "-c", str(cfg)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        release(tmp_path / "ro")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"store {readonly}" in proc.stderr and "read-only" in proc.stderr, proc.stderr


def read_only_copy(db: Path, where: Path) -> Path:
    """A copy of `db` that cannot be written, even by root: on a tmpfs remounted read-only when this
    process may mount (root in CI and the dev container), else by file permissions (other users)."""
    where.mkdir()
    if _can_mount(where):
        shutil.copy(db, where / db.name)
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
    else:
        shutil.copy(db, where / db.name)
        (where / db.name).chmod(0o444)
        where.chmod(0o555)
    return where / db.name


def _can_mount(where: Path) -> bool:
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16M", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def release(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        where.chmod(0o755)
