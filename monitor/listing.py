"""Listing pages (news sections, press-release pages): article links and feed auto-discovery.

`find_article_links(body, url, selectors=...)` returns the article links of a listing page, canonical
and de-duplicated in page order. With selectors (config `selectors`; one starting with `/` or `(` is
XPath, anything else CSS) exactly the links they select are taken: an `<a>` element, any element
containing links, or an attribute/text node holding a URL. Without selectors a default applies:
same-site links outside nav/header/footer/aside/menus whose URL looks like an article (a date in the
path, a numeric id, a long slug, a `.html` leaf under a section) and is not a tag, category, author,
login, search, feed or static page, and whose text is a headline rather than "More" or "Next".
`discover_feeds(body, url)` lists `<link rel=alternate>` RSS/Atom/JSON feeds. Reads no config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from parsel import Selector

from monitor.extract import decode_html
from monitor.urls import canonical_url, same_site


@dataclass(frozen=True)
class Link:
    url: str
    text: str


_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
               "application/rdf+xml", "application/x-rss+xml", "text/xml", "application/xml")
_BOILERPLATE_TAGS = frozenset({"nav", "header", "footer", "aside", "form"})
_BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
_BOILERPLATE_TOKENS = frozenset({"nav", "navbar", "navigation", "menu", "main-menu", "footer", "site-footer",
                                 "site-header", "breadcrumb", "breadcrumbs", "pagination", "pager", "sidebar",
                                 "social", "share", "tags", "related"})


def _is_boilerplate(el: Any) -> bool:
    if el.tag in _BOILERPLATE_TAGS or el.get("role") in _BOILERPLATE_ROLES:
        return True
    tokens = f"{el.get('class') or ''} {el.get('id') or ''}".lower().split()
    return any(t in _BOILERPLATE_TOKENS for t in tokens)


def _content_anchors(root: Any) -> list[Any]:
    """<a href> elements in the body that are not inside navigation, header, footer, asides, menus."""
    flags: dict[Any, bool] = {}
    out = []
    for a in root.iter("a"):
        if not a.get("href"):
            continue
        chain = []
        el = a.getparent()
        verdict = False
        while el is not None:
            if el in flags:
                verdict = flags[el]
                break
            chain.append(el)
            if _is_boilerplate(el):
                verdict = True
                break
            el = el.getparent()
        for c in chain:
            flags[c] = verdict
        if not verdict:
            out.append(a)
    return out


_EXCLUDED_SEGMENTS = frozenset(
    {
        "tag", "tags", "topic", "topics", "category", "categories", "author", "authors", "autor", "profile",
        "user", "users", "login", "logout", "signin", "sign-in", "signup", "register", "account", "subscribe",
        "subscription", "newsletter", "newsletters", "search", "suche", "about", "about-us", "contact",
        "contact-us", "impressum", "privacy", "privacy-policy", "terms", "terms-of-use", "cookies", "help",
        "faq", "feed", "feeds", "rss", "sitemap", "advertise", "jobs", "careers", "shop", "store", "cart",
        "wp-login.php", "cdn-cgi", "static", "assets", "print", "comments", "weather", "horoscope",
        "video", "videos", "gallery", "photos", "podcast", "podcasts", "live-tv",
    }
)
_STATIC_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|svg|css|js|pdf|zip|mp3|mp4|xml|rss|ico|woff2?)$", re.I)
_DATE_IN_PATH = re.compile(
    r"(?:^|/)(?:19|20)\d{2}[/-]?(?:0?[1-9]|1[0-2])(?:[/-]?(?:0?[1-9]|[12]\d|3[01]))?(?:/|[-_]|$)"
    r"|(?:^|[/_-])(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:[/_.-]|$)"
    r"|(?:^|/)\d{1,2}[a-z]{3}(?:19|20)\d{2}(?:/|$)",
    re.IGNORECASE,
)
_NUMERIC_ID = re.compile(r"(?:^|[/_.=-])\d{5,}(?:[/_.-]|$)")
_WORD_SPLIT = re.compile(r"[-_+]")
_NAV_TEXT = re.compile(
    r"^(?:more|read more|next|previous|prev|home|back|continue|weiter|mehr|plus|más|suivant|»|«|›|‹|\d+)$",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")


def _xpath_or_css(selector: str) -> bool:
    return selector.lstrip().startswith(("/", "("))


def _selected_hrefs(sel: Selector, selectors: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for expr in selectors:
        nodes = sel.xpath(expr) if _xpath_or_css(expr) else sel.css(expr)
        for node in nodes:
            root = node.root
            if isinstance(root, str):  # attribute or text node: a URL
                out.append((root, ""))
                continue
            tag = getattr(root, "tag", "")
            anchors = [node] if tag == "a" else node.xpath(".//a[@href]")
            for a in anchors:
                href = a.attrib.get("href")
                if href:
                    out.append((href, " ".join(a.xpath("string()").get("").split())))
    return out


def looks_like_article_url(url: str) -> bool:
    """Heuristic: does this URL's path look like one article (date, id, long slug, .html leaf)?"""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if _STATIC_EXT.search(path):
        return False
    segments = [s for s in path.lower().split("/") if s]
    if not segments:
        return False
    if any(s in _EXCLUDED_SEGMENTS for s in segments[:-1]) or segments[-1] in _EXCLUDED_SEGMENTS:
        return False
    if segments[0] in ("category", "tag", "section", "sections", "topics"):
        return False
    if _DATE_IN_PATH.search(path) and len(segments) >= 2:
        return True
    leaf = segments[-1]
    if leaf in ("index.html", "index.htm", "index.php", "default.aspx") and len(segments) >= 2:
        leaf = segments[-2]
    stem = re.sub(r"\.(?:s?html?|php|aspx?|jsp|csp|cms)$", "", leaf)
    words = [w for w in _WORD_SPLIT.split(stem) if w]
    if len(words) >= 4 or (len(words) >= 3 and len(stem) >= 20):
        return True
    if _NUMERIC_ID.search(path) or re.search(r"(?:^|&)(?:id|p|story_id|article|aid|nid)=\d{3,}", parts.query):
        return True
    if stem != leaf and len(segments) >= 2 and len(stem) >= 8 and ("-" in stem or "_" in stem or len(stem) >= 12):
        return True
    return bool(_CJK.search(stem) and len(stem) >= 6)


def _headline_like(text: str) -> bool:
    text = text.strip()
    if not text or _NAV_TEXT.match(text):
        return False
    if _CJK.search(text):
        return len(text) >= 6
    return len(text) >= 15 and len(text.split()) >= 3


def find_article_links(
    body: bytes, url: str, *, selectors: list[str] | None = None, content_type: str | None = None,
    same_site_only: bool = True,
) -> list[Link]:
    """Article links on a listing page (see the module docstring). Never raises: a page that cannot
    be parsed, or a selector that is invalid, gives no links for that selector."""
    try:
        sel = Selector(text=decode_html(body, content_type) or "<html></html>", base_url=url)
    except Exception:
        return []
    base = sel.xpath("//base/@href").get() or url
    if selectors:
        candidates: list[tuple[str, str]] = []
        for expr in selectors:
            try:
                candidates.extend(_selected_hrefs(sel, [expr]))
            except Exception:  # invalid selector syntax: reported by config validation, not here
                continue
        filter_paths = False
    else:
        candidates = []
        for a in _content_anchors(sel.root):
            candidates.append((a.get("href"), " ".join(a.text_content().split())))
        filter_paths = True
    out: list[Link] = []
    index: dict[str, int] = {}
    for href, text in candidates:
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        link = canonical_url(href, base)
        if not link.startswith(("http://", "https://")):
            continue
        if (same_site_only or filter_paths) and not same_site(link, url):
            continue
        if filter_paths:
            if not looks_like_article_url(link):
                continue
            if not _headline_like(text) and not _DATE_IN_PATH.search(urlsplit(link).path):
                continue
        if link in index:
            i = index[link]
            if len(text) > len(out[i].text):  # an image link then a headline link to the same story
                out[i] = Link(link, text)
            continue
        index[link] = len(out)
        out.append(Link(link, text))
    return out


def discover_feeds(body: bytes, url: str, content_type: str | None = None) -> list[str]:
    """Feed URLs advertised by the page with `<link rel="alternate" type="application/rss+xml"...>`
    (RSS, Atom, RDF, JSON Feed), absolute and de-duplicated, in page order. A document that is itself
    an RSS/Atom/RDF feed gives `[url]`."""
    try:
        sel = Selector(text=decode_html(body, content_type) or "<html></html>", base_url=url)
    except Exception:
        return []
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if re.search(rb"^(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b", head, re.DOTALL):
        return [canonical_url(url)]  # the page is itself a feed
    base = sel.xpath("//base/@href").get() or url
    out: list[str] = []
    for link in sel.xpath("//link[@href]"):
        rel = (link.attrib.get("rel") or "").lower().split()
        kind = (link.attrib.get("type") or "").lower().split(";")[0].strip()
        if "alternate" not in rel or kind not in _FEED_TYPES:
            continue
        if kind in ("text/xml", "application/xml", "application/json") and not re.search(
            r"rss|atom|feed", link.attrib.get("href", "") + link.attrib.get("title", ""), re.I
        ):
            continue
        feed = canonical_url(link.attrib["href"], base)
        if feed.startswith(("http://", "https://")) and feed not in out:
            out.append(feed)
    return out
