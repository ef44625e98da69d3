"""monitor.sitemaps.parse_sitemap over the corpus sitemaps, gzip and bombs."""

from __future__ import annotations

import gzip
import zlib
from datetime import datetime, timedelta, timezone

import pytest

from monitor.sitemaps import parse_sitemap
from tests.conftest import SHARED

SITEMAPS = SHARED / "corpus" / "sitemaps"
NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)
UTC = timezone.utc

# path, kind, entries, child sitemaps
CORPUS = [
    ("crawler-commons/sitemaps/atom.xml", "urlset", 1, 0),
    ("crawler-commons/sitemaps/extension/hebdenbridgetimes-articles-sitemap.xml", "urlset", 74, 0),
    ("crawler-commons/sitemaps/extension/pagemaps-sitemap.xml", "urlset", 2, 0),
    ("crawler-commons/sitemaps/extension/shinpaideshou-news-sitemap.xml", "urlset", 3, 0),
    ("crawler-commons/sitemaps/extension/sitemap-images.xml", "urlset", 1, 0),
    ("crawler-commons/sitemaps/extension/sitemap-links.xml", "urlset", 3, 0),
    ("crawler-commons/sitemaps/extension/sitemap-mobile.xml", "urlset", 3, 0),
    ("crawler-commons/sitemaps/extension/sitemap-news.xml", "urlset", 2, 0),
    ("crawler-commons/sitemaps/extension/sitemap-videos-tvshow.xml", "urlset", 1, 0),
    ("crawler-commons/sitemaps/extension/sitemap-videos.xml", "urlset", 3, 0),
    ("crawler-commons/sitemaps/sitemap-with-bom.txt", "text", 2, 0),
    ("crawler-commons/sitemaps/sitemap.badns.xml", "urlset", 2, 0),
    ("crawler-commons/sitemaps/sitemap.index.xml", "sitemapindex", 0, 15),
    ("crawler-commons/sitemaps/sitemap.ns.xml", "urlset", 2, 0),
    ("crawler-commons/sitemaps/sitemap.txt", "text", 2, 0),
    ("crawler-commons/sitemaps/sitemap.txt.gz", "text", 5, 0),
    ("crawler-commons/sitemaps/xmlSitemap.gz", "urlset", 5, 0),
    ("trafilatura/resources/sitemap-hreflang.xml", "urlset", 3, 1),
    ("trafilatura/resources/sitemap.xml", "urlset", 84, 0),
    ("trafilatura/resources/sitemap.xml.gz", "urlset", 84, 0),
    ("trafilatura/resources/sitemap2.xml", "sitemapindex", 0, 2),
]


@pytest.mark.conformance
def test_corpus_table_covers_every_sitemap() -> None:
    on_disk = {str(p.relative_to(SITEMAPS)) for p in SITEMAPS.rglob("*") if p.is_file() and p.name != "LICENSE"}
    assert on_disk == {c[0] for c in CORPUS}


@pytest.mark.conformance
@pytest.mark.parametrize("rel, kind, n_entries, n_sitemaps", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_sitemap(rel: str, kind: str, n_entries: int, n_sitemaps: int) -> None:
    result = parse_sitemap((SITEMAPS / rel).read_bytes(), "http://www.example.com/sitemap", now=NOW, max_age=None)
    assert result.error is None
    assert result.kind == kind
    assert len(result.entries) == n_entries
    assert len(result.sitemaps) == n_sitemaps
    assert all(e.url.startswith(("http://", "https://")) for e in result.entries)


@pytest.mark.conformance
def test_google_news_fields() -> None:
    result = parse_sitemap(
        (SITEMAPS / "crawler-commons/sitemaps/extension/shinpaideshou-news-sitemap.xml").read_bytes(),
        "https://shinpaideshou.wordpress.com/news-sitemap.xml", now=NOW, max_age=None,
    )
    e = result.entries[0]
    assert e.url == "https://shinpaideshou.wordpress.com/2017/04/25/job-opening-reischauer-policy-research-fellow/"
    assert e.published == datetime(2017, 4, 25, 10, 0, 36, tzinfo=UTC)
    assert e.title == "Job Opening: Reischauer Policy Research Fellow"
    assert e.language == "en"


@pytest.mark.conformance
def test_google_doc_example_date_only() -> None:
    result = parse_sitemap((SITEMAPS / "crawler-commons/sitemaps/extension/sitemap-news.xml").read_bytes(),
                           "http://www.example.org/", now=NOW, max_age=None)
    assert result.entries[0].published == datetime(2008, 12, 23, tzinfo=UTC)
    assert result.entries[0].title == "Companies A, B in Merger Talks"


@pytest.mark.conformance
def test_cdata_loc_and_index_lastmod() -> None:
    result = parse_sitemap((SITEMAPS / "trafilatura/resources/sitemap2.xml").read_bytes(), "http://www.example.com/",
                           now=NOW, max_age=None)
    assert result.sitemaps == ["http://www.example.com/sitemap1.xml.gz", "http://www.example.com/sitemap2.xml.gz"]
    old = parse_sitemap((SITEMAPS / "trafilatura/resources/sitemap2.xml").read_bytes(), "http://www.example.com/",
                        now=datetime(2005, 1, 10, tzinfo=UTC), max_age=timedelta(days=30))
    assert old.sitemaps == ["http://www.example.com/sitemap2.xml.gz"]
    assert old.skipped_old == 1


@pytest.mark.conformance
def test_max_age_filters_with_fixed_now() -> None:
    body = (SITEMAPS / "crawler-commons/sitemaps/extension/hebdenbridgetimes-articles-sitemap.xml").read_bytes()
    result = parse_sitemap(body, "http://www.hebdenbridgetimes.co.uk/", now=datetime(2015, 5, 4, tzinfo=UTC),
                           max_age=timedelta(days=2))
    assert (len(result.entries), result.skipped_old) == (22, 52)
    cutoff = datetime(2015, 5, 2, tzinfo=UTC)
    assert all(e.lastmod is None or e.lastmod >= cutoff for e in result.entries)


def test_undated_entries_are_kept() -> None:
    body = b"<urlset><url><loc>http://x.test/a</loc></url><url><loc>http://x.test/b</loc><lastmod>2001-01-01</lastmod></url></urlset>"
    result = parse_sitemap(body, "http://x.test/", now=NOW, max_age=timedelta(days=1))
    assert [e.url for e in result.entries] == ["http://x.test/a"]
    assert result.skipped_old == 1


@pytest.mark.conformance
def test_gzip_detected_by_magic_not_name() -> None:
    plain = (SITEMAPS / "trafilatura/resources/sitemap.xml").read_bytes()
    result = parse_sitemap(gzip.compress(plain), "http://www.example.com/sitemap.xml", now=NOW, max_age=None)
    assert len(result.entries) == 84


def _gzip_bomb(size: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"<" * (1024 * 1024)
    parts = [comp.compress(b"<urlset>")]
    parts += [comp.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(comp.flush())
    return b"".join(parts)


@pytest.mark.parametrize(
    "max_size, bomb_size, error",
    [
        (50 * 1024 * 1024, 64 * 1024 * 1024, "decompressed size exceeds 50 MiB"),
        (1024 * 1024, 4 * 1024 * 1024, "decompressed size exceeds 1 MiB"),
    ],
    ids=["default-50MiB", "custom-1MiB"],
)
def test_gzip_bomb_refused(max_size: int, bomb_size: int, error: str) -> None:
    bomb = _gzip_bomb(bomb_size)
    assert len(bomb) < bomb_size // 500
    result = parse_sitemap(bomb, "http://x.test/sitemap.xml", now=NOW, max_age=None, max_size=max_size)
    assert result.error == error
    assert result.entries == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<urlset><url><loc>http://x.test/&lol9;</loc></url></urlset>"""


@pytest.mark.parametrize(
    "body, error",
    [
        (BILLION_LAUGHS, "XML entity declarations are not allowed in a sitemap (entity-expansion bomb?)"),
        (b"", "empty document"),
        (b"\xef\xbb\xbf  \n", "empty document"),
        (b"<html><body>Not found</body></html>", "not a sitemap: root element <html>"),
        (b"Sorry, nothing here", "no URLs found in text sitemap"),
        (b"\x1f\x8b\x08\x00garbage", "truncated gzip data"),
    ],
    ids=["billion-laughs", "empty", "bom-only", "html", "text-without-urls", "corrupt-gzip"],
)
def test_bad_sitemaps_exact_errors(body: bytes, error: str) -> None:
    result = parse_sitemap(body, "http://x.test/sitemap.xml", now=NOW, max_age=None)
    assert result.error == error
    assert result.entries == []


def test_oversized_body_refused() -> None:
    result = parse_sitemap(b"<urlset>" + b" " * 2048, "http://x.test/", now=NOW, max_age=None, max_size=1024)
    assert result.error == "sitemap size exceeds 1024 bytes"


def test_truncated_sitemap_keeps_entries_read() -> None:
    body = b"<urlset><url><loc>http://x.test/a</loc></url>\n<url><loc>http://x.test/b</lo"
    result = parse_sitemap(body, "http://x.test/", now=NOW, max_age=None)
    assert [e.url for e in result.entries] == ["http://x.test/a"]
    assert result.error == "not well-formed XML at line 2: expected '>'"


@pytest.mark.conformance
def test_truncated_gzip_keeps_what_decompressed() -> None:
    plain = (SITEMAPS / "trafilatura/resources/sitemap.xml").read_bytes()
    packed = gzip.compress(plain)
    result = parse_sitemap(packed[: len(packed) // 2], "http://www.example.com/", now=NOW, max_age=None)
    assert 0 < len(result.entries) < 84
    assert result.error is not None and result.error.startswith("not well-formed XML at line ")
