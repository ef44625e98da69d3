"""Invalid bytes in a feed that declares UTF-8: only those bytes are lost, never the whole document."""

from __future__ import annotations

import pytest

from monitor.feeds import parse_feed

TITLES = [
    "Störung bei der Telekom: Mobilfunknetz in Süddeutschland ausgefallen",
    "Mạng di động Viettel bị gián đoạn trên diện rộng",
    "Warnung vor Phishing-Mails im Namen der Sparkasse",
    "Ngân hàng cảnh báo lừa đảo qua tin nhắn",
]


def _rss(titles: list[str], channel: str = "Nachrichten – Tin tức") -> bytes:
    items = "".join(
        f"<item><title>{t}</title><link>https://news.example/{i}</link></item>" for i, t in enumerate(titles)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<rss version="2.0"><channel><title>{channel}</title>{items}</channel></rss>'
    ).encode()


@pytest.mark.parametrize(
    "content_type", [None, "application/rss+xml; charset=utf-8", "text/xml"], ids=["no-header", "http-charset", "text-xml"]
)
def test_one_invalid_byte_spoils_only_itself(content_type: str | None) -> None:
    body = _rss([*TITLES, "Kaputtes Byte: BAD hier"]).replace(b"BAD", b"\xff")
    feed = parse_feed(body, "https://news.example/feed.xml", content_type)
    assert feed.error is None
    assert feed.encoding == "utf-8"
    assert feed.title == "Nachrichten – Tin tức"
    assert [e.title for e in feed.entries] == [*TITLES, "Kaputtes Byte: \ufffd hier"]
    assert any("invalid byte" in w for w in feed.warnings)


def test_truncated_multibyte_character() -> None:
    # "ạ" is e1 ba a1 in UTF-8; a feed generator that cut it after two bytes
    body = _rss([*TITLES, "Mạng"]).replace("Mạng</title>".encode(), b"M\xe1\xbang</title>")
    titles = [e.title for e in parse_feed(body, "https://news.example/feed.xml").entries]
    assert titles == [*TITLES, "M\ufffdng"]


def test_clean_utf8_is_untouched() -> None:
    feed = parse_feed(_rss(TITLES), "https://news.example/feed.xml")
    assert [e.title for e in feed.entries] == TITLES
    assert feed.warnings == []


def test_legacy_bytes_under_a_utf8_declaration_are_still_read_as_legacy() -> None:
    # a whole document in windows-1252 that claims UTF-8: nothing in it is UTF-8, so replacing every
    # non-ASCII byte would lose more than the usual windows-1252 fallback
    german = TITLES[0::2]
    body = _rss(german, channel="Nachrichten – Ausfälle").decode().encode("windows-1252")
    feed = parse_feed(body, "https://news.example/feed.xml")
    assert [e.title for e in feed.entries] == german
    assert feed.encoding == "windows-1252"
