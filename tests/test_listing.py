"""monitor.listing: article links on listing pages (default heuristics and selectors), feed discovery."""

from __future__ import annotations

import pytest

from monitor.listing import Link, discover_feeds, find_article_links, looks_like_article_url
from tests.conftest import SHARED

HTML = SHARED / "corpus" / "pages" / "newspaper4k" / "html"

LISTING = b"""<html><head><base href="https://news.example.com/">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
<link rel="alternate" type="application/atom+xml" href="https://news.example.com/atom.xml">
<link rel="alternate" type="application/feed+json" href="feed.json">
<link rel="alternate" hreflang="de" href="/de/">
<link rel="stylesheet" type="text/css" href="/s.css">
</head><body>
<header><a href="/2024/05/01/header-story-that-should-not-count">Header story that should not count</a></header>
<nav><a href="/politics/">Politics</a><a href="/login">Log in</a></nav>
<main>
 <div class="teaser"><a href="/2024/05/02/network-outage-hits-millions?utm_source=home#c">
   <img src="x.jpg"></a>
   <h2><a href="/2024/05/02/network-outage-hits-millions">Network outage hits millions of customers</a></h2></div>
 <div class="teaser"><h2><a href="/business/bank-warns-customers-about-scam-calls-123456">Bank warns customers about scam calls</a></h2></div>
 <div class="teaser"><h2><a href="article.php?id=98765">Operator denies rumours of data breach</a></h2></div>
 <a href="/tag/outage">More on outages and related topics here</a>
 <a href="/category/world/">World news category overview page</a>
 <a href="https://other-site.example.org/2024/05/02/some-other-story">Another site's story with a long headline</a>
 <a href="https://video.example.com/2024/05/02/clip">Same registrable domain, other host clip</a>
 <a href="/2024/05/03/short">More</a>
 <a href="/about-us">About us and our long history of journalism</a>
 <a href="javascript:void(0)">Click here to open something long</a>
</main>
<div class="footer"><a href="/2024/05/04/footer-story-link-here">Footer story link here and more</a></div>
</body></html>"""


def test_default_heuristics() -> None:
    links = find_article_links(LISTING, "https://news.example.com/section/")
    assert links == [
        Link("https://news.example.com/2024/05/02/network-outage-hits-millions",
             "Network outage hits millions of customers"),
        Link("https://news.example.com/business/bank-warns-customers-about-scam-calls-123456",
             "Bank warns customers about scam calls"),
        Link("https://news.example.com/article.php?id=98765", "Operator denies rumours of data breach"),
        Link("https://video.example.com/2024/05/02/clip", "Same registrable domain, other host clip"),
        Link("https://news.example.com/2024/05/03/short", "More"),
    ]


@pytest.mark.parametrize(
    "selectors, expected",
    [
        (["main h2 a"], ["https://news.example.com/2024/05/02/network-outage-hits-millions",
                         "https://news.example.com/business/bank-warns-customers-about-scam-calls-123456",
                         "https://news.example.com/article.php?id=98765"]),
        (["//header//a/@href"], ["https://news.example.com/2024/05/01/header-story-that-should-not-count"]),
        (["(//div[@class='teaser'])[3]"], ["https://news.example.com/article.php?id=98765"]),
        (["nav"], ["https://news.example.com/politics/", "https://news.example.com/login"]),
        (["main a[href*=other-site]"], []),  # selectors still keep to the source's site
        (["main h2 a", "[[invalid"], ["https://news.example.com/2024/05/02/network-outage-hits-millions",
                                      "https://news.example.com/business/bank-warns-customers-about-scam-calls-123456",
                                      "https://news.example.com/article.php?id=98765"]),
    ],
    ids=["css", "xpath-attribute", "xpath-parenthesised", "css-container", "css-offsite", "invalid-ignored"],
)
def test_selectors(selectors: list[str], expected: list[str]) -> None:
    links = find_article_links(LISTING, "https://news.example.com/section/", selectors=selectors)
    assert [link.url for link in links] == expected


@pytest.mark.conformance
@pytest.mark.parametrize(
    "name, base, minimum, must_include, must_exclude",
    [
        ("cnn_main_site", "http://edition.cnn.com/", 150,
         "http://edition.cnn.com/2014/07/24/world/africa/air-algerie-flight/index.html", "/WORLD/"),
        ("wired_main_site", "https://www.wired.com/", 30,
         "https://www.wired.com/story/joe-biden-tiktok-campaign-comments/", "/category/"),
        ("yahoo_main_site", "https://uk.yahoo.com/", 15,
         "http://uk.news.yahoo.com/lamb-kebabs-found-contain-no-lamb-105908881.html", "mail.yahoo.com"),
    ],
    ids=["cnn", "wired", "yahoo"],
)
def test_real_home_pages(name: str, base: str, minimum: int, must_include: str, must_exclude: str) -> None:
    links = find_article_links((HTML / f"{name}.html").read_bytes(), base)
    urls = [link.url for link in links]
    assert len(urls) >= minimum
    assert len(urls) == len(set(urls))
    assert must_include in urls
    assert not any(must_exclude in u for u in urls)
    assert not any("hpt=" in u or "#" in u for u in urls)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://www.miamiherald.com/2013/10/11/3683673/2-new-wind-farms-planned-in-oklahoma.html", True),
        ("http://eatocracy.cnn.com/category/make/recipes/", False),
        ("https://example.com/tag/outage-news-and-more-things/", False),
        ("https://example.com/news/operator-denies-rumours-of-data-breach", True),
        ("https://example.com/static/logo.png", False),
        ("https://example.com/", False),
        ("https://example.com/politics/", False),
        ("https://example.com/news/12345678", True),
    ],
    ids=["dated", "category", "tag", "slug", "static", "root", "section", "numeric-id"],
)
def test_looks_like_article_url(url: str, expected: bool) -> None:
    assert looks_like_article_url(url) is expected


@pytest.mark.conformance
def test_pubdate_url_list_positives_look_like_articles() -> None:
    rows = [line.split(" ", 1) for line in (HTML.parent / "test_urls_pubdate.txt").read_text().splitlines() if line.strip()]
    positives = [url for label, url in rows if label == "1"]
    assert positives and all(looks_like_article_url(u) for u in positives)


def test_discover_feeds() -> None:
    assert discover_feeds(LISTING, "https://news.example.com/section/") == [
        "https://news.example.com/feed.xml",
        "https://news.example.com/atom.xml",
        "https://news.example.com/feed.json",
    ]


@pytest.mark.conformance
def test_discover_feeds_on_a_feed_document() -> None:
    # sample_rss.html is an RSS document served as a page: the page is itself the feed
    assert discover_feeds((HTML / "sample_rss.html").read_bytes(), "https://www.edumock.com/rss") == [
        "https://www.edumock.com/rss"
    ]


@pytest.mark.parametrize("body", [b"", b"\x00\xff\xfe garbage", b"<html><body>no links</body></html>"],
                         ids=["empty", "binary", "no-links"])
def test_bad_pages_give_no_links(body: bytes) -> None:
    assert find_article_links(body, "http://example.com/") == []
    assert discover_feeds(body, "http://example.com/") == []
