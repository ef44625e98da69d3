"""`newsmon alerts …` and `newsmon silence …` through the real CLI, config loader and SQLite store."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts import AlertEngine, outbox
from alerts.engine import utcnow
from monitor.cli import main
from monitor.config import load_config
from monitor.store import open_store
from tests.alert_fixtures import SECRET_TOKEN, add, article, classification
from tests.receiver import Receiver, Reply

TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def write_config(tmp_path: Path, rx: Receiver) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""store:
  path: news.db
channels:
  ops-slack: {{type: slack, url: "${{SLACK_URL}}"}}
  hook: {{type: webhook, url: "{rx.url}/hook"}}
routes:
  - channels: [ops-slack]
    group_wait: 0s
delivery:
  backoff_base: 50ms
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Receiver]:
    with Receiver() as rx:
        monkeypatch.setenv("SLACK_URL", f"{rx.url}/services/{SECRET_TOKEN}")
        yield write_config(tmp_path, rx), rx


def test_alerts_test_sends_a_sample(setup: tuple[Path, Receiver], capsys: pytest.CaptureFixture[str]) -> None:
    cfg, rx = setup
    assert main(["alerts", "test", "ops-slack", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out == "alerts test: sent a test alert to ops-slack\n"
    body = rx.wait_for(1)[0].json()
    assert body["blocks"][0]["text"]["text"] == "newsmon · test · Test alert from newsmon: delivery works"


def test_alerts_test_reports_the_failure(setup: tuple[Path, Receiver], capsys: pytest.CaptureFixture[str]) -> None:
    cfg, rx = setup
    rx.script(Reply(404, "no_service"))
    assert main(["alerts", "test", "ops-slack", "-c", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert err == f"alerts test: slack ops-slack: HTTP 404 Not Found from 127.0.0.1:{rx.port}: no_service (permanent failure)\n"
    assert SECRET_TOKEN not in err


def test_alerts_test_unknown_channel(setup: tuple[Path, Receiver], capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _ = setup
    assert main(["alerts", "test", "nope", "-c", str(cfg)]) == 2
    assert capsys.readouterr().err == 'alerts test: unknown channel "nope" (configured: ops-slack, hook)\n'


def test_alerts_list_and_retry_dead(setup: tuple[Path, Receiver], capsys: pytest.CaptureFixture[str]) -> None:
    cfg, rx = setup
    config = load_config(cfg)
    store = open_store(config.store_path)
    rx.script(Reply(410, "channel_is_archived"))
    engine = AlertEngine.from_config(config, store)
    add(engine, store, article(), classification())
    assert engine.drain(5) == 0
    store.close()

    assert main(["alerts", "list", "--dead", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ID  STATE  WHEN (UTC)                    CHANNEL    MODE   ALERTS  ATTEMPTS  CREATED (UTC)        TITLE"
    assert re.fullmatch(rf" 1  dead   given up {TIME}  ops-slack  alert       1         1  {TIME}"
                        r"  Fraud warning: MoMo accounts targeted", out[1])
    assert out[2] == f"   reason: slack ops-slack: HTTP 410 Gone from 127.0.0.1:{rx.port}: channel_is_archived"
    assert len(out) == 3
    assert main(["alerts", "list", "--pending", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out == "no alert messages (pending)\n"

    assert main(["alerts", "retry", "-c", str(cfg)]) == 2
    assert capsys.readouterr().err == "alerts retry: give message IDs or --all-dead\n"
    assert main(["alerts", "retry", "1", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out == "requeued 1 dead message\n"
    assert main(["alerts", "retry", "--all-dead", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out == "requeued 0 dead messages\n"

    store = open_store(config.store_path)
    engine = AlertEngine.from_config(config, store)
    assert engine.drain(5) == 0
    assert engine.stats()["ops-slack"] == {"sent": 1, "pending": 0, "dead": 0}
    store.close()


def test_alerts_list_tells_the_pending_states_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One alert, three channels: held by a 10-minute group_wait, failed once and waiting for its retry,
    and leased by a worker right now — all three "pending" in the store, each told apart."""
    with Receiver() as rx:
        monkeypatch.setenv("SLACK_URL", f"{rx.url}/services/{SECRET_TOKEN}")
        cfg = tmp_path / "config.yaml"
        cfg.write_text(
            f"""store:
  path: news.db
channels:
  ops-slack: {{type: slack, url: "${{SLACK_URL}}"}}
  hook: {{type: webhook, url: "{rx.url}/hook"}}
  pager: {{type: webhook, url: "{rx.url}/pager"}}
routes:
  - {{channels: [ops-slack], group_wait: 10m, continue: true}}
  - {{channels: [hook], group_wait: 0s, continue: true}}
  - {{channels: [pager], group_wait: 0s}}
delivery:
  backoff_base: 1h
  backoff_max: 1h
""",
            encoding="utf-8",
        )
        config = load_config(cfg)
        store = open_store(config.store_path)
        engine = AlertEngine.from_config(config, store)
        before = utcnow()
        assert add(engine, store, article(), classification()) == 3  # 1 ops-slack, 2 hook, 3 pager
        assert outbox.claim(store, "pager", utcnow(), flush=False, lease=600) is not None  # a worker sends it
        rx.script(Reply(503, "try later"))
        assert engine.deliver_due() == 0  # hook fails once; ops-slack is held; pager is leased
        after = utcnow()
        store.close()

        assert main(["alerts", "list", "--pending", "-c", str(cfg)]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0] == ("ID  STATE              WHEN (UTC)                        CHANNEL    MODE   ALERTS  ATTEMPTS"
                          "  CREATED (UTC)        TITLE")
        title = "Fraud warning: MoMo accounts targeted"
        assert re.fullmatch(rf" 3  sending            lease ends {TIME}    pager      alert       1         1  {TIME}  {title}", out[1])
        assert re.fullmatch(rf" 2  waiting for retry  next attempt {TIME}  hook       alert       1         1  {TIME}  {title}", out[2])
        assert out[3] == f"   last error: webhook hook: HTTP 503 Service Unavailable from 127.0.0.1:{rx.port}: try later"
        assert re.fullmatch(rf" 1  held for grouping  due {TIME}           ops-slack  alert       1         0  {TIME}  {title}", out[4])
        assert len(out) == 5

        assert main(["alerts", "list", "--format", "json", "-c", str(cfg)]) == 0
        rows = {r["channel"]: r for r in json.loads(capsys.readouterr().out)}
        assert {c: (r["state"], r["status"], r["attempts"]) for c, r in rows.items()} == {
            "pager": ("sending", "pending", 1), "hook": ("retrying", "pending", 1), "ops-slack": ("held", "pending", 0)}
        due = {c: datetime.fromisoformat(r["due"]) for c, r in rows.items()}
        assert before + timedelta(minutes=10) <= due["ops-slack"] <= after + timedelta(minutes=10)  # group_wait
        assert before + timedelta(minutes=30) <= due["hook"] <= after + timedelta(hours=1)  # backoff 1h, jitter
        assert before + timedelta(minutes=10) <= due["pager"] <= after + timedelta(minutes=10)  # the lease
        assert rows["hook"]["last_error"].endswith("HTTP 503 Service Unavailable from 127.0.0.1:"
                                                   f"{rx.port}: try later")
        assert rows["ops-slack"]["last_error"] is None and rows["pager"]["last_attempt"] is not None
        assert SECRET_TOKEN not in json.dumps(rows)

        # its group wait over and no worker has taken it yet (is the daemon running?): "ready to send"
        store = open_store(config.store_path)
        with store.transaction() as conn:
            conn.execute("UPDATE alert_outbox SET due_at = ? WHERE channel = 'ops-slack'",
                         (outbox.ts(before - timedelta(seconds=1)),))
        store.close()
        assert main(["alerts", "list", "-c", str(cfg)]) == 0
        line = capsys.readouterr().out.splitlines()[-1]
        assert re.fullmatch(rf" 1  ready to send      due {TIME}           ops-slack  alert       1         0  {TIME}  {title}", line)


def test_silence_add_list_expire(setup: tuple[Path, Receiver], capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _ = setup
    assert main(["silence", "add", "--match", "entity=MoMo", "--for", "2h", "--reason", "known incident", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out == "silence 1 added for 2h\n"
    assert main(["silence", "list", "-c", str(cfg)]) == 0
    line = capsys.readouterr().out
    assert re.fullmatch(r"   1  active   until \S+ \S+ UTC  entity=MoMo  — known incident(  \(\S+\))?\n", line)

    store = open_store(load_config(cfg).store_path)
    engine = AlertEngine.from_config(load_config(cfg), store)
    assert add(engine, store, article(), classification()) == 0  # silenced
    store.close()

    assert main(["silence", "expire", "1", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out == "silence 1 expired\n"
    assert main(["silence", "expire", "1", "-c", str(cfg)]) == 1
    assert capsys.readouterr().err == "silence expire: no active silence 1\n"
    assert main(["silence", "list", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out == "no active silences\n"


BAD_SILENCES = [
    (["--match", "team=ops", "--for", "1h"], 'silence add: "team=ops": unknown key "team" (use one of: category, entity, language, source, tag)'),
    (["--match", "entity", "--for", "1h"], 'silence add: "entity": use KEY=VALUE or KEY=~REGEX'),
    (["--match", "entity=MoMo", "--for", "soon"], 'silence add: not a duration: "soon" (use e.g. "30s", "5m", "2h", "1d")'),
    (["--match", "entity=~(", "--for", "1h"], 'silence add: "entity=~(": invalid regular expression: missing ), unterminated subpattern at position 0'),
]


@pytest.mark.parametrize("argv,message", BAD_SILENCES, ids=["unknown-key", "no-value", "bad-duration", "bad-regex"])
def test_silence_add_rejects_bad_input(
    setup: tuple[Path, Receiver], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    cfg, _ = setup
    assert main(["silence", "add", *argv, "-c", str(cfg)]) == 2
    assert capsys.readouterr().err == message + "\n"
