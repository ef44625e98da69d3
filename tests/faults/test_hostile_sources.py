"""Hostile sources (issue 8): one real `newsmon crawl --once` polls one source per hostile case beside a
healthy source that publishes a matching story, against real HTTP servers on loopback.

Cases: truncated feed, sitemap and page copies (cut by the connection, and cut in the bytes); random bytes
served as RSS, as sitemap XML and as HTML; 200 MB bodies (declared and chunked) that DOWNLOAD_MAXSIZE
must cut; a gzip bomb (Content-Encoding, and a gzipped sitemap); billion laughs and a quadratic blowup;
external entities (file:// and http://) that must not be read; a sitemap index listing itself, and A->B->A;
a server that trickles a byte a second (cut by crawl.timeout); redirect loops; Slack control sequences and
CR LF in every field of a feed entry; a listing page whose article pages are all of the above.

What must hold: the crawl exits (code 1: sources failed) with no traceback and only JSON log lines on
stderr, no error line without its source; the healthy story is stored, classified and alerted on every
channel (console, webhook, Slack, email); each hostile source fails with the one error line its case
expects, naming the source and URL, or succeeds; no URL gets more than one line per source; nothing is
read through an entity; the crawl process stays under MAX_RSS_MB (600). Figures (peak RSS, seconds) are
printed (`pytest -s`) and recorded as test properties. NEWSMON_FAULTS_SCALE (tests/faults/hostile.py)
scales the random-byte seeds and the bomb.

The 100,000-entry feed and sitemap poll in a crawl of their own (test_a_flood_of_entries_is_bounded):
their parse takes longer than this crawl's short timeout. Two more tests keep fixed what spiders/base.py
once got wrong: a slow parse holding up other downloads, and the fan-out of a self-listing sitemap index.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from itertools import chain
from pathlib import Path

from tests.faults.hostile import (
    MAIL_HEADER,
    MAX_PER_POLL,
    MAX_SIZE,
    OUTAGE,
    SLACK_MENTION,
    TIMEOUT_S,
    Case,
    GiB,
    assert_healthy_alerted,
    assert_ran_to_the_end,
    big_feed,
    billion_laughs,
    crlf_story_item,
    cut,
    db_dump,
    db_rows,
    file_chunks,
    gzip_bomb,
    listing_html,
    quadratic_blowup,
    random_bytes,
    report,
    rss_doc,
    run_crawl,
    scale,
    serve_healthy,
    sitemap_index,
    slack_texts,
    source_entries,
    summary_notes,
    urlset_doc,
    write_config,
    zeros,
)
from tests.httpserver import LocalSite
from tests.receiver import Receiver
from tests.sitedata import STORIES, Story, article_html, news_sitemap, rss
from tests.smtpserver import SmtpServer

SCALE = scale()
HUGE = 200_000_000            # the 200 MB bodies
FLOOD = 100_000               # entries in the flood feed and sitemap
BOMB = GiB * min(SCALE, 10)   # gzip bomb: 1 GiB of zeros (~1 MB gzipped), 10 GiB at scale >= 10
SEEDS = range(SCALE)          # random-byte bodies per kind
MAX_SITEMAP_DEPTH = 3         # spiders/base.py: an index nested deeper is not followed
REDIRECT_MAX_TIMES = 5        # monitor/crawl.py scrapy_settings

_, FRAUD, PARK, RUMOR = STORIES
BROADBAND = Story(
    "broadband-outage", "en", "Broadband outage cuts internet for Vodafone customers across the north",
    ["Thousands of Vodafone broadband customers lost their internet connection on Wednesday evening after "
     "a network outage hit exchanges across the north of the country.",
     "The company said engineers were working to restore the service and apologised for the disruption."],
)

TRUNCATED = "truncated response (connection closed before the end of the body)"
TOO_LARGE = "response larger than crawl.max_size"


def starts(prefix: str) -> Callable[[str], bool]:
    return lambda note: note.startswith(prefix)


def redirect_loop(note: str) -> bool:
    """Stopped after REDIRECT_MAX_TIMES, however it is worded (now Scrapy's "max redirections reached")."""
    return "redirect" in note.lower()


def size_limit(note: str) -> bool:
    """Cut for size, however it is worded (Scrapy's decompression limit or newsmon's own note)."""
    return "max_size" in note or "DOWNLOAD_MAXSIZE" in note


def serve_hostile(site: LocalSite, tmp: Path, secret: Path) -> list[Case]:
    """Routes for every hostile case on `site`; returns the sources to configure."""
    b = site.base
    cases: list[Case] = []
    xml, rss_type, html = "application/xml", "application/rss+xml", "text/html; charset=utf-8"

    # Article pages the hostile feeds, sitemaps and listings link to (harmless stories).
    for s in (PARK, RUMOR):
        site.add(f"/news/{s.slug}.html", article_html(s))

    bomb = gzip_bomb(BOMB)
    bomb_size = bomb.stat().st_size
    assert bomb_size < MAX_SIZE, "the bomb must pass the download limit to reach decompression"
    dtd = f"<!ENTITY % remote SYSTEM \"{b}/xxe.dtd\"> %remote;"
    site.add("/xxe.dtd", b'<!ENTITY leaked "read through an external DTD">', content_type="application/xml-dtd")

    # -- feeds ----------------------------------------------------------------------------------
    site.add("/feed-truncated.xml", rss(b, [PARK]), content_type=rss_type, truncate=True)
    cases.append(Case("feed-truncated", "feed", "/feed-truncated.xml", TRUNCATED))
    site.add("/feed-cut.xml", cut(rss(b, [PARK, RUMOR])), content_type=rss_type)
    cases.append(Case("feed-cut", "feed", "/feed-cut.xml", None))
    for i in SEEDS:
        site.add(f"/feed-random-{i}.xml", random_bytes(1000 + i), content_type=rss_type)
        cases.append(Case(f"feed-random-{i}", "feed", f"/feed-random-{i}.xml", starts("malformed feed: ")))
    site.add("/feed-huge.xml", content_type=rss_type, stream=lambda: zeros(HUGE), length=HUGE)
    cases.append(Case("feed-huge", "feed", "/feed-huge.xml", TOO_LARGE))
    site.add("/feed-huge-chunked.xml", content_type=rss_type,
             stream=lambda: chain([b'<?xml version="1.0"?><rss version="2.0"><channel>'], zeros(HUGE)))
    cases.append(Case("feed-huge-chunked", "feed", "/feed-huge-chunked.xml", TOO_LARGE))
    site.add("/feed-gzip-bomb.xml", content_type=rss_type, headers={"Content-Encoding": "gzip"},
             stream=lambda: file_chunks(bomb), length=bomb_size)
    cases.append(Case("feed-gzip-bomb", "feed", "/feed-gzip-bomb.xml", size_limit))
    laughs = f"<!DOCTYPE rss [{billion_laughs()}]>"
    site.add("/feed-laughs.xml", rss_doc(b, [{"title": "Laughing &lol9;", "link": f"{b}/news/{PARK.slug}.html",
                                              "description": "&lol9;"}], doctype=laughs), content_type=rss_type)
    cases.append(Case("feed-laughs", "feed", "/feed-laughs.xml", None))
    quad = f"<!DOCTYPE rss [{quadratic_blowup()}]>"
    body = rss_doc(b, [{"title": "Big entity", "link": f"{b}/news/{RUMOR.slug}.html"}], doctype=quad)
    # Each reference padded so expat's guard (100x the input read so far) never trips: 12 MB of input
    # would expand to 1.1 GB of text (measured without the fix: 4.3 GB RSS, 12 s).
    body = body.replace(b"<description>hostile</description>",
                        b"<copyright>" + (b"&big;" + b" " * 700) * 17_000 + b"</copyright>")
    site.add("/feed-quadratic.xml", body, content_type=rss_type)
    cases.append(Case("feed-quadratic", "feed", "/feed-quadratic.xml", None))
    xxe = f'<!DOCTYPE rss [<!ENTITY passwd SYSTEM "file:///etc/passwd"><!ENTITY secret SYSTEM "{secret.as_uri()}">{dtd}]>'
    site.add("/feed-xxe.xml", rss_doc(b, [{"title": "Leak &passwd; &secret; &leaked;", "link": f"{b}/news/{PARK.slug}.html",
                                           "description": "&passwd; &secret; &leaked;"}], doctype=xxe), content_type=rss_type)
    cases.append(Case("feed-xxe", "feed", "/feed-xxe.xml", None))
    site.add("/feed-trickle.xml", content_type=rss_type, chunk_delay=1.0,
             stream=lambda: (bytes([c]) for c in rss(b, [PARK])))
    cases.append(Case("feed-trickle", "feed", "/feed-trickle.xml", "timed out"))
    site.add("/loop-a.xml", redirect="/loop-b.xml")
    site.add("/loop-b.xml", redirect="/loop-a.xml")
    cases.append(Case("feed-redirect-loop", "feed", "/loop-a.xml", redirect_loop,
                      error_path="/loop-a.xml|/loop-b.xml"))
    site.add("/loop-self.xml", redirect="/loop-self.xml")
    cases.append(Case("feed-redirect-self", "feed", "/loop-self.xml", redirect_loop))
    site.add("/feed-crlf.xml", rss_doc(b, [crlf_story_item(b, BROADBAND)]), content_type=rss_type)
    cases.append(Case("feed-crlf", "feed", "/feed-crlf.xml", None, extra=", fetch_articles: false"))

    # -- sitemaps -------------------------------------------------------------------------------
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0)
    smap = news_sitemap(b, [(f"/news/{PARK.slug}.html", now - timedelta(hours=1), PARK.title),
                            (f"/news/{RUMOR.slug}.html", now - timedelta(hours=2), RUMOR.title)])
    site.add("/sitemap-truncated.xml", smap, content_type=xml, truncate=True)
    cases.append(Case("sitemap-truncated", "sitemap", "/sitemap-truncated.xml", TRUNCATED))
    site.add("/sitemap-cut.xml", cut(smap), content_type=xml)
    cases.append(Case("sitemap-cut", "sitemap", "/sitemap-cut.xml", None))
    for i in SEEDS:
        site.add(f"/sitemap-random-{i}.xml", random_bytes(2000 + i), content_type=xml)
        cases.append(Case(f"sitemap-random-{i}", "sitemap", f"/sitemap-random-{i}.xml", starts("malformed sitemap: ")))
    refused = "malformed sitemap: XML entity declarations are not allowed in a sitemap (entity-expansion bomb?)"
    site.add("/sitemap-laughs.xml", urlset_doc([f"{b}/news/{PARK.slug}.html?&lol9;"],
                                               doctype=f"<!DOCTYPE urlset [{billion_laughs()}]>"), content_type=xml)
    cases.append(Case("sitemap-laughs", "sitemap", "/sitemap-laughs.xml", refused))
    xxe_sm = f'<!DOCTYPE urlset [<!ENTITY secret SYSTEM "{secret.as_uri()}">{dtd}]>'
    site.add("/sitemap-xxe.xml", urlset_doc([f"{b}/news/{PARK.slug}.html?&secret;"], doctype=xxe_sm), content_type=xml)
    cases.append(Case("sitemap-xxe", "sitemap", "/sitemap-xxe.xml", refused))
    late = "<!--" + "padding " * 10_000 + "-->" + xxe_sm  # the DOCTYPE beyond the first 64 KB
    site.add("/sitemap-xxe-late.xml", urlset_doc([f"{b}/news/{PARK.slug}.html?&secret;"], doctype=late), content_type=xml)
    cases.append(Case("sitemap-xxe-late", "sitemap", "/sitemap-xxe-late.xml", refused))
    site.add("/sitemap-bomb.xml.gz", content_type="application/x-gzip", stream=lambda: file_chunks(bomb),
             length=bomb_size)
    cases.append(Case("sitemap-gzip-bomb", "sitemap", "/sitemap-bomb.xml.gz",
                      "malformed sitemap: decompressed size exceeds 50 MiB"))
    site.add("/sitemap-self.xml", sitemap_index([f"{b}/sitemap-self.xml"]), content_type=xml)
    cases.append(Case("sitemap-self", "sitemap", "/sitemap-self.xml", None))
    site.add("/sitemap-a.xml", sitemap_index([f"{b}/sitemap-b.xml"]), content_type=xml)
    site.add("/sitemap-b.xml", sitemap_index([f"{b}/sitemap-a.xml"]), content_type=xml)
    cases.append(Case("sitemap-cycle", "sitemap", "/sitemap-a.xml", None))

    # -- listing pages --------------------------------------------------------------------------
    links = [(f"/news/{s.slug}.html", s.title) for s in (PARK, RUMOR)]
    listing = listing_html([(f"/2026/05/{s.slug}-full-story.html", s.title) for s in (PARK, RUMOR)])
    for s in (PARK, RUMOR):
        site.add(f"/2026/05/{s.slug}-full-story.html", article_html(s))
    site.add("/page-truncated/", listing, content_type=html, truncate=True)
    cases.append(Case("page-truncated", "page", "/page-truncated/", TRUNCATED))
    site.add("/page-cut/", cut(listing, 0.7), content_type=html)
    cases.append(Case("page-cut", "page", "/page-cut/", None))
    for i in SEEDS:
        site.add(f"/page-random-{i}/", random_bytes(3000 + i), content_type=html)
        cases.append(Case(f"page-random-{i}", "page", f"/page-random-{i}/", None))
    site.add("/page-huge/", content_type=html, stream=lambda: chain([listing], zeros(HUGE)))
    cases.append(Case("page-huge", "page", "/page-huge/", TOO_LARGE))
    site.add("/page-gzip-bomb/", content_type=html, headers={"Content-Encoding": "gzip"},
             stream=lambda: file_chunks(bomb), length=bomb_size)
    cases.append(Case("page-gzip-bomb", "page", "/page-gzip-bomb/", size_limit))
    site.add("/page-laughs/", b"<!DOCTYPE html [" + billion_laughs().encode() + b"]>" + listing + b"&lol9;",
             content_type=html)
    cases.append(Case("page-laughs", "page", "/page-laughs/", None))

    # A listing whose article pages are hostile: each fails (or yields no text) on its own.
    arts = {
        "truncated": dict(body=article_html(PARK), truncate=True),
        "cut": dict(body=cut(article_html(RUMOR), 0.5)),
        "random": dict(body=random_bytes(4000)),
        "laughs": dict(body=b"<!DOCTYPE html [" + billion_laughs().encode() + b"]><html><body><p>&lol9;</p></body></html>"),
        "xxe": dict(body=f"<!DOCTYPE html [<!ENTITY secret SYSTEM \"{secret.as_uri()}\">{dtd}]>"
                    "<html><body><article><p>&secret; &leaked;</p></article></body></html>".encode()),
        "huge": dict(stream=lambda: zeros(HUGE), length=HUGE),
        "bomb": dict(headers={"Content-Encoding": "gzip"}, stream=lambda: file_chunks(bomb), length=bomb_size),
        "trickle": dict(chunk_delay=1.0, stream=lambda: (bytes([c]) for c in article_html(PARK))),
        "loop": dict(redirect="/2026/05/hostile-loop-story.html"),
    }
    for name, kw in arts.items():
        site.add(f"/2026/05/hostile-{name}-story.html", content_type=html, **kw)  # type: ignore[arg-type]
    site.add("/page-hostile-articles/", listing_html(
        [(f"/2026/05/hostile-{name}-story.html", f"A hostile {name} article page for the crawler") for name in arts]
        + links), content_type=html)
    cases.append(Case("page-hostile-articles", "page", "/page-hostile-articles/", None))
    return cases


def test_hostile_sources_do_not_stop_the_healthy_one(tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    marker = f"XXE-SECRET-{uuid.uuid4().hex}"
    secret = tmp_path / "secret.txt"
    secret.write_text(marker, encoding="utf-8")
    passwd = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()[0]
    with LocalSite() as site, LocalSite("127.0.0.2") as healthy, Receiver() as rx, SmtpServer() as smtp:
        cases = serve_hostile(site, tmp_path, secret)
        story_url = serve_healthy(healthy)
        crawl = run_crawl(write_config(tmp_path, healthy, source_entries(site, cases), rx, smtp), tmp_path,
                          timeout=240)
        slacks = [r.body.decode("utf-8") for r in rx.requests if r.path == "/slack"]
        hooks = [r.body.decode("utf-8") for r in rx.requests if r.path == "/hook"]
        mails = list(smtp.messages)
        hits = {c.id: len(site.requests_under(c.path)) for c in cases}
        hits["sitemap-b"] = len(site.requests_to("/sitemap-b.xml"))
        hits["xxe.dtd"] = len(site.requests_to("/xxe.dtd"))
        hits["loop"] = len(site.requests_to("/loop-a.xml")) + len(site.requests_to("/loop-b.xml"))
    rows = summary_notes(crawl.stdout, ["healthy", *(c.id for c in cases)])
    report("hostile sources", crawl, rows, record_property)

    records = assert_ran_to_the_end(crawl, returncode=1)  # 1: some sources failed
    assert_healthy_alerted(tmp_path, crawl, rows, story_url, rx, channels=4)
    assert any(OUTAGE.title in str(m.message["Subject"]) for m in mails), "email alert"

    # Each hostile source: the error its case expects, logged once with source and URL, or none.
    by_source: dict[str, list[dict[str, object]]] = {}
    for r in records:
        if isinstance(r.get("source"), str):
            by_source.setdefault(str(r["source"]), []).append(r)
    problems = []
    for c in cases:
        new, seen, matched, alerts, errors, note = rows[c.id]
        errs = [r for r in by_source.get(c.id, []) if r["level"] == "error"]
        if c.expect is None:
            if errors != "0" or errs:
                problems.append(f"{c.id}: expected a successful poll, got errors={errors} note={note!r}")
            continue
        ok = note == c.expect if isinstance(c.expect, str) else c.expect(note)
        if errors != "1" or not ok:
            problems.append(f"{c.id}: expected error {c.expect if isinstance(c.expect, str) else '(check)'}, "
                            f"got errors={errors} note={note!r}")
        paths = (c.error_path or c.path).split("|")
        if len(errs) != 1 or errs[0].get("url") not in [site.url(p) for p in paths]:
            problems.append(f"{c.id}: expected one error line naming {paths}, got "
                            f"{[(r.get('url'), r.get('message')) for r in errs]}")
        elif not str(errs[0]["message"]).startswith(f"source {c.id}: {errs[0]['url']}: "):
            problems.append(f"{c.id}: error line does not name source and URL: {errs[0]['message']!r}")
    for sid, recs in by_source.items():
        lines = Counter(r.get("url") for r in recs if r["level"] in ("warning", "error"))
        if repeated := [u for u, n in lines.items() if n > 1]:
            problems.append(f"{sid}: more than one warning/error line for {repeated}")
    assert problems == [], "\n".join(problems)

    # Bounded work: cycles and loops end, nothing is read through an entity.
    assert hits["sitemap-self"] <= MAX_SITEMAP_DEPTH + 1, hits
    assert hits["sitemap-cycle"] + hits["sitemap-b"] <= MAX_SITEMAP_DEPTH + 1, hits
    assert hits["loop"] <= REDIRECT_MAX_TIMES + 1 and hits["feed-redirect-self"] <= REDIRECT_MAX_TIMES + 1, hits
    assert hits["xxe.dtd"] == 0, "an external DTD was fetched"
    everything = "\n".join([db_dump(tmp_path), crawl.stdout, crawl.stderr, *slacks, *hooks,
                            *(m.raw.decode("utf-8", "replace") for m in mails)])
    for leaked in (marker, passwd, "read through an external DTD"):
        assert leaked not in everything, f"read through an entity: {leaked[:40]!r}"

    # Control sequences in every field: stored and alerted, inert on every channel.
    ((title,),) = db_rows(tmp_path, "SELECT title FROM articles WHERE source_id = 'feed-crlf'")
    assert BROADBAND.title in title
    assert rows["feed-crlf"][2] == "1", "the CR LF story is classified"
    crlf_slack = [s for s in slacks if "Vodafone" in s]
    assert crlf_slack, "Slack alert for the CR LF story"
    for s in crlf_slack:
        for kind, text in slack_texts(json.loads(s)):
            if kind == "mrkdwn":  # parsed by Slack: mentions and links must arrive escaped
                assert SLACK_MENTION not in text and "<http://evil.example" not in text, text
            assert not re.search(r"<[!@#]", text), (kind, text)  # plain_text: no mention-shaped start either
    crlf_mail = [m for m in mails if "Vodafone" in str(m.message["Subject"])]
    assert crlf_mail, "email alert for the CR LF story"
    for m in crlf_mail:
        headers = m.raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        assert m.message["Bcc"] is None and not re.search(r"(?im)^bcc:", headers), headers
        assert m.rcpt_tos == ["ops@example.com"]
    console = crawl.stdout[crawl.stdout.find("=== "):]
    assert "\r" not in console and f"\n{MAIL_HEADER}" not in console


def test_a_flood_of_entries_is_bounded(tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """100,000 entries in a feed and in a sitemap: at most max_articles_per_poll pages fetched each. A
    crawl of its own: the feed's parse holds the Twisted reactor for ~12 s (feedparser reads every
    entry), longer than the hostile crawl's short timeout."""
    with LocalSite() as site, LocalSite("127.0.0.2") as healthy, Receiver() as rx:
        story_url = serve_healthy(healthy)
        site.add("/big/", b"<html><body><article><h1>Filler</h1><p>Nothing to see.</p></article></body></html>",
                 prefix=True)
        site.add("/feed-flood.xml", big_feed(site.base, FLOOD), content_type="application/rss+xml")
        site.add("/bigmap/", b"<html><body><p>filler</p></body></html>", prefix=True)
        site.add("/sitemap-flood.xml", urlset_doc([site.url(f"/bigmap/{n}.html") for n in range(FLOOD)]),
                 content_type="application/xml")
        cases = [Case("feed-flood", "feed", "/feed-flood.xml", None),
                 Case("sitemap-flood", "sitemap", "/sitemap-flood.xml", None)]
        crawl = run_crawl(write_config(tmp_path, healthy, source_entries(site, cases), rx, timeout=60), tmp_path,
                          timeout=240)
        pages = {"feed-flood": len(site.requests_under("/big/")), "sitemap-flood": len(site.requests_under("/bigmap/"))}
    rows = summary_notes(crawl.stdout, ["healthy", "feed-flood", "sitemap-flood"])
    report("flood", crawl, rows, record_property)
    assert_ran_to_the_end(crawl, returncode=0)
    assert_healthy_alerted(tmp_path, crawl, rows, story_url, rx, channels=3)
    for sid, fetched in pages.items():
        assert 0 < fetched <= MAX_PER_POLL, pages
        assert rows[sid][4] == "0", rows[sid]
    stored = db_rows(tmp_path, "SELECT source_id, count(*) FROM articles GROUP BY source_id ORDER BY source_id")
    assert all(n <= MAX_PER_POLL for _, n in stored), stored


def test_a_slow_parse_does_not_time_out_other_downloads(tmp_path: Path) -> None:
    with LocalSite() as site, LocalSite("127.0.0.2") as healthy, Receiver() as rx:
        story_url = healthy.url(f"/news/{OUTAGE.slug}.html")
        feed = rss(healthy.base, [OUTAGE], summary=True).replace(
            b"</description>", b" " + b"Background. " * 150_000 + b"</description>")  # ~1.8 MB: several reads
        healthy.add(f"/news/{OUTAGE.slug}.html", article_html(OUTAGE))
        healthy.add("/feed.xml", content_type="application/rss+xml", chunk_delay=0.05,
                    stream=lambda: (feed[i : i + 64 * 1024] for i in range(0, len(feed), 64 * 1024)))
        site.add("/big/", b"<html><body><p>filler</p></body></html>", prefix=True)
        site.add("/feed-flood.xml", big_feed(site.base, 40_000), content_type="application/rss+xml")
        crawl = run_crawl(write_config(tmp_path, healthy, source_entries(
            site, [Case("feed-flood", "feed", "/feed-flood.xml", None)]), rx, timeout=3), tmp_path, timeout=120)
    rows = summary_notes(crawl.stdout, ["healthy", "feed-flood"])
    assert rows["healthy"][4:] == ["0", ""], rows["healthy"]
    assert db_rows(tmp_path, "SELECT count(*) FROM articles WHERE url = ?", story_url) == [(1,)]


def test_sitemap_index_fan_out_is_fetched_once_per_url(tmp_path: Path) -> None:
    fan_out = 6
    with LocalSite() as site:
        site.add("/index.xml", sitemap_index([site.url(f"/index.xml?copy={n}") for n in range(fan_out)]),
                 content_type="application/xml")
        cfg = tmp_path / "config.yaml"
        cfg.write_text(f"""\
store: {{path: test.db}}
log: {{format: json}}
crawl: {{delay: 0s, timeout: {TIMEOUT_S}s, retries: 0, concurrency: 16, per_domain: 16}}
sources:
  - {{id: fan-out, type: sitemap, url: '{site.url("/index.xml")}'}}
""", encoding="utf-8")
        crawl = run_crawl(cfg, tmp_path, timeout=120)
        fetched = len(site.requests_under("/index.xml"))
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    assert fetched <= fan_out + 1, f"{fetched} fetches of one sitemap index"
