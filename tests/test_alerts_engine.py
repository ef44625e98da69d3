"""The engine end to end on a real SQLite file and real receivers: enqueue inside the caller's
transaction, routing, grouping, digests, silences, and delivery that survives faults (retries with the
same idempotency key, Retry-After, dead letters, restarts, one channel never delaying another)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerts import AlertEngine
from alerts.engine import utcnow
from alerts.outbox import retry
from alerts.silences import add_silence, expire_silence, list_silences
from tests.alert_fixtures import (
    T0,
    Clock,
    add,
    article,
    channels,
    classification,
    delivery,
    make_store,
    outbox_rows,
    routes,
    wait_until,
)
from tests.receiver import DROP, HANG, Receiver, Reply


def hook(rx: Receiver, **kw: object) -> dict[str, object]:
    return {"type": "webhook", "url": f"{rx.url}/hook", **kw}


def slack(rx: Receiver, **kw: object) -> dict[str, object]:
    return {"type": "slack", "url": f"{rx.url}/services/T/B/X", "rate_limit": "none", **kw}


@pytest.fixture
def rx() -> Receiver:
    with Receiver() as r:
        yield r


@pytest.fixture
def rx2() -> Receiver:
    with Receiver() as r:
        yield r


# -- enqueue, routing, grouping (pure scheduling, fake clock) ----------------------------------------------


def test_enqueue_joins_the_callers_transaction(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    engine = AlertEngine(channels({"c": {"type": "console"}}), [], delivery(), store, clock=Clock())
    with pytest.raises(RuntimeError), store.transaction():
        add(engine, store, article(), classification(), T0)
        raise RuntimeError("crawl failed after storing")
    assert outbox_rows(store) == [] and store.count_articles() == 0
    assert add(engine, store, article(), classification(["fraud", "outage"]), T0) == 2
    assert [r["channel"] for r in outbox_rows(store)] == ["c"], "one report, one message: both categories in it"


ROUTING = [
    ("fraud-goes-to-mail-and-hook-and-continues", ["fraud"], ["MoMo"], [], {"mail", "hook", "slack"}),
    ("outage-only-default", ["outage"], ["MoMo"], [], {"slack"}),
    ("entity-list-match-stops", ["outage"], ["Orange"], [], {"hook"}),
    ("regex-tag-match", ["rumor"], [], ["gov-ke"], {"mail"}),
]


@pytest.mark.parametrize("name,cats,entities,tags,expected", ROUTING, ids=[r[0] for r in ROUTING])
def test_routing(tmp_path: Path, name: str, cats: list[str], entities: list[str], tags: list[str], expected: set[str]) -> None:
    store = make_store(tmp_path)
    chans = channels({"mail": {"type": "console"}, "hook": {"type": "console"}, "slack": {"type": "console"}})
    rts = routes(
        {"match": {"category": "fraud"}, "channels": ["mail", "hook"], "continue": True},
        {"match": {"entity": ["Orange", "Safaricom"]}, "channels": ["hook"]},
        {"match": {"tag": "~gov-.*"}, "channels": ["mail"]},
        {"channels": ["slack"]},
    )
    engine = AlertEngine(chans, rts, delivery(), store, clock=Clock())
    assert add(engine, store, article(), classification(cats, entities), T0, tags=tags) == len(expected)
    assert {r["channel"] for r in outbox_rows(store)} == expected


def test_engine_rejects_unknown_channel(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as exc:
        AlertEngine(channels({"a": {"type": "console"}}), routes({"channels": ["ops"]}), delivery(), make_store(tmp_path))
    assert str(exc.value) == 'routes.0.channels.0: undefined channel "ops"'


def test_a_story_is_one_thread_of_messages_that_never_starts_over(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    clock = Clock()
    engine = AlertEngine(channels({"h": hook(rx)}), routes({"channels": ["h"], "group_wait": "1m", "group_interval": "15m"}),
                         delivery(), store, clock=clock)
    add(engine, store, article(1, source="a"), classification(), clock.now, story_id=5)
    add(engine, store, article(2, source="b"), classification(["outage"]), clock.advance(10), story_id=5)
    assert engine.deliver_due(clock.advance(60)) == 1
    add(engine, store, article(3, source="c"), classification(), clock.advance(3 * 3600), story_id=5)
    add(engine, store, article(4, source="d"), classification(), clock.advance(1), story_id=6)
    assert engine.deliver_due(clock.now) == 1, "hours later, the story's update goes at once"
    assert engine.deliver_due(clock.advance(60)) == 1, "another story is another thread"
    sent = [r.json() for r in rx.wait_for(3)]
    assert [(m["event"], m["seq"], m["story"]["id"], len(m["alerts"])) for m in sent] == [
        ("story.created", 0, 5, 2), ("story.updated", 1, 5, 1), ("story.created", 0, 6, 1)]
    assert sent[0]["thread_id"] == sent[1]["thread_id"] != sent[2]["thread_id"]


def test_grouping_wait_then_updates_then_new_group(tmp_path: Path, rx: Receiver) -> None:
    """Grouping by category and entity (Alertmanager's way): a quiet spell starts a new group."""
    store = make_store(tmp_path)
    clock = Clock()
    rts = routes({"channels": ["h"], "group_wait": "1m", "group_interval": "15m", "group_by": ["category", "entity"]})
    engine = AlertEngine(channels({"h": hook(rx)}), rts, delivery(), store, clock=clock)
    for n, src in enumerate(["a", "b", "c"]):  # three outlets, same category and entity, within group_wait
        add(engine, store, article(n, source=src), classification(), clock.advance(10))
    assert engine.deliver_due(clock.now) == 0  # still inside group_wait
    assert engine.deliver_due(clock.advance(41)) == 1  # first alert at +10s, due at +70s
    first = rx.wait_for(1)[0].json()
    assert (first["event"], first["title"], len(first["alerts"])) == (
        "story.created", "MoMo · fraud · Fraud warning: MoMo accounts targeted", 3)
    # two more within group_interval: one "update" message, due 15m after the first
    add(engine, store, article(10, source="d"), classification(), clock.advance(60))
    add(engine, store, article(11, source="e"), classification(), clock.advance(60))
    assert engine.deliver_due(clock.advance(600)) == 0
    assert engine.deliver_due(clock.advance(240)) == 1
    update = rx.wait_for(2)[1].json()
    assert (update["event"], update["earlier"], len(update["alerts"])) == ("story.updated", 3, 2)
    assert update["title"].startswith("Update 1 · MoMo · fraud")
    # a quiet period longer than group_interval: the next alert starts a new group
    add(engine, store, article(20, source="f"), classification(), clock.advance(3600))
    assert engine.deliver_due(clock.advance(61)) == 1
    assert rx.wait_for(3)[2].json()["event"] == "story.created"
    # a different entity is a different group; without an entity the story id is the key
    add(engine, store, article(30), classification(entities=[]), clock.now, story_id=77)
    assert outbox_rows(store)[-1]["group_key"] == "category=fraud,story=77"


def test_digest_collects_a_period(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    clock = Clock()
    engine = AlertEngine(channels({"h": hook(rx)}), routes({"channels": ["h"], "digest": "1h"}), delivery(), store, clock=clock)
    add(engine, store, article(1), classification(["fraud"], ["A"]), clock.now)
    add(engine, store, article(2), classification(["outage"], ["B"]), clock.advance(600))
    assert engine.deliver_due(clock.advance(1800)) == 0
    assert engine.deliver_due(clock.advance(1200)) == 1
    body = rx.wait_for(1)[0].json()
    assert (body["event"], body["title"], len(body["alerts"])) == ("digest", "Digest: 2 alerts (fraud, outage)", 2)


def test_silence_suppresses_until_it_expires(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    clock = Clock()
    engine = AlertEngine(channels({"c": {"type": "console"}}), [], delivery(), store, clock=clock)
    sid = add_silence(store, {"entity": "momo"}, timedelta(hours=2), clock.now, reason="known incident", created_by="ops")
    assert add(engine, store, article(1), classification(), clock.now) == 0
    assert add(engine, store, article(2), classification(entities=["Orange"]), clock.now) == 1
    assert store.query("SELECT silenced_by FROM alert_items ORDER BY id")[0][0] == sid
    assert [s.id for s in list_silences(store, clock.now)] == [sid]
    clock.advance(2 * 3600)  # expired by itself
    assert list_silences(store, clock.now) == []
    assert add(engine, store, article(3), classification(), clock.now) == 1
    sid2 = add_silence(store, {"category": ["fraud", "outage"]}, timedelta(hours=1), clock.now)
    assert add(engine, store, article(4), classification(), clock.now) == 0
    assert expire_silence(store, sid2, clock.now) is True
    assert expire_silence(store, sid2, clock.now) is False
    assert add(engine, store, article(5), classification(), clock.now) == 1


def test_health_alerts_use_the_normal_routes(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    rts = routes({"match": {"category": "source_health"}, "channels": ["h"], "group_wait": "0s"}, {"channels": ["c"]})
    engine = AlertEngine(channels({"h": hook(rx), "c": {"type": "console"}}), rts, delivery(), store)
    with store.transaction() as conn:
        n = engine.enqueue_health(conn, source_id="bbc", url="https://bbc.example/rss", status="failing",
                                  error="HTTP 503", errors=5, now=utcnow())
    assert n == 1
    assert engine.drain(5) == 0
    alert = rx.wait_for(1)[0].json()["alerts"][0]
    assert (alert["kind"], alert["source"], alert["status"], alert["errors"]) == ("source_health", "bbc", "failing", 5)


def test_no_channels_means_console(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = make_store(tmp_path)
    engine = AlertEngine({}, [], delivery(), store)
    add(engine, store, article(), classification())
    assert engine.drain(5) == 0
    assert "=== MoMo · fraud · Fraud warning: MoMo accounts targeted\n" in capsys.readouterr().out
    assert engine.stats() == {"console": {"sent": 1, "pending": 0, "dead": 0}}


# -- delivery that survives faults (real receivers, real threads) ----------------------------------------


def test_exactly_once_per_channel_after_receivers_recover(tmp_path: Path, rx: Receiver, rx2: Receiver) -> None:
    store = make_store(tmp_path)
    rx.script(Reply(500), DROP, Reply(503))
    rx2.script(Reply(502), Reply(500))
    rts = routes({"channels": ["h", "s"], "group_wait": "0s", "group_by": ["category", "source"]})
    engine = AlertEngine(channels({"h": hook(rx), "s": slack(rx2)}), rts, delivery(), store)
    for n, src in enumerate(["a", "b", "c", "d"]):
        add(engine, store, article(n, source=src), classification())
    assert engine.drain(10) == 0
    keys = [r.header("Idempotency-Key") for r in rx.succeeded()]
    assert len(keys) == 4 and len(set(keys)) == 4
    sources = sorted(r.json()["alerts"][0]["source"] for r in rx.succeeded())
    assert sources == ["a", "b", "c", "d"]
    assert sorted(r.json()["blocks"][-1]["elements"][0]["text"] for r in rx2.succeeded()) == [
        f"newsmon · category=fraud,source={s}" for s in "abcd"]
    # every failed attempt was retried with the key it had
    assert {r.header("Idempotency-Key") for r in rx.requests} == set(keys)
    assert engine.stats() == {"h": {"sent": 4, "pending": 0, "dead": 0}, "s": {"sent": 4, "pending": 0, "dead": 0}}


def test_unknown_outcome_is_retried_with_the_same_key(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    rx.script(HANG, Reply(200, ""))
    engine = AlertEngine(channels({"h": hook(rx, timeout="300ms")}), routes({"channels": ["h"]}), delivery(), store)
    add(engine, store, article(), classification())
    assert engine.drain(10) == 0
    first, second = rx.wait_for(2)
    assert first.answer == HANG and first.header("Idempotency-Key") == second.header("Idempotency-Key")
    assert first.body == second.body
    assert len(rx.succeeded()) == 1


def test_429_retry_after_pauses_that_channel_only(tmp_path: Path, rx: Receiver, rx2: Receiver) -> None:
    store = make_store(tmp_path)
    rx.script(Reply(429, "rate_limited", {"Retry-After": "1"}))
    rts = routes({"channels": ["s", "h"], "group_wait": "0s", "group_by": ["source"]})
    engine = AlertEngine(channels({"s": slack(rx), "h": hook(rx2)}), rts, delivery(), store)
    add(engine, store, article(1, source="a"), classification())
    add(engine, store, article(2, source="b"), classification())
    engine.start()
    try:
        rx2.wait_for(2, timeout=0.9)  # the other channel is not held up by the 429
        reqs = rx.wait_for(3, timeout=5)
    finally:
        engine.stop(5)
    assert reqs[1].at - reqs[0].at >= 0.95  # waited for Retry-After, not the 50ms backoff
    assert [r.json()["blocks"][-1]["elements"][0]["text"] for r in reqs[1:]] == [
        "newsmon · source=a", "newsmon · source=b"]
    assert engine.stats()["s"] == {"sent": 2, "pending": 0, "dead": 0}


def test_hanging_channel_never_delays_the_others(tmp_path: Path, rx: Receiver, rx2: Receiver) -> None:
    store = make_store(tmp_path)
    rx.default = HANG
    rts = routes({"channels": ["slow", "fast"], "group_wait": "0s", "group_by": ["source"]})
    engine = AlertEngine(channels({"slow": hook(rx, timeout="5s"), "fast": hook(rx2)}), rts, delivery(), store)
    for n, src in enumerate("abc"):
        add(engine, store, article(n, source=src), classification())
    engine.start()
    try:
        rx.wait_for(1)
        rx2.wait_for(3, timeout=2)  # all three delivered while "slow" is still hanging on its first
        assert len(rx.requests) == 1
        wait_until(lambda: engine.stats()["fast"]["sent"] == 3, what="fast channel marked sent")
    finally:
        rx.release()
        engine.stop(6)


def test_permanent_failure_goes_to_dead_letters_and_can_be_retried(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    rx.script(Reply(404, "no_service"))
    engine = AlertEngine(channels({"s": slack(rx)}), routes({"channels": ["s"], "group_wait": "0s"}), delivery(), store)
    add(engine, store, article(), classification())
    assert engine.drain(5) == 0
    (row,) = outbox_rows(store)
    assert (row["status"], row["attempts"]) == ("dead", 1)
    assert row["last_error"] == f"slack s: HTTP 404 Not Found from 127.0.0.1:{rx.port}: no_service"
    assert engine.stats()["s"] == {"sent": 0, "pending": 0, "dead": 1}
    assert retry(store, utcnow()) == 1
    assert engine.drain(5) == 0
    assert engine.stats()["s"] == {"sent": 1, "pending": 0, "dead": 0}
    assert rx.wait_for(2)[0].body == rx.wait_for(2)[1].body


def test_max_age_gives_up(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    rx.default = Reply(500, "down")
    engine = AlertEngine(channels({"h": hook(rx)}), routes({"channels": ["h"], "group_wait": "0s"}),
                         delivery(max_age="300ms"), store)
    add(engine, store, article(), classification())
    assert engine.drain(5) == 0
    (row,) = outbox_rows(store)
    assert row["status"] == "dead"
    assert row["last_error"] == (
        f"gave up after {row['attempts']} attempts: webhook h: HTTP 500 Internal Server Error from 127.0.0.1:{rx.port}: down")
    assert row["attempts"] >= 2


def test_restart_resumes_pending_without_resending_sent(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    rx.script(Reply(500))
    rts = routes({"channels": ["h"], "group_wait": "0s", "group_by": ["source"]})
    chans = channels({"h": hook(rx)})
    engine = AlertEngine(chans, rts, delivery(backoff_base="1h", backoff_max="1h"), store)
    add(engine, store, article(1, source="a"), classification())
    add(engine, store, article(2, source="b"), classification())
    assert engine.deliver_due() == 1  # "a" failed (retry in an hour), "b" sent
    store.close()

    store2 = make_store(tmp_path)  # a new process on the same file
    rows = outbox_rows(store2)
    assert [r["status"] for r in rows] == ["pending", "sent"]
    store2.conn.execute("UPDATE alert_outbox SET next_attempt_at = NULL WHERE status = 'pending'")  # hour passed
    engine2 = AlertEngine(chans, rts, delivery(), store2)
    assert engine2.drain(5) == 0
    reqs = rx.wait_for(3)
    assert len(reqs) == 3
    assert reqs[2].header("Idempotency-Key") == reqs[0].header("Idempotency-Key") != reqs[1].header("Idempotency-Key")
    assert engine2.stats()["h"] == {"sent": 2, "pending": 0, "dead": 0}


def test_restart_after_kill9_mid_send_takes_back_the_dead_process_lease(tmp_path: Path, rx: Receiver) -> None:
    import socket
    import subprocess
    import sys

    store = make_store(tmp_path)
    rts = routes({"channels": ["h"], "group_wait": "0s"})
    chans = channels({"h": hook(rx)})
    engine = AlertEngine(chans, rts, delivery(), store)
    add(engine, store, article(1), classification())
    # A process claimed the message, then died (kill -9) before recording the outcome: its lease would
    # hold the message for timeout + 30 s.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = f"{socket.gethostname()}:{int(dead.stdout)}"
    store.conn.execute("UPDATE alert_outbox SET lease_until = '2999-01-01T00:00:00.000000+00:00', lease_owner = ?,"
                       " attempts = 1", (owner,))
    assert engine.deliver_due() == 0, "leased to another process: not sent"
    assert engine.drain(5) == 0, "a new start takes the dead process's lease back and sends"
    (req,) = rx.wait_for(1)
    assert req.json()["alerts"][0]["url"] == article(1).url
    assert engine.stats()["h"] == {"sent": 1, "pending": 0, "dead": 0}


def test_a_live_process_lease_is_respected(tmp_path: Path, rx: Receiver) -> None:
    import os
    import socket

    store = make_store(tmp_path)
    engine = AlertEngine(channels({"h": hook(rx)}), routes({"channels": ["h"], "group_wait": "0s"}), delivery(), store)
    add(engine, store, article(1), classification())
    store.conn.execute("UPDATE alert_outbox SET lease_until = '2999-01-01T00:00:00.000000+00:00', lease_owner = ?",
                       (f"{socket.gethostname()}:{os.getppid()}",))  # our parent: alive, e.g. `crawl --once`
    assert engine.drain(0.5) == 1
    assert rx.requests == []


def test_drain_flushes_groups_still_waiting(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    engine = AlertEngine(channels({"h": hook(rx)}), routes({"channels": ["h"], "group_wait": "1h"}), delivery(), store)
    add(engine, store, article(1), classification(), story_id=1)
    add(engine, store, article(2, source="b"), classification(), story_id=1)
    assert engine.deliver_due() == 0
    assert engine.drain(5) == 0
    assert len(rx.wait_for(1)[0].json()["alerts"]) == 2


def test_drain_returns_what_is_still_pending(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    rx.default = Reply(500)
    engine = AlertEngine(channels({"h": hook(rx)}), routes({"channels": ["h"], "group_wait": "0s"}),
                         delivery(backoff_base="1h", backoff_max="1h"), store)
    add(engine, store, article(), classification())
    assert engine.drain(2) == 1  # the retry is due after the deadline: drain does not wait for it
    assert len(rx.requests) == 1


def test_rate_limit_spaces_messages(tmp_path: Path, rx: Receiver) -> None:
    store = make_store(tmp_path)
    rts = routes({"channels": ["s"], "group_wait": "0s", "group_by": ["source"]})
    engine = AlertEngine(channels({"s": slack(rx, rate_limit="5/s")}), rts, delivery(), store)
    for n, src in enumerate("abc"):
        add(engine, store, article(n, source=src), classification())
    assert engine.drain(5) == 0
    a, b, c = rx.wait_for(3)
    assert b.at - a.at >= 0.2 and c.at - b.at >= 0.2  # 5/s: 0.2s from the end of one send to the next
