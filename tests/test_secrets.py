"""Secrets never reach logs, command output, the store or /metrics: a ${VAR} value in a source URL,
in Slack and webhook URLs (path and query tokens, userinfo) and under a non-secret key is masked as
`***` at every log level (-v), in text and JSON logs, in tracebacks and in `validate` problems.
The real command line runs in subprocesses against a local site that answers 500 and a local receiver."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.logs import JsonFormatter, TextFormatter, redact, register_secret
from tests.conftest import run_newsmon, wait_until
from tests.httpserver import LocalSite
from tests.receiver import Receiver, Reply

SECRET = "nwsm-S3cr3t-7f4c2a9e"
ENV = {"NEWSMON_TEST_SECRET": SECRET}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp: Path, site: LocalSite, rx: Receiver, *, fmt: str = "text", health_after: int = 100,
                 port: int = 0) -> Path:
    path = tmp / "config.yaml"
    path.write_text(f"""\
store: {{path: secrets.db}}
server: {{listen: "127.0.0.1:{port}"}}
log: {{format: {fmt}, level: debug}}
crawl: {{delay: 0s, timeout: 3s, retries: 0, shutdown_grace: 5s, health_after: {health_after},
        user_agent: "newsmon-test (${{NEWSMON_TEST_SECRET}})"}}
channels:
  ops-slack: {{type: slack, url: "{rx.url}/services/T000/B000/${{NEWSMON_TEST_SECRET}}"}}
  hook: {{type: webhook, url: "http://ops:${{NEWSMON_TEST_SECRET}}@127.0.0.1:{rx.port}/hook?token=${{NEWSMON_TEST_SECRET}}"}}
  closed: {{type: webhook, url: "http://127.0.0.1:{free_port()}/in/${{NEWSMON_TEST_SECRET}}"}}
delivery: {{backoff_base: 0.2s, backoff_max: 1s, drain_timeout: 3s}}
routes:
  - {{channels: [ops-slack, hook], group_wait: 0s, group_interval: 0s}}
sources:
  - {{id: broken, type: feed, url: "{site.url('/feed/${NEWSMON_TEST_SECRET}.xml')}", interval: 1s}}
""", encoding="utf-8")
    return path


def assert_clean(where: str, text: str | bytes) -> None:
    secret: str | bytes = SECRET.encode() if isinstance(text, bytes) else SECRET
    assert secret not in text, f"the secret leaked into {where}"


def store_bytes(tmp: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(tmp.glob("secrets.db*")))


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as s:
        s.add(f"/feed/{SECRET}.xml", "server error", status=500)
        yield s


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


# -- the formatters ----------------------------------------------------------------------------------


@pytest.fixture
def fresh_secrets() -> Iterator[None]:
    """The process-wide secret registry as if no other test had registered anything (the config fuzz
    registers random `${VAR}` values, which may be a prefix of this test's URL), restored after."""
    from monitor import logs

    saved = set(logs._secrets)
    logs._secrets.clear()
    logs._pattern = None
    yield
    logs._secrets.clear()
    logs._secrets.update(saved)
    logs._pattern = None


@pytest.mark.usefixtures("fresh_secrets")
def test_formatters_mask_message_args_extras_and_tracebacks() -> None:
    token = "unit-T0ken-5e9b1d"
    register_secret(f"https://hooks.example.com/services/T1/B1/{token}?sig=abcdef123456")
    try:
        raise RuntimeError(f"POST /services/T1/B1/{token} failed")
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "sending to %s: %s", (f"x/{token}", "down"),
                                   sys.exc_info())
    record.url = f"https://hooks.example.com/services/T1/B1/{token}"
    text = TextFormatter().format(record)
    data = json.loads(JsonFormatter().format(record))
    for out in (text, json.dumps(data)):
        assert token not in out and "abcdef123456" not in out
    assert "sending to x/***: down" in text and "RuntimeError: POST /services/T1/B1/*** failed" in text
    assert data["url"] == "https://hooks.example.com/services/T1/B1/***" and "***" in data["exception"]
    assert redact("short: ab") == "short: ab"  # values under 4 characters are never registered


# -- the command line --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_crawl_verbose_source_error_lines_mask_the_url_secret(tmp_path: Path, site: LocalSite, rx: Receiver,
                                                              fmt: str) -> None:
    write_config(tmp_path, site, rx, fmt=fmt)
    proc = run_newsmon("-v", "crawl", "--once", "-c", "config.yaml", cwd=tmp_path, env=ENV)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert site.requests_to(f"/feed/{SECRET}.xml"), "the source URL was substituted and polled"
    assert "source broken: http://127.0.0.1:" in out and "/feed/***.xml: HTTP 500" in out, out[-3000:]
    assert "DEBUG" in out or '"level": "debug"' in out  # -v: the chattiest level was on
    assert_clean("crawl output", out)
    assert_clean("the store", store_bytes(tmp_path))

    status = run_newsmon("status", "-c", "config.yaml", cwd=tmp_path, env=ENV)
    assert status.returncode == 0 and "HTTP 500" in status.stdout, status.stderr
    assert_clean("status output", status.stdout + status.stderr)


@pytest.mark.parametrize("channel", ["ops-slack", "hook", "closed"])
def test_alerts_test_verbose_masks_channel_url_tokens(tmp_path: Path, site: LocalSite, rx: Receiver,
                                                      channel: str) -> None:
    rx.script(Reply(500, f"no such hook: {SECRET}"))
    write_config(tmp_path, site, rx)
    proc = run_newsmon("-v", "alerts", "test", channel, "-c", "config.yaml", cwd=tmp_path, env=ENV)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "alerts test: " in out, out[-3000:]
    if channel != "closed":
        [request] = rx.wait_for(1)
        assert SECRET in request.path, "the channel URL holds the secret"
    assert_clean(f"`alerts test {channel}` output", out)


def test_validate_masks_values_substituted_under_non_secret_keys(tmp_path: Path, site: LocalSite,
                                                                 rx: Receiver) -> None:
    write_config(tmp_path, site, rx)
    ok = run_newsmon("-v", "validate", "-c", "config.yaml", cwd=tmp_path, env=ENV)
    assert ok.returncode == 0, ok.stderr
    assert_clean("validate output", ok.stdout + ok.stderr)

    bad = tmp_path / "bad.yaml"
    bad.write_text('crawl: {delay: "${NEWSMON_TEST_SECRET}", max_size: "${NEWSMON_TEST_SECRET}"}\n'
                   'sources:\n  - {id: a, type: feed, url: "https://e.com/", timezone: "x/${NEWSMON_TEST_SECRET}"}\n',
                   encoding="utf-8")
    proc = run_newsmon("validate", "-c", "bad.yaml", cwd=tmp_path, env=ENV)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        'bad.yaml:1 crawl.delay: not a duration: "***" (use e.g. "30s", "5m", "2h", "1d")',
        'bad.yaml:1 crawl.max_size: not a size: "***" (use e.g. "10MB")',
        'bad.yaml:3 sources[0].timezone: unknown time zone "x/***"',
        "newsmon validate: 3 problem(s), nothing loaded",
    ]
    assert_clean("validate output", proc.stdout)


def test_daemon_logs_metrics_and_store_never_show_the_secret(tmp_path: Path, site: LocalSite, rx: Receiver) -> None:
    port = free_port()
    write_config(tmp_path, site, rx, port=port)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "-v", "run", "-c", "config.yaml"], cwd=tmp_path,
                            env={**os.environ, **ENV, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        wait_until(lambda: len(site.requests_to(f"/feed/{SECRET}.xml")) >= 2, 30, "two failed polls")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        with pytest.raises(urllib.error.HTTPError) as failing:  # its only source fails: degraded, 503
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert failing.value.code == 503
        health = failing.value.read().decode()
        assert json.loads(health)["failing_sources"] == ["broken"]
        assert 'newsmon_polls_total{result="error",source="broken"}' in metrics
        assert_clean("/metrics", metrics)
        assert_clean("/healthz", health)
        time.sleep(0.5)  # the error line follows the request
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        reader.join(5)
    out = "".join(lines)
    assert code == 0, out[-3000:]
    assert "/feed/***.xml: HTTP 500" in out, out[-3000:]
    assert_clean("the daemon's output", out)
    assert_clean("the store", store_bytes(tmp_path))


def test_source_health_alert_masks_the_url_secret(tmp_path: Path, site: LocalSite, rx: Receiver) -> None:
    write_config(tmp_path, site, rx, health_after=1)
    proc = run_newsmon("crawl", "--once", "-c", "config.yaml", cwd=tmp_path, env=ENV)
    assert_clean("crawl output", proc.stdout + proc.stderr)
    rx.wait_for(2, timeout=10)
    assert_clean("the alerts sent", b"".join(r.body for r in rx.requests))
    assert_clean("the store", store_bytes(tmp_path))
