"""monitor.feeds.parse_feed over every feed in ../shared/corpus/feeds, plus targeted cases."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from monitor.feeds import html_to_text, normalise_language, parse_feed
from tests.conftest import SHARED

FEEDS = SHARED / "corpus" / "feeds"
ALL_FEEDS = sorted(
    p for p in FEEDS.rglob("*") if p.is_file() and p.name not in ("LICENSE", "README.txt")
)


def _header_content_type(body: bytes) -> str | None:
    m = re.search(rb"Header:\s*Content-type:\s*([^\r\n]+)", body[:1000], re.IGNORECASE)
    return m.group(1).decode("latin-1").strip() if m else None


def _expect(body: bytes) -> str:
    m = re.search(rb"Expect:\s*([^\r\n]+)", body[:1000])
    return m.group(1).decode("latin-1").strip() if m else ""


def _parse(path: Path):
    body = path.read_bytes()
    return parse_feed(body, f"http://example.com/feeds/{path.name}", _header_content_type(body))


@pytest.mark.conformance
@pytest.mark.parametrize("path", ALL_FEEDS, ids=[str(p.relative_to(FEEDS)) for p in ALL_FEEDS])
def test_every_corpus_feed_parses(path: Path) -> None:
    feed = _parse(path)
    assert isinstance(feed.entries, list)
    for e in feed.entries:
        assert e.url == "" or e.url.startswith(("http://", "https://"))
        assert e.published is None or e.published.tzinfo is not None
        assert "\ufffd" not in e.title
    if feed.error is None:
        assert "\ufffd" not in feed.title


@pytest.mark.conformance
def test_corpus_is_all_there() -> None:
    assert len(ALL_FEEDS) == 156


NEWSRU = ["windows-1251-russian", "KOI8-R", "iso-8859-5-russian", "IBM866", "IBM855", "MacCyrillic"]


@pytest.mark.conformance
def test_newsru_six_encodings_identical() -> None:
    feeds = [_parse(FEEDS / "chardet" / enc / "newsru.com.xml") for enc in NEWSRU]
    titles = [[e.title for e in f.entries] for f in feeds]
    summaries = [[e.summary for e in f.entries] for f in feeds]
    assert all(t == titles[0] for t in titles)
    assert all(s == summaries[0] for s in summaries)
    assert len(titles[0]) == 30
    assert titles[0][0].startswith("В Турции психически нездоровый")
    assert {f.language for f in feeds} == {"ru"}
    assert [f.encoding for f in feeds] == ["windows-1251", "koi8-r", "iso-8859-5", "ibm866", "ibm855", "maccyrillic"]


@pytest.mark.conformance
def test_big5_not_well_formed_reports_error_and_keeps_entries() -> None:
    feed = _parse(FEEDS / "chardet" / "Big5" / "coolloud.org.tw.xml")
    assert feed.error == "not well-formed XML at line 105: not well-formed (invalid token)"
    assert len(feed.entries) == 20
    assert feed.title == "苦勞網"


@pytest.mark.conformance
@pytest.mark.parametrize(
    "path, encoding, title",
    [
        ("chardet/CP932/y-moto.com.xml", "cp932", "さらなる防寒対策"),
        ("chardet/CP949/ricanet.com.xml", "cp949", "구라치다 걸리면"),
    ],
    ids=["cp932-declared-shift_jis", "cp949-declared-euc-kr"],
)
def test_superset_bytes_under_legacy_declaration(path: str, encoding: str, title: str) -> None:
    feed = _parse(FEEDS / path)
    assert feed.error is None
    assert feed.encoding == encoding
    assert feed.entries[0].title == title
    assert any("decoded as" in w for w in feed.warnings)


@pytest.mark.conformance
def test_json_feed() -> None:
    feed = _parse(FEEDS / "trafilatura" / "resources" / "feed.json")
    assert feed.error is None
    assert feed.version == "json1"
    assert feed.title == "Technology"
    assert len(feed.entries) == 25
    first = feed.entries[0]
    assert first.url.startswith("https://www.npr.org/2021/10/29/1050315385/")
    assert first.published == datetime(2021, 10, 29, 14, 26, tzinfo=timezone.utc)
    assert "<" not in first.content


@pytest.mark.parametrize(
    "body, error",
    [
        (b"", "empty document"),
        (b"{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": [", "not valid JSON at line 1: Expecting value"),
        (b"{\"title\": \"x\"}", "not a JSON Feed: no jsonfeed.org version"),
        (b"<html><body><p>Hello</p></body></html>", "not a feed: no RSS, Atom or RDF root element"),
        (b"<rss version=\"2.0\"><channel><title>T</title><item><title>A</title></ite",
         "not well-formed XML at line 2: unclosed token"),
    ],
    ids=["empty", "truncated-json", "json-not-jsonfeed", "html-page", "truncated-rss"],
)
def test_bad_feeds_give_exact_errors(body: bytes, error: str) -> None:
    feed = parse_feed(body, "http://example.com/feed")
    assert feed.error == error


def test_truncated_rss_keeps_recovered_entries() -> None:
    body = b"<rss version=\"2.0\"><channel><title>T</title><item><title>A</title><link>/a</link></item><item><tit"
    feed = parse_feed(body, "http://example.com/news/feed")
    assert feed.error is not None
    assert [e.url for e in feed.entries][:1] == ["http://example.com/a"]


RSS_RELATIVE = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Rel</title><language>en-us</language><ttl>15</ttl>
<item><title>One &amp; two</title><link>/news/1.html</link>
<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;&lt;p&gt;Second&lt;/p&gt;</description>
<guid isPermaLink="false">id-1</guid></item>
<item><title>No date</title><link>2.html</link></item>
</channel></rss>"""

ATOM_BASE = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/blog/" xml:lang="de-DE">
<title>Atom</title>
<entry><title>Eins</title><link rel="alternate" href="posts/1"/><id>tag:x,1</id>
<updated>2024-03-01T10:00:00+01:00</updated>
<content type="html">&lt;p&gt;Inhalt&lt;/p&gt;</content></entry>
</feed>"""


def test_relative_links_text_dates_ttl_language() -> None:
    feed = parse_feed(RSS_RELATIVE, "https://example.com/feeds/main.xml", "application/rss+xml")
    assert feed.error is None
    assert feed.language == "en"
    assert feed.ttl == 15
    assert [e.url for e in feed.entries] == ["https://example.com/news/1.html", "https://example.com/feeds/2.html"]
    assert feed.entries[0].title == "One & two"
    assert feed.entries[0].summary == "Hello world\n\nSecond"
    assert feed.entries[0].guid == "id-1"
    assert feed.entries[1].published is None  # kept without a date


def test_atom_xml_base_and_entry_language() -> None:
    feed = parse_feed(ATOM_BASE, "https://elsewhere.example/feed.atom", "application/atom+xml")
    entry = feed.entries[0]
    assert entry.url == "http://example.org/blog/posts/1"
    assert entry.language == "de"
    assert entry.content == "Inhalt"
    assert entry.published == datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.mark.conformance
def test_http_charset_overrides_xml_declaration() -> None:
    path = FEEDS / "feedparser" / "encoding" / "http_text_xml_charset_2.xml"
    feed = _parse(path)
    assert feed.error is None
    assert feed.encoding == "windows-1252"
    assert feed.entries[0].summary == "This is a \xa3\u201ctest.\u201d"
    # the same bytes without the header are not decodable as UTF-8 and are detected instead
    assert parse_feed(path.read_bytes(), "http://example.com/f").entries[0].title == "Foo"


# The feedparser test suite's `Expect:` lines that concern encoding, bozo (our `error`) and dates.
EXPECT_CASES = [
    ("encoding/http_i18n.xml", lambda f: f.error is None and f.title == "Iñtërnâtiônàlizætiøn"),
    # deliberate deviation: RFC 7303 (not 3023) - text/xml without charset follows the XML declaration
    ("encoding/bozo_http_i18n.xml", lambda f: f.error is None and f.title == "Iñtërnâtiônàlizætiøn"),
    ("encoding/http_application_atom_xml_gb2312_charset.xml", lambda f: f.error is None and f.encoding == "gb18030"),
    ("encoding/http_text_xml_charset_overrides_encoding.xml", lambda f: f.error is None and f.encoding == "us-ascii"),
    ("encoding/demoronize-1.xml", lambda f: f.error is None and f.entries[0].summary == "don\u2019t"),
    ("encoding/euc-kr-item.xml", lambda f: f.error is None and f.entries[0].summary == "\ub144"),
    ("encoding/euc-kr.xml", lambda f: f.error is None and f.title == "\ub144"),
    ("encoding/utf-16le-bom.xml", lambda f: f.error is None and f.encoding == "utf-16le"),
    ("encoding/utf-32be-bom.xml", lambda f: f.error is None and f.encoding == "utf-32be"),
    ("encoding/big5.xml", lambda f: f.error is None and f.encoding == "big5"),
    ("illformed/chardet/koi8r.xml", lambda f: f.encoding == "koi8-r" and f.entries[0].title == "Как пережить новогоднюю ночь"),
    ("illformed/chardet/euckr.xml", lambda f: f.encoding == "euc-kr" and f.entries[0].title.startswith("EUC-KR 에서")),
    ("illformed/chardet/shiftjis.xml", lambda f: f.encoding == "shift-jis" and "記事投稿" in f.entries[0].title),
    ("illformed/aaa_illformed.xml", lambda f: f.error == "not well-formed XML at line 7: unclosed token"),
    ("illformed/rss_empty_document.xml", lambda f: f.error == "not well-formed XML at line 6: no element found"),
    ("illformed/rss_item_link_corrupted_ampersands.xml", lambda f: f.entries[0].url == "http://link/get?a=1&b=2"),
    ("wellformed/rss/item_pubDate.xml", lambda f: f.entries[0].published == datetime(2004, 1, 1, 19, 48, 21, tzinfo=timezone.utc)),
    ("wellformed/rss/item_dc_date.xml", lambda f: f.entries[0].published == datetime(2003, 12, 31, 10, 14, 55, tzinfo=timezone.utc)),
    ("wellformed/atom/entry_published_parsed.xml", lambda f: f.entries[0].published == datetime(2003, 12, 31, 10, 14, 55, tzinfo=timezone.utc)),
    ("wellformed/rdf/rdf_item_rdf_about.xml", lambda f: f.error is None and f.version == "rss10"),
    ("wellformed/rdf/rdf_channel_title.xml", lambda f: f.title == "Example feed"),
]


@pytest.mark.conformance
@pytest.mark.parametrize("rel, check", EXPECT_CASES, ids=[c[0] for c in EXPECT_CASES])
def test_feedparser_expectations(rel: str, check) -> None:  # type: ignore[no-untyped-def]
    path = FEEDS / "feedparser" / rel
    assert check(_parse(path))


@pytest.mark.conformance
def test_crawler_commons_pubdate_variants_never_raise() -> None:
    feed = _parse(FEEDS / "crawler-commons" / "rss" / "xmlRss_pubDate.xml")
    assert len(feed.entries) == 7
    assert feed.entries[0].published == datetime(2017, 1, 5, 12, 34, 51, tzinfo=timezone.utc)
    assert sum(e.published is None for e in feed.entries) >= 1  # the empty pubDate is kept, undated


@pytest.mark.parametrize(
    "code, expected",
    [("en-us", "en"), ("en_US", "en"), ("zh-Hant-TW", "zh"), ("DE", "de"), ("", None), (None, None), ("x", None)],
    ids=["en-us", "en_US", "zh-Hant-TW", "upper", "empty", "none", "junk"],
)
def test_normalise_language(code, expected) -> None:  # type: ignore[no-untyped-def]
    assert normalise_language(code) == expected


def test_html_to_text() -> None:
    assert html_to_text("<p>a &amp; b</p><script>x()</script><br>c&nbsp;d") == "a & b\n\nc d"
