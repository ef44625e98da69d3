"""`newsmon crawl --once` tells what became of the messages it queued, per channel: sent, still pending
(retrying when, last error) or dead (why), and exits 1 unless every one was delivered. Real crawls (a
subprocess each) of a real local news site, delivering to a real local HTTP receiver."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_newsmon
from tests.httpserver import LocalSite
from tests.receiver import Receiver, Reply
from tests.sitedata import STORIES, article_html, rss
from tests.test_crawl import config, rows

ALERTING = [s for s in STORIES if s.slug != "park-budget"]  # the three stories that alert


def serve(site: LocalSite, stories: list) -> None:
    for s in STORIES:
        site.add(f"/news/{s.slug}.html", article_html(s))
    site.add("/feed.xml", rss(site.base, stories), content_type="application/rss+xml")


def channel(rx: Receiver, kind: str = "slack", extra: str = "") -> str:
    return (f"channels:\n  ops-slack: {{type: {kind}, url: '{rx.url}/services/T0/B0/xyz', rate_limit: none}}\n"
            f"delivery: {{drain_timeout: 5s, backoff_base: 1h{extra}}}\n")


def alert_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("alerts: ")]


def test_dead_letters_are_reported_per_channel_and_fail_the_run(tmp_path: Path) -> None:
    with LocalSite() as site, Receiver(default=Reply(404, "channel_not_found")) as rx:
        serve(site, STORIES)
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n", extra=channel(rx))
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(rx.requests) == 3, "one message per alerting story, each tried once (a 404 is permanent)"
    assert alert_lines(result.stdout) == [
        f"alerts: ops-slack 0 sent, 3 dead (slack ops-slack: HTTP 404 Not Found from 127.0.0.1:{rx.port}: "
        "channel_not_found)",
        "alerts: 3 of 3 messages not delivered (dead letters: newsmon alerts list --dead, then newsmon alerts "
        "retry --all-dead)",
    ]
    assert "all delivered" not in result.stdout
    assert rows(tmp_path, "SELECT status, count(*) FROM alert_outbox GROUP BY status") == [("dead", 3)]


def test_only_this_runs_messages_count_and_older_dead_letters_get_one_line(tmp_path: Path) -> None:
    with LocalSite() as site, Receiver(default=Reply(404, "channel_not_found")) as rx:
        serve(site, ALERTING[:2])
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n", extra=channel(rx))
        first = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert first.returncode == 1 and "2 dead" in first.stdout, first.stdout

        rx.default = Reply(200, "ok")  # the webhook is fixed; one more story arrives
        serve(site, ALERTING)
        second = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
        assert second.returncode == 0, second.stdout + second.stderr
        assert alert_lines(second.stdout) == [
            "alerts: all delivered (1 message to ops-slack)",
            "alerts: 2 older dead letters: newsmon alerts list --dead",
        ]
        assert len(rx.succeeded()) == 1

        third = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)  # 304: nothing new
        assert third.returncode == 0, third.stdout + third.stderr
        assert alert_lines(third.stdout) == ["alerts: none queued by this run",
                                             "alerts: 2 older dead letters: newsmon alerts list --dead"]


def test_messages_still_retrying_are_pending_and_fail_the_run(tmp_path: Path) -> None:
    with LocalSite() as site, Receiver(default=Reply(503, "try later")) as rx:
        serve(site, ALERTING[:1])
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n",
                     extra=channel(rx, kind="webhook"))
        result = run_newsmon("crawl", "--once", "-c", str(cfg), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    (line, total) = alert_lines(result.stdout)
    assert line.startswith("alerts: ops-slack 0 sent, 1 pending (retrying from 20"), line
    assert line.endswith(f" UTC: webhook ops-slack: HTTP 503 Service Unavailable from 127.0.0.1:{rx.port}: "
                         "try later)"), line
    assert total == ("alerts: 1 of 1 message not delivered (pending ones are sent by newsmon run or the next "
                     "crawl --once)")
    (next_try,), = rows(tmp_path, "SELECT next_attempt_at FROM alert_outbox WHERE status = 'pending'")
    assert next_try[:10] in line


def test_no_alerts_prints_no_delivery_line_and_unknown_sources_get_a_suggestion(tmp_path: Path) -> None:
    cfg = config(tmp_path, "  - {id: nopa, type: feed, url: 'http://127.0.0.1:9/feed.xml'}\n"
                           "  - {id: smap, type: sitemap, url: 'http://127.0.0.1:9/sitemap.xml'}\n")
    bad = run_newsmon("crawl", "--once", "-c", str(cfg), "--source", "nope", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == ['newsmon crawl: unknown source "nope" (did you mean "nopa"?; '
                                       'known sources: nopa, smap)']
    assert not (tmp_path / "test.db").exists(), "nothing opened for a typo"
    with LocalSite() as site:
        serve(site, ALERTING[:1])
        cfg = config(tmp_path, f"  - {{id: test-feed, type: feed, url: '{site.url('/feed.xml')}'}}\n")
        quiet = run_newsmon("crawl", "--once", "--no-alerts", "-c", str(cfg), cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert alert_lines(quiet.stdout) == []
    assert rows(tmp_path, "SELECT count(*) FROM articles") == [(1,)], "--no-alerts stores (marks as seen)"
    assert rows(tmp_path, "SELECT count(*) FROM alert_outbox") == [(0,)]
