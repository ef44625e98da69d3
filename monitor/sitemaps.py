"""Sitemap parsing: urlset and sitemapindex XML (Google News extension included), plain-text
sitemaps, gzip, and Atom/RSS documents used as sitemaps.

`parse_sitemap(body, url, now=..., max_age=...)` is pure. Gzip is recognised by its magic bytes, not
the URL, and decompressed with a bound (`max_size`, 50 MiB by default): a gzip bomb gives an error,
not a 10 GB string. XML is read with lxml iterparse with entity resolution, network access and huge
trees off; a document that declares entities (billion laughs) is refused outright. Namespaces are
matched by local name only, since real sitemaps get them wrong. Entries and child sitemaps older than
`now - max_age` (by news:publication_date, else lastmod) are dropped and counted in `skipped_old`;
entries with no date are kept. Never raises on bad input: `error` says what went wrong, and entries
read before a syntax error are kept. Reads no config.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urljoin

from lxml import etree

from monitor.dates import parse_date

MiB = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_PROLOG_MISC = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)  # what may precede a DOCTYPE
_URL_LINE = re.compile(r"^https?://\S+$", re.IGNORECASE)


@dataclass
class SitemapEntry:
    url: str
    lastmod: datetime | None = None
    published: datetime | None = None    # news:publication_date
    title: str | None = None             # news:title
    language: str | None = None          # news:language


@dataclass
class ParsedSitemap:
    kind: Literal["urlset", "sitemapindex", "text"] | None
    entries: list[SitemapEntry] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    error: str | None = None
    skipped_old: int = 0


class _Refused(Exception):
    pass


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].split(":")[-1].lower()


def _text(el: etree._Element) -> str:
    return "".join(el.itertext()).strip()


def _size(n: int) -> str:
    return f"{n / MiB:g} MiB" if n >= MiB else f"{n} bytes"


def _gunzip(data: bytes, max_size: int) -> bytes:
    import zlib

    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    chunk = 64 * 1024
    buf = data
    try:
        while buf:
            out += d.decompress(buf, chunk)
            if len(out) > max_size:
                raise _Refused(f"decompressed size exceeds {_size(max_size)}")
            buf = d.unconsumed_tail
            if d.eof:
                break
        if not d.eof and not out:
            raise _Refused("truncated gzip data")
    except zlib.error as exc:
        if not out:
            raise _Refused(f"corrupt gzip data: {exc}") from exc
    return bytes(out)


class _Collector:
    def __init__(self, url: str, now: datetime, max_age: timedelta | None) -> None:
        self.base = url
        self.cutoff = now - max_age if max_age is not None else None
        self.result = ParsedSitemap(kind=None)
        self.seen: set[str] = set()

    def _too_old(self, *dates: datetime | None) -> bool:
        if self.cutoff is None:
            return False
        for dt in dates:
            if dt is not None:
                return dt < self.cutoff
        return False

    def _resolve(self, loc: str) -> str | None:
        loc = loc.strip()
        if not loc:
            return None
        try:
            loc = urljoin(self.base, loc)
        except ValueError:
            return None
        if not loc.lower().startswith(("http://", "https://")):
            return None
        return loc

    def add_url(self, loc: str, lastmod: datetime | None = None, published: datetime | None = None,
                title: str | None = None, language: str | None = None) -> None:
        resolved = self._resolve(loc)
        if resolved is None or resolved in self.seen:
            return
        self.seen.add(resolved)
        if self._too_old(published, lastmod):
            self.result.skipped_old += 1
            return
        self.result.entries.append(SitemapEntry(resolved, lastmod, published, title, language))

    def add_sitemap(self, loc: str, lastmod: datetime | None) -> None:
        resolved = self._resolve(loc)
        if resolved is None or resolved in self.seen:
            return
        self.seen.add(resolved)
        if self._too_old(lastmod):
            self.result.skipped_old += 1
            return
        self.result.sitemaps.append(resolved)


def _read_url(el: etree._Element, c: _Collector) -> None:
    loc = ""
    lastmod = published = None
    title = language = None
    for child in el.iter():
        name = _local(child.tag)
        if name == "loc" and not loc and child.getparent() is el:
            loc = _text(child)
        elif name == "lastmod" and child.getparent() is el:
            lastmod = parse_date(_text(child))
        elif name == "publication_date" and _local(child.getparent().tag) == "news":
            published = parse_date(_text(child))
        elif name == "title" and _local(child.getparent().tag) == "news":
            title = _text(child) or None
        elif name == "language" and _local(child.getparent().tag) == "publication":
            language = (_text(child).lower() or None)
    if not loc:  # lenient: <url>URL</url> without <loc>
        loc = (el.text or "").strip()
    c.add_url(loc, lastmod, published, title, language)


def _read_sitemap(el: etree._Element, c: _Collector) -> None:
    loc = ""
    lastmod = None
    for child in el:
        name = _local(child.tag)
        if name == "loc":
            loc = _text(child)
        elif name == "lastmod":
            lastmod = parse_date(_text(child))
    if not loc:  # lenient: <sitemap>URL</sitemap> without <loc>
        loc = (el.text or "").strip()
    c.add_sitemap(loc, lastmod)


def _read_feed_item(el: etree._Element, c: _Collector) -> None:
    """An Atom <entry> or RSS <item> in a feed used as a sitemap."""
    loc = ""
    date = None
    title = None
    for child in el:
        name = _local(child.tag)
        if name == "link":
            href = child.get("href")
            if href and child.get("rel", "alternate") == "alternate" and not loc:
                loc = href
            elif not href and not loc:
                loc = _text(child)
        elif name in ("updated", "published", "pubdate", "date") and date is None:
            date = parse_date(_text(child))
        elif name == "title":
            title = _text(child) or None
    c.add_url(loc, lastmod=date, title=title)


def _declares_entities(data: bytes) -> bool:
    """An entity declaration near the top, or a DOCTYPE (after comments and PIs of any length) with one
    anywhere after it: a sitemap has no use for entities."""
    if _ENTITY_DECL.search(data[:4096]):
        return True
    pos = 0
    while (m := _PROLOG_MISC.match(data, pos)) is not None:
        pos = m.end()
    return data.startswith(b"<!DOCTYPE", pos) and _ENTITY_DECL.search(data, pos) is not None


def _parse_xml(data: bytes, c: _Collector) -> None:
    if _declares_entities(data):
        raise _Refused("XML entity declarations are not allowed in a sitemap (entity-expansion bomb?)")
    parser_events = ("start", "end")
    context = etree.iterparse(
        io.BytesIO(data), events=parser_events, resolve_entities=False, no_network=True,
        huge_tree=False, load_dtd=False, remove_comments=True, remove_pis=True,
    )
    root_name = None
    feed_like = False
    depth = 0
    try:
        for event, el in context:
            if event == "start":
                depth += 1
                if root_name is None:
                    root_name = _local(el.tag)
                    if root_name in ("urlset",):
                        c.result.kind = "urlset"
                    elif root_name == "sitemapindex":
                        c.result.kind = "sitemapindex"
                    elif root_name in ("feed", "rss", "rdf"):
                        c.result.kind = "urlset"
                        feed_like = True
                    else:
                        raise _Refused(f"not a sitemap: root element <{root_name}>")
                continue
            depth -= 1
            name = _local(el.tag)
            if not feed_like and name == "url" and depth == 1:
                _read_url(el, c)
            elif not feed_like and name == "sitemap" and depth == 1:
                _read_sitemap(el, c)
            elif feed_like and name in ("entry", "item"):
                _read_feed_item(el, c)
            else:
                continue
            el.clear(keep_tail=False)
            parent = el.getparent()
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else "?"
        msg = exc.msg.split(", line ")[0] if exc.msg else "syntax error"
        if root_name is None and not data.strip():
            raise _Refused("empty document") from exc
        c.result.error = f"not well-formed XML at line {line}: {msg}"
    if c.result.kind is None and c.result.error is None:
        c.result.error = "empty document"


def _parse_text(text: str, c: _Collector) -> None:
    c.result.kind = "text"
    for line in text.splitlines():
        line = line.strip()
        if _URL_LINE.match(line):
            c.add_url(line)


def parse_sitemap(
    body: bytes, url: str, *, now: datetime, max_age: timedelta | None, max_size: int = 50 * MiB
) -> ParsedSitemap:
    """Parse a sitemap, sitemap index or text sitemap (gzipped or not). See the module docstring."""
    c = _Collector(url, now, max_age)
    try:
        if len(body) > max_size:
            raise _Refused(f"sitemap size exceeds {_size(max_size)}")
        data = body
        if data[:2] == _GZIP_MAGIC:
            data = _gunzip(data, max_size)
        data = data.lstrip(b"\xef\xbb\xbf \t\r\n")
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            data = data.decode("utf-16").lstrip().encode("utf-8")
            data = re.sub(rb"^(<\?xml[^>]*?encoding\s*=\s*[\"'])[^\"']+", rb"\g<1>utf-8", data, count=1)
        if not data:
            raise _Refused("empty document")
        if data.startswith(b"<"):
            _parse_xml(data, c)
        else:
            _parse_text(data.decode("utf-8", errors="replace"), c)
            if not c.result.entries and not c.result.skipped_old:
                c.result.error = "no URLs found in text sitemap"
    except _Refused as exc:
        c.result.error = str(exc)
    except Exception as exc:  # lxml on hostile input: report, never propagate
        c.result.error = f"sitemap parser failed: {type(exc).__name__}: {exc}"[:200]
    return c.result
