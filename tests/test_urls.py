"""monitor.urls: canonical_url and same_site."""

from __future__ import annotations

import pytest

from monitor.urls import canonical_url, registrable_domain, same_site

CANONICAL = [
    ("HTTP://WWW.Example.COM:80/a/b?utm_source=x&id=3&fbclid=z#frag", None, "http://www.example.com/a/b?id=3"),
    ("https://ex.com:443/x?gclid=1&mc_cid=2&mc_eid=3&ref=tw", None, "https://ex.com/x"),
    ("https://ex.com:8443/x", None, "https://ex.com:8443/x"),
    ("../c?ref=foo", "https://ex.com/a/b/", "https://ex.com/a/c"),
    ("/news/1.html", "http://ex.com/section/", "http://ex.com/news/1.html"),
    ("http://ex.com", None, "http://ex.com/"),
    ("http://ex.com/a?b=1&a=2", None, "http://ex.com/a?b=1&a=2"),
    ("http://ex.com/a b", None, "http://ex.com/a%20b"),
    ("  http://ex.com/x  ", None, "http://ex.com/x"),
    ("mailto:a@ex.com", None, "mailto:a@ex.com"),
    ("http://ex.com/story?hpt=hp_t1&utm_medium=rss", None, "http://ex.com/story"),
]


@pytest.mark.parametrize("url, base, expected", CANONICAL, ids=[c[0].strip()[:40] for c in CANONICAL])
def test_canonical_url(url: str, base: str | None, expected: str) -> None:
    assert canonical_url(url, base) == expected


SAME_SITE = [
    ("https://www.bbc.co.uk/news", "http://news.bbc.co.uk/x", True),
    ("https://www.bbc.co.uk/", "https://www.bbc.com/", False),
    ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", True),
    ("http://localhost/a", "http://localhost:8080/", True),
    ("https://edition.cnn.com/", "https://ireport.cnn.com/x", True),
    ("https://example.com/", "https://example.org/", False),
]


@pytest.mark.parametrize("a, b, expected", SAME_SITE, ids=[f"{a}~{b}" for a, b, _ in SAME_SITE])
def test_same_site(a: str, b: str, expected: bool) -> None:
    assert same_site(a, b) is expected


def test_registrable_domain_uses_bundled_suffix_list() -> None:
    assert registrable_domain("https://news.example.co.jp/a") == "example.co.jp"
