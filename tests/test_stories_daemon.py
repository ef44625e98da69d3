"""Stories end to end: a real `newsmon run` polls feeds of several outlets on a local site and posts to a
real webhook receiver, a real Slack-shaped receiver and a real SMTP server, all on 127.0.0.1. The test
publishes a sequence of reports and asserts the stories formed and the messages each channel received:
a wire story copied by two more outlets (one alert); one outage reported in three languages (one story,
an update); the company then denying rumours (an update with a new category); another company down the
same day and one company down a week apart (separate stories)."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

from tests.conftest import wait_until
from tests.httpserver import LocalSite
from tests.receiver import Receiver
from tests.sitedata import Story, article_html, rss
from tests.smtpserver import SmtpServer
from tests.storydata import (
    OPTUS_DE,
    OPTUS_DENIES,
    OPTUS_EN,
    OPTUS_VI,
    TELSTRA,
    VODAFONE_NEW,
    VODAFONE_OLD,
    WIRE,
    WIRE_COPY_1,
    WIRE_COPY_2,
)
from tests.test_daemon import DaemonProcess, free_port

OUTLETS = ["wire", "daily", "portal", "news"]


def config(tmp: Path, site: LocalSite, hook: Receiver, chat: Receiver, smtp: SmtpServer) -> Path:
    path = tmp / "config.yaml"
    sources = "".join(f"  - {{id: {o}, type: feed, url: '{site.url(f'/{o}.xml')}', interval: 1s}}\n" for o in OUTLETS)
    path.write_text(f"""\
store: {{path: daemon.db}}
server: {{listen: "127.0.0.1:{free_port()}"}}
crawl: {{delay: 0s, timeout: 10s, retries: 0, shutdown_grace: 5s, max_age: 30d}}
channels:
  hook: {{type: webhook, url: "{hook.url}/hook"}}
  chat: {{type: slack, url: "{chat.url}/services/T/B/X", rate_limit: none}}
  mail: {{type: email, host: 127.0.0.1, port: {smtp.port}, security: none, from: alerts@newsmon.example,
          to: [oncall@newsmon.example]}}
delivery: {{backoff_base: 0.2s, backoff_max: 1s}}
routes:
  - channels: [hook, chat, mail]
    group_by: [story]
    group_wait: 0s
    group_interval: 3s
    timezone: Asia/Ho_Chi_Minh
sources:
{sources}""", encoding="utf-8")
    return path


def publish(site: LocalSite, outlet: str, stories: list[Story]) -> None:
    for s in stories:
        site.add(f"/news/{s.slug}.html", article_html(s))
    site.add(f"/{outlet}.xml", rss(site.base, stories), content_type="application/rss+xml")


def db(tmp: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp / "daemon.db") as conn:
        return conn.execute(sql).fetchall()


def stored(tmp: Path, *stories: Story) -> bool:
    slugs = {s.slug for s in stories}
    try:
        urls = {u for (u,) in db(tmp, "SELECT url FROM articles")}
    except sqlite3.OperationalError:
        return False
    return all(any(f"/news/{slug}.html" in u for u in urls) for slug in slugs)


def events(hook: Receiver) -> list[tuple]:
    out = []
    for r in hook.succeeded():
        m = r.json()
        story = m["story"]
        out.append((m["event"], m["seq"], story["id"], story["categories"], story["sources"], story["languages"],
                    sorted(a["url"].rsplit("/", 1)[1] for a in m["alerts"])))
    return out


def test_stories_across_outlets_and_languages(tmp_path: Path) -> None:
    with LocalSite() as site, Receiver() as hook, Receiver() as chat, SmtpServer() as smtp:
        for o in OUTLETS:
            publish(site, o, [])
        daemon = DaemonProcess(config(tmp_path, site, hook, chat, smtp))
        try:
            daemon.wait_for_line("newsmon running: 4 sources")
            # 1. a wire story, then two outlets running it with small edits: one story, one alert
            publish(site, "wire", [WIRE])
            wait_until(lambda: len(hook.succeeded()) == 1, 30, "the wire story's alert")
            publish(site, "daily", [WIRE_COPY_1])
            publish(site, "portal", [WIRE_COPY_2])
            wait_until(lambda: stored(tmp_path, WIRE_COPY_1, WIRE_COPY_2), 30, "the copies stored")
            assert db(tmp_path, "SELECT source_id, story_id, copy_of FROM articles ORDER BY source_id") == [
                ("daily", 1, 1), ("portal", 1, 1), ("wire", 1, None)]
            # 2. one outage in three languages: the first report alerts, the other two make one update
            publish(site, "news", [OPTUS_EN])
            wait_until(lambda: len(hook.succeeded()) == 2, 30, "the Optus story's first alert")
            publish(site, "news", [OPTUS_EN, OPTUS_DE, OPTUS_VI])
            wait_until(lambda: len(hook.succeeded()) == 3, 30, "the Optus update")
            # 3. the company denies the rumours: an update that adds a category
            publish(site, "daily", [WIRE_COPY_1, OPTUS_DENIES])
            wait_until(lambda: len(hook.succeeded()) == 4, 30, "the denial's update")
            # 4. another company the same day, and one company down last week and again today
            publish(site, "portal", [WIRE_COPY_2, TELSTRA, VODAFONE_OLD, VODAFONE_NEW])
            wait_until(lambda: len(hook.succeeded()) == 7, 30, "three more stories")
            wait_until(lambda: len(chat.succeeded()) == 7 and len(smtp.messages) == 7, 30, "every channel")
        finally:
            assert daemon.stop(signal.SIGTERM) == 0, daemon.output[-3000:]

    sent = events(hook)
    assert sent[:4] == [
        ("story.created", 0, 1, ["outage"], ["wire"], ["en"], ["payflux-outage.html"]),
        ("story.created", 0, 2, ["outage"], ["news"], ["en"], ["optus-outage.html"]),
        ("story.updated", 1, 2, ["outage"], ["news"], ["en", "de", "vi"], ["optus-stoerung.html", "optus-su-co.html"]),
        ("story.updated", 2, 2, ["outage", "rumor"], ["news", "daily"], ["en", "de", "vi"], ["optus-denies.html"]),
    ]
    # three stories (numbered in the order the feed's entries were processed)
    assert sorted(e[:2] + e[3:] for e in sent[4:]) == [
        ("story.created", 0, ["outage"], ["portal"], ["en"], [page]) for page in
        ("telstra-outage.html", "vodafone-outage-again.html", "vodafone-outage-last-week.html")]
    assert sorted(e[2] for e in sent[4:]) == [3, 4, 5]
    denial = hook.succeeded()[3].json()
    assert denial["story"]["new_categories"] == ["rumor"]
    assert [a["category"] for a in denial["alerts"]] == ["rumor"]
    stories = db(tmp_path, "SELECT id, entities, sources, languages, articles FROM stories ORDER BY id")
    assert stories[0][:2] == (1, "[]") and stories[0][3:] == ('["en"]', 3)
    assert json.loads(stories[0][2])[0] == "wire" and sorted(json.loads(stories[0][2])) == ["daily", "portal", "wire"]
    assert stories[1:2] == [
                           (2, '["Optus"]', '["news", "daily"]', '["en", "de", "vi"]', 4)]
    assert len(stories) == 5

    # what people read: the same story in each channel, threaded in email
    mails = [m.message for m in smtp.messages]
    optus = [m for m in mails if "Optus" in m["Subject"]]
    assert [m["Subject"] for m in optus] == [
        f"[newsmon] Story #2 · Optus · outage · {OPTUS_EN.title}",
        "[newsmon] Story #2 · Update 1 · Optus · outage · 1 source (en, de, vi)",
        "[newsmon] Story #2 · Update 2 · Optus · outage, rumors denied · 2 sources (en, de, vi)",
    ]
    root = optus[0]["Message-ID"]
    assert [(m["In-Reply-To"], m["References"]) for m in optus] == [(None, None), (root, root), (root, root)]
    assert all(len(m["Subject"]) <= 120 for m in mails)
    update_text = optus[2].get_body(("plain",)).get_content()
    assert "New category: rumors denied (a company or authority denies a rumor or fake news)" in update_text
    headers = [next(b for b in r.json()["blocks"] if b["type"] == "header")["text"]["text"] for r in chat.succeeded()]
    assert headers[1] == f"Optus · outage · {OPTUS_EN.title}"
    assert all(len(h) <= 150 for h in headers)
    webhook_times = {a["published"] for r in hook.succeeded() for a in r.json()["alerts"]}
    assert webhook_times and all(t.endswith("+00:00") for t in webhook_times), "machines get UTC"
    slack_text = json.dumps(chat.succeeded()[1].json(), ensure_ascii=False)
    assert "+07" in slack_text, "people get the route's timezone"
