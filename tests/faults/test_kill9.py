"""kill -9 torture (issue 8): the daemon is killed at random moments (mid-fetch, mid-store, mid-send)
while stories keep arriving on a local news site; then it runs until quiet. Every matching story must be
delivered to the webhook (at least once per article; a story is delivered twice only when a send was cut
by a kill), none lost, and the database must pass integrity_check.

Short form in `make test` (NEWSMON_FAULTS_KILLS=5 kills, 8 stories by default); `make faults` runs 50
kills over 30 stories. Seeded by NEWSMON_FAULTS_SEED (printed) so a failure can be replayed.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

from tests.conftest import wait_until
from tests.httpserver import LocalSite
from tests.receiver import Receiver
from tests.sitedata import Story, article_html, rss
from tests.test_daemon import DaemonProcess, alerted_urls, free_port, write_config

KILLS = int(os.environ.get("NEWSMON_FAULTS_KILLS", "5"))
STORY_COUNT = int(os.environ.get("NEWSMON_FAULTS_STORIES", "8"))
SEED = int(os.environ.get("NEWSMON_FAULTS_SEED", str(int(time.time()))))

PLACES = ["Adelaide", "Bergen", "Cordoba", "Da Nang", "Essen", "Fukuoka", "Gdansk", "Haifa", "Izmir", "Jaipur",
          "Kaunas", "Leeds", "Malaga", "Nantes", "Oulu", "Porto", "Quito", "Recife", "Split", "Tartu",
          "Utrecht", "Varna", "Wroclaw", "Xalapa", "York", "Zadar", "Aarhus", "Basel", "Cork", "Delft"]


# Details that make each incident its own story, not a near-copy of the one before (copies never alert)
DETAILS = [
    "A spokeswoman for the city council said schools would stay open but asked parents to check messages.",
    "Shop owners in the old town complained that they had to turn customers away for most of the afternoon.",
    "The regional consumer office opened a hotline and said it had received more than a hundred calls.",
    "Local radio interrupted its programme twice to read out advice from the emergency services.",
    "Hospitals switched to backup systems and reported no disruption to patient care, officials said.",
    "A member of the regional parliament demanded an inquiry and compensation for small businesses.",
    "Commuters at the central station queued at ticket machines that accepted only cash for hours.",
    "The mayor wrote on social media that the situation was under control and thanked volunteers.",
    "Students at the university library lost unsaved work and exams were postponed until Friday.",
    "Taxi drivers said their payment terminals failed and many rides could only be paid in cash.",
    "Pensioners queued outside the post office, where staff handed out printed leaflets all morning.",
    "A local newspaper counted dozens of complaints from readers in the suburbs by early evening.",
    "Farmers outside town said milking robots and feed pumps stopped until generators were brought in.",
    "The football club postponed its evening training because the floodlight booking system was down.",
    "Two tourist coaches waited at the border crossing while officers checked papers by hand.",
    "Bakeries reported that their card readers froze and that regular customers promised to pay later.",
    "An insurance broker advised residents to keep receipts for anything they had to replace.",
    "Volunteers from the fire brigade checked on elderly neighbours who live alone in the hills.",
]




def _picks(count: int = 60) -> list[tuple[int, ...]]:
    """Six details per incident, each set sharing as few as possible with the earlier ones of its kind."""
    chosen: list[tuple[int, ...]] = []
    for n in range(count):
        same_kind = [set(c) for c in chosen[n % 2::2]]
        chosen.append(min(itertools.combinations(range(len(DETAILS)), 6),
                          key=lambda c: max((len(set(c) & p) for p in same_kind), default=0)))
    return chosen


_PICKS = _picks()


def incident(n: int) -> Story:
    """A distinct matching story: outages and fraud warnings in turn, each about another place."""
    place = PLACES[n % len(PLACES)]
    picks = _PICKS[n % len(_PICKS)]
    details = " ".join(DETAILS[k] for k in picks)
    if n % 2 == 0:
        return Story(f"outage-{n}", "en", f"Power cut and broadband outage hit {place} for {n + 2} hours", [
            f"Residents of {place} were left without internet access and mobile data for {n + 2} hours on "
            "Tuesday after a broadband outage caused by a fault at a regional exchange.",
            f"The provider said the service outage affected about {1000 * (n + 3)} customers, that engineers "
            "had restored service by the evening and that card payments in shops had failed meanwhile.",
            details,
        ])
    return Story(f"fraud-{n}", "en", f"Police in {place} warn of phishing texts posing as parcel services", [
        f"Police in {place} warned on Monday of a wave of phishing text messages in which scammers pose as "
        "parcel delivery companies and ask for card details to release a package.",
        f"Officers said {n + 4} residents had reported losses this week and urged people never to enter "
        "bank details on links received by text. Victims of the scam should call their bank at once.",
        details,
    ])


def test_kill9_at_random_moments_loses_no_story(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    stories = [incident(n) for n in range(STORY_COUNT)]
    published: list[Story] = []
    port = free_port()
    with LocalSite() as site, Receiver() as receiver:
        def publish_next() -> None:
            story = stories[len(published)]
            # Pages answer after a random delay, so kills land mid-fetch as well as mid-store.
            site.add(f"/news/{story.slug}.html", article_html(story), delay=rng.uniform(0, 0.5))
            published.append(story)
            site.add("/feed.xml", rss(site.base, published), content_type="application/rss+xml")

        publish_next()
        cfg = write_config(tmp_path, site, receiver, port)
        stop = threading.Event()

        def publisher() -> None:
            while len(published) < len(stories) and not stop.wait(rng.uniform(0.5, 2.5)):
                publish_next()

        thread = threading.Thread(target=publisher, daemon=True)
        thread.start()
        started = time.monotonic()
        try:
            for _ in range(KILLS):
                daemon = DaemonProcess(cfg)
                time.sleep(rng.uniform(0.5, 4.0))
                daemon.stop(signal.SIGKILL)
            stop.set()
            thread.join(10)
            while len(published) < len(stories):
                publish_next()
            daemon = DaemonProcess(cfg)
            try:
                daemon.wait_for_line("newsmon running")
                want = {site.url(f"/news/{s.slug}.html") for s in stories}
                wait_until(lambda: want <= set(alerted_urls(receiver)), 90,
                           f"every story delivered (seed {SEED}): missing "
                           f"{sorted(want - set(alerted_urls(receiver)))}")
            finally:
                assert daemon.stop() == 0, daemon.output[-3000:]
        finally:
            stop.set()
        elapsed = time.monotonic() - started
    sent = Counter(alerted_urls(receiver))
    duplicates = sum(n - 1 for n in sent.values())
    print(f"\nkill -9 torture (seed {SEED}): {KILLS} kills, {len(stories)} stories, all delivered; "
          f"{duplicates} delivered twice; {elapsed:.0f}s")
    assert set(sent) == want, "only the published stories were alerted"
    assert duplicates <= KILLS, f"{duplicates} duplicates from {KILLS} kills: more than one per interrupted send"
    keys = Counter(r.header("Idempotency-Key") for r in receiver.succeeded())
    assert all(keys.values()), "every delivery carries an idempotency key"
    with sqlite3.connect(tmp_path / "daemon.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM pending_articles").fetchall() == [(0,)]
