"""Real-world files cut short: every feed, sitemap and page of ../shared/corpus (MANIFEST.tsv), cut in
the bytes and served as if complete by a local site, polled in one real `newsmon crawl --once` beside
the healthy source. Marked `conformance`: run by `make conformance`, deselected by `make test`. The cut is at
1/2; NEWSMON_FAULTS_SCALE=N cuts each file at N points.

Sources: each feed (fetch_articles: false: its entries' links point at the publishers' hosts); each
sitemap, gzipped ones re-gzipped before the cut; each page as an article behind a local listing, and
the home pages among them as listings too. Nothing leaves loopback: every absolute URL in a sitemap is
rewritten to the local site, listings follow same-site links only, and before the crawl the project's
own parsers confirm that every URL the spider could follow is local. Unrouted paths get a small article.

What must hold: as for the generated hostile sources (test_hostile_sources.py): no traceback, only
JSON log lines, no error without its source, at most one error per source and it names the source and
URL and says what was malformed, at most one line per URL, the healthy story alerted, bounded memory.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.listing import find_article_links
from monitor.sitemaps import parse_sitemap
from tests.conftest import CORPUS
from tests.faults.hostile import (
    Case,
    assert_healthy_alerted,
    assert_ran_to_the_end,
    cut,
    listing_html,
    report,
    run_crawl,
    scale,
    serve_healthy,
    source_entries,
    summary_notes,
    write_config,
)
from tests.httpserver import LocalSite
from tests.receiver import Receiver

FRACTIONS = [k / (scale() + 1) for k in range(1, scale() + 1)]  # 1/2; at scale N: 1/(N+1) ... N/(N+1)
MAX_PER_POLL = 100            # a listing of the 76 trafilatura pages is followed whole
# A poll of a cut file may fail only because the document is malformed, never for another reason.
ALLOWED_ERRORS = ("malformed feed: ", "malformed sitemap: ")
_HOST = re.compile(rb"(?:https?:)?//[^/\s<>\"'\]\[]+")


def corpus(kind: str) -> list[Path]:
    lines = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [CORPUS / cols[0] for cols in (line.split("\t") for line in lines) if len(cols) > 1 and cols[1] == kind]


def localise(body: bytes, base: str) -> bytes:
    """Every absolute (and scheme-relative) URL pointed at `base`; gzip kept as gzip."""
    if body[:2] == b"\x1f\x8b":
        return gzip.compress(localise(gzip.decompress(body), base), mtime=0)
    return _HOST.sub(base.encode(), body)


def assert_local(urls: list[str], base: str, what: str) -> None:
    outside = [u for u in urls if not u.startswith(base + "/") and u != base]
    assert outside == [], f"{what} would send the crawl off loopback: {outside[:3]}"


def serve_corpus(site: LocalSite) -> list[Case]:
    b = site.base
    now = datetime.now(timezone.utc)
    site.add("/robots.txt", b"", status=404)
    site.add("/", b"<html><body><article><h1>A placeholder article</h1><p>This page stands in for every "
                  b"link of the corpus files that points at a page of the local site.</p></article></body></html>",
             prefix=True)
    cases: list[Case] = []
    for n, path in enumerate(corpus("feed")):
        for k, fraction in enumerate(FRACTIONS):
            site.add(f"/corpus/feed/{n}/{k}.xml", cut(path.read_bytes(), fraction), content_type="application/xml")
            cases.append(Case(f"feed-{n}-{k}", "feed", f"/corpus/feed/{n}/{k}.xml", None,
                              extra=", fetch_articles: false"))
    for n, path in enumerate(corpus("sitemap")):
        body = localise(path.read_bytes(), b)
        for k, fraction in enumerate(FRACTIONS):
            route = f"/corpus/sitemap/{n}/{k}/{path.name}"
            served = cut(body, fraction)
            if ".txt" in path.name:
                # A text sitemap cut inside a URL would end in a URL to another host ("http://12"): cut
                # the text at the line before; a gzipped one loses its gzip trailer as well.
                text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
                served = cut(text, fraction)
                served = served[: served.rfind(b"\n") + 1]
                if body[:2] == b"\x1f\x8b":
                    served = gzip.compress(served, mtime=0)[:-4]
            parsed = parse_sitemap(served, site.url(route), now=now, max_age=timedelta(days=3650))
            assert_local([e.url for e in parsed.entries] + parsed.sitemaps, b, str(path))
            site.add(route, served, content_type="text/plain" if ".txt" in path.name else "application/xml")
            cases.append(Case(f"sitemap-{n}-{k}", "sitemap", route, None, extra=", max_age: 3650d"))
    pages = corpus("page")
    for k, fraction in enumerate(FRACTIONS):
        by_folder: dict[str, list[tuple[str, str]]] = {}
        for n, path in enumerate(pages):
            folder = path.relative_to(CORPUS).parts[1]
            route = f"/corpus/2026/05/{folder}-{n}-{k}-real-world-page-cut-short.html"
            site.add(route, cut(path.read_bytes(), fraction), content_type="text/html")
            by_folder.setdefault(folder, []).append((route, f"Real world page number {n} cut short"))
            if "main_site" in path.name:  # a home page: a listing in its own right
                listing = f"/corpus/home/{n}/{k}/"
                site.add(listing, cut(path.read_bytes(), fraction), content_type="text/html")
                links = find_article_links(cut(path.read_bytes(), fraction), site.url(listing))
                assert_local([link.url for link in links], b, str(path))
                cases.append(Case(f"home-{n}-{k}", "page", listing, None))
        for folder, links in by_folder.items():
            site.add(f"/corpus/{folder}-{k}/", listing_html(links), content_type="text/html; charset=utf-8")
            cases.append(Case(f"pages-{folder}-{k}", "page", f"/corpus/{folder}-{k}/", None))
    return cases


@pytest.mark.conformance
def test_real_world_files_cut_short(tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    with LocalSite() as site, LocalSite("127.0.0.2") as healthy, Receiver() as rx:
        cases = serve_corpus(site)
        story_url = serve_healthy(healthy)
        crawl = run_crawl(write_config(tmp_path, healthy, source_entries(site, cases), rx, max_per_poll=MAX_PER_POLL),
                          tmp_path, timeout=300)
    rows = summary_notes(crawl.stdout, ["healthy", *(c.id for c in cases)])
    failed = [sid for sid, row in rows.items() if row[4] != "0"]
    report("corpus cut short", crawl, {"healthy": rows["healthy"]}, record_property, sources=len(rows))
    print(f"  {len(failed)} of {len(cases)} cut copies failed as malformed; the others were read in part")
    records = assert_ran_to_the_end(crawl, returncode=1 if failed else 0)
    assert_healthy_alerted(tmp_path, crawl, rows, story_url, rx, channels=3)

    problems = []
    for c in cases:
        errors, note = rows[c.id][4], rows[c.id][5]
        errs = [r for r in records if r.get("source") == c.id and r["level"] == "error"]
        if errors not in ("0", "1") or len(errs) != int(errors):
            problems.append(f"{c.id}: {errors} errors, {len(errs)} error lines")
        if errs and not (note.startswith(ALLOWED_ERRORS) and errs[0].get("url") == site.url(c.path)
                         and str(errs[0]["message"]).startswith(f"source {c.id}: {site.url(c.path)}: ")):
            problems.append(f"{c.id}: unexpected error {errs[0]['message']!r}")
    lines = Counter((r.get("source"), r.get("url")) for r in records if r["level"] in ("warning", "error"))
    problems += [f"{sid}: {n} lines for {url}" for (sid, url), n in lines.items() if sid and n > 1]
    assert problems == [], "\n".join(problems)
