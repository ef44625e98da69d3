"""Article pages: decoding, main text, title, language and publication date.

`decode_html(body, content_type)` turns response bytes into text. Order: BOM; the HTTP charset; the
page's `<meta charset>` declarations in document order (a declaration is used only if the bytes decode
under it with at most a stray bad sequence, so a Wayback toolbar's `utf-8` loses to the page's own
`gb2312`); UTF-8; charset-normalizer's guess; UTF-8 with replacement characters. It never raises.

`extract_page(body, url, content_type, language_hint)` returns an `ExtractedPage`: canonical URL
(`<link rel=canonical>` when on the same site), title, main text (trafilatura, precision-oriented,
no comments, no tables), language (declared by the page - html lang, content-language, og:locale - or
by the caller's hint, else detected with monitor.langid) and publication time (meta
article:published_time and kin, JSON-LD datePublished, `<time datetime>`, htmldate, then the first
lines of the text via monitor.dates). `is_probably_article(page)` tells articles from home and section
pages. Reads no config.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import lxml.html
from lxml import etree

from monitor.dates import find_published_in_text, parse_date
from monitor.feeds import normalise_language
from monitor.urls import canonical_url, same_site

try:  # another module of this package; keep extraction usable if it is missing
    from monitor.langid import detect_language as _detect_language
except ImportError:  # pragma: no cover - only while monitor/langid.py does not exist
    _detect_language = None

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?(?:charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)"""
    rb"""|content\s*=\s*["'][^"']*?charset\s*=\s*([A-Za-z0-9._:-]+))""",
    re.IGNORECASE,
)
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
# WHATWG: these labels mean their supersets in browsers, and publishers rely on that.
_WHATWG = {
    "iso8859_1": "cp1252", "ascii": "cp1252", "latin_1": "cp1252", "iso8859_9": "cp1254",
    "gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs", "shift_jis": "cp932", "euc_kr": "cp949",
    "tis_620": "cp874", "iso8859_11": "cp874",
}
MIN_TEXT_CHARS = 200


def _codec(label: str | bytes | None) -> str | None:
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "ignore")
    label = label.strip().strip("'\"").lower()
    if label in ("x-sjis", "sjis", "x-shift-jis"):
        label = "shift_jis"
    if label in ("utf-16", "utf-32"):  # a declaration inside an ASCII-compatible byte stream
        return None
    try:
        name = codecs.lookup(label).name.replace("-", "_")
    except LookupError:
        return None
    return _WHATWG.get(name, name)


def _bad_sequences(body: bytes, codec: str, limit: int) -> int:
    """How many undecodable sequences `body` has under `codec` (counting stops past `limit`)."""
    bad = 0
    pos = 0
    decoder = codecs.getincrementaldecoder(codec)()
    while pos < len(body):
        try:
            decoder.decode(body[pos:], final=True)
            return bad
        except UnicodeDecodeError as exc:
            bad += 1
            if bad > limit:
                return bad
            pos += exc.end
            decoder = codecs.getincrementaldecoder(codec)()
    return bad


def _fits(body: bytes, codec: str) -> bool:
    """True if the bytes decode under `codec` with at most a couple of stray bad sequences (a
    truncated character in a teaser) - not a wrong declaration."""
    try:
        body.decode(codec)
        return True
    except UnicodeDecodeError:
        pass
    except LookupError:
        return False
    return _bad_sequences(body, codec, limit=3) <= max(2, len(body) // 50_000)


def declared_encodings(body: bytes, content_type: str | None) -> list[str]:
    """Codec names declared for this page: the HTTP charset, then meta declarations in order."""
    out: list[str] = []
    m = _HTTP_CHARSET.search(content_type or "")
    if m and (c := _codec(m.group(1))):
        out.append(c)
    for m in _META_CHARSET.finditer(body[:200_000]):
        c = _codec(m.group(1) or m.group(2))
        if c and c not in out:
            out.append(c)
    return out


def detect_encoding(body: bytes, content_type: str | None = None) -> str:
    """The codec `decode_html` uses for `body`."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec
    for codec in declared_encodings(body, content_type):
        if _fits(body, codec):
            return codec
    try:  # undeclared: only flawless UTF-8 counts as UTF-8
        body.decode("utf-8")
        return "utf_8"
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    best = charset_normalizer.from_bytes(body[:300_000]).best()
    if best is not None and best.encoding:
        return _codec(best.encoding) or best.encoding
    return "utf_8"


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Page bytes as text (see the module docstring). Never raises."""
    if not body:
        return ""
    codec = detect_encoding(body, content_type)
    for bom, bom_codec in _BOMS:
        if codec == bom_codec and body.startswith(bom):
            body = body[len(bom):]
            break
    try:
        return body.decode(codec, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


# --- extraction -----------------------------------------------------------------------------------

@dataclass
class ExtractedPage:
    url: str                        # canonical
    title: str
    text: str
    language: str | None
    language_source: str            # "declared" or "detected" ("" when unknown)
    published: datetime | None      # aware
    error: str | None = None
    page_type: str | None = None    # og:type / JSON-LD @type, e.g. "article", "NewsArticle", "website"
    link_count: int = 0             # <a href> in the whole page (for is_probably_article)


_ARTICLE_TYPES = re.compile(r"article|posting|report|blog", re.IGNORECASE)
_DATE_META = (
    "article:published_time", "og:article:published_time", "datepublished", "publishdate", "publish-date",
    "pubdate", "publication_date", "date", "dc.date", "dc.date.issued", "dcterms.created", "sailthru.date",
    "parsely-pub-date", "article.published", "published_time", "original-publish-date", "cxenseparse:recs:publishtime",
    "article_date_original", "og:published_time", "article:published", "datecreated", "date_published",
)
_DATE_META_RANK = {name: i for i, name in enumerate(_DATE_META)}


def _parse_tree(markup: str) -> Any:
    if not markup.strip():
        return None
    # lxml refuses str input that carries an encoding declaration in an XML prolog
    markup = re.sub(r"^\s*<\?xml[^>]*>", "", markup, count=1)
    try:
        return lxml.html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return None


def _jsonld(tree: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                out.append(item)
                if "@graph" in item:
                    stack.append(item["@graph"])
    return out


def _metadata(tree: Any, url: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"canonical": None, "lang": None, "title": "", "dates": [], "type": None}
    html_el = tree if tree.tag == "html" else tree.getroottree().getroot()
    lang = html_el.get("lang") or html_el.get("{http://www.w3.org/XML/1998/namespace}lang")
    meta["lang"] = normalise_language(lang)
    ranked: list[tuple[int, str]] = []
    og_title = ""
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv") or "").lower()
        content = (el.get("content") or "").strip()
        if not key or not content:
            continue
        if key in _DATE_META_RANK:
            ranked.append((_DATE_META_RANK[key], content))
        elif key == "content-language" and not meta["lang"] or key == "og:locale" and not meta["lang"]:
            meta["lang"] = normalise_language(content)
        elif key == "og:title":
            og_title = content
        elif key == "og:type":
            meta["type"] = content
    for item in _jsonld(tree):
        kind = item.get("@type")
        if isinstance(kind, list):
            kind = next((k for k in kind if isinstance(k, str)), None)
        if isinstance(kind, str) and _ARTICLE_TYPES.search(kind):
            meta["type"] = kind
            if isinstance(item.get("datePublished"), str):
                ranked.append((-1, item["datePublished"]))
            elif isinstance(item.get("dateCreated"), str):
                ranked.append((len(_DATE_META), item["dateCreated"]))
            if not meta["lang"] and isinstance(item.get("inLanguage"), str):
                meta["lang"] = normalise_language(item["inLanguage"])
    for el in tree.xpath("//time[@datetime]")[:3]:
        ranked.append((len(_DATE_META) + 1, el.get("datetime")))
    meta["dates"] = [v for _, v in sorted(ranked, key=lambda p: p[0])]
    for el in tree.xpath('//link[@href][contains(concat(" ", normalize-space(translate(@rel, "CANOIL", "canoil")), " "), " canonical ")]'):
        href = el.get("href", "").strip()
        if href:
            candidate = canonical_url(href, url)
            if candidate.startswith("http") and same_site(candidate, url):
                meta["canonical"] = candidate
            break
    title_el = tree.find(".//title")
    title = (title_el.text_content().strip() if title_el is not None else "") or og_title
    h1 = tree.xpath("//h1")
    h1_text = " ".join(h1[0].text_content().split()) if h1 else ""
    # prefer og:title, then an <h1> that the <title> starts with, then the <title> minus " | Site"
    if og_title:
        meta["title"] = og_title
    elif h1_text and h1_text in title:
        meta["title"] = h1_text
    else:
        meta["title"] = re.split(r"\s+[|–—]\s+|\s+-\s+(?=[^-]+$)", title)[0] if title else h1_text
    meta["links"] = len(tree.xpath("//a[@href]"))
    return meta


class _RejectedByTrafilatura(logging.Filter):
    """Drops trafilatura's log records for a document it refuses (random bytes, plain text, an empty
    tree): ERROR lines that name neither source nor URL, twice per page (fast pass and fallback).
    extract_page reports the page itself ("no main text found"), with the source and URL."""

    MESSAGES = frozenset({
        "parsed tree length: %s, wrong data type or not valid HTML", "lxml parsing failed: %s",
        "empty HTML tree: %s", "discarding data: %s",
    })

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self.MESSAGES


for _name in ("trafilatura.utils", "trafilatura.core"):  # logger filters are not inherited: the emitters
    logging.getLogger(_name).addFilter(_RejectedByTrafilatura())


def _main_text(doc: Any, url: str, fast: bool = True) -> str:
    import trafilatura

    try:
        text = trafilatura.extract(
            doc, url=url, favor_precision=True, include_comments=False, include_tables=True,
            include_links=False, include_images=False, deduplicate=False, with_metadata=False,
            fast=fast, output_format="txt",
        )
    except Exception:  # trafilatura on hostile markup: treat as no text
        return ""
    return (text or "").strip()


def _htmldate(tree: Any) -> str | None:
    try:
        from htmldate import find_date

        return find_date(tree, extensive_search=False, original_date=True, outputformat="%Y-%m-%dT%H:%M:%S%z")
    except Exception:
        return None


def extract_page(
    body: bytes, url: str, content_type: str | None = None, language_hint: str | None = None,
    *, tz: tzinfo | None = None,
) -> ExtractedPage:
    """Extract one article page. Never raises; `error` says why a page gave no text."""
    fallback_url = canonical_url(url)
    try:
        markup = decode_html(body, content_type)
        tree = _parse_tree(markup)
    except Exception as exc:  # decoding and lxml are hardened; this is the last line
        return ExtractedPage(fallback_url, "", "", None, "", None, f"unreadable page: {exc}"[:200])
    if tree is None:
        return ExtractedPage(fallback_url, "", "", None, "", None, "empty page")
    meta = _metadata(tree, url)
    # trafilatura cleans the tree it is given; metadata has been read already
    text = _main_text(markup, url)
    if not text:  # fast mode skips trafilatura's fallback extractors; use them when it found nothing
        text = _main_text(markup, url, fast=False)
        if len(text) < 50:  # a stray "Home" link is not an article
            text = ""
    hint = normalise_language(language_hint)
    language, source = meta["lang"], "declared"
    if language is None and hint:
        language = hint
        if _detect_language is not None and text:
            detected = _detect_language(text, None)
            if detected and detected != hint:
                language, source = detected, "detected"  # feeds often declare en-us for anything
    elif language is None:
        language = _detect_language(text, None) if (_detect_language is not None and text) else None
        source = "detected" if language else ""
    published = None
    for value in meta["dates"]:
        published = parse_date(value, language, tz=tz)
        if published is not None:
            break
    if published is None and text:
        published = find_published_in_text(text, language, tz=tz)
    if published is None:
        found = _htmldate(tree)
        if found:
            published = parse_date(found, language, tz=tz)
    error = None
    if not text:
        error = "no main text found"
    return ExtractedPage(
        url=meta["canonical"] or fallback_url,
        title=" ".join(meta["title"].split()),
        text=text,
        language=language,
        language_source=source,
        published=published,
        error=error,
        page_type=meta["type"],
        link_count=meta["links"],
    )


def is_probably_article(page: ExtractedPage) -> bool:
    """True if the page looks like one article rather than a home, section or tag page: declared as
    an article, or enough main text that is not dwarfed by the page's links."""
    if page.error or not page.text:
        return False
    chars = len(page.text)
    if page.page_type and _ARTICLE_TYPES.search(page.page_type):
        return chars >= MIN_TEXT_CHARS
    if page.page_type and page.page_type.lower() == "website" and (
        chars < 1500 or (page.link_count > 100 and chars < page.link_count * 30)
    ):
        return False
    return chars >= 500 and chars >= page.link_count * 4
