"""Feed parsing: RSS 0.9x/1.0/2.0, Atom, RDF (via feedparser) and JSON Feed 1 / 1.1 (by hand).

`parse_feed(body, url, content_type)` takes the response BYTES and the HTTP Content-Type header, so
feedparser's encoding rules apply (an HTTP charset overrides the XML declaration, BOMs and UTF-16/32
are sniffed, undeclared legacy encodings are detected). feedparser's HTML sanitiser is switched off
(it is ~40% of its cost); summaries and contents are reduced to plain text here. Links are resolved
against xml:base and the feed URL. Entries without a date are kept (`published` is None).

A malformed feed never raises: `ParsedFeed.error` carries a short reason and `entries` whatever was
recovered. Reads no config.
"""

from __future__ import annotations

import codecs
import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin

import charset_normalizer
import feedparser

from monitor.dates import parse_date

UTC = timezone.utc


@dataclass
class FeedEntry:
    url: str                       # absolute; "" if the entry has no link
    title: str
    summary: str = ""              # plain text
    content: str = ""              # plain text of content:encoded / atom:content
    published: datetime | None = None   # aware (UTC when the feed states no zone)
    language: str | None = None
    guid: str | None = None


@dataclass
class ParsedFeed:
    title: str
    language: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    error: str | None = None
    ttl: int | None = None
    encoding: str | None = None    # the encoding the bytes were decoded with (feedparser's name)
    version: str = ""              # "rss20", "atom10", "rss10", "json1.1", ... ("" if unknown)
    warnings: list[str] = field(default_factory=list)  # repaired problems: wrong charset, media type


# --- HTML to text ------------------------------------------------------------------------------

_BLOCK_TAG = re.compile(
    r"<\s*(?:br|/p|/div|/li|/h[1-6]|/tr|/blockquote|/pre|/section|/article|hr|p|li|tr)\b[^>]*>",
    re.IGNORECASE,
)
_DROP = re.compile(r"<(script|style|noscript)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANKS = re.compile(r"\n\s*\n+")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: block elements become line breaks, tags go, entities are
    decoded, runs of spaces collapse."""
    if not markup:
        return ""
    if "<" in markup:
        markup = _DROP.sub(" ", markup)
        markup = _BLOCK_TAG.sub("\n", markup)
        markup = _TAG.sub("", markup)
    text = html.unescape(markup) if "&" in markup else markup
    text = _SPACES.sub(" ", text)
    lines = [ln.strip() for ln in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _detail_text(value: str, detail: Any) -> str:
    kind = (detail or {}).get("type", "text/html") if isinstance(detail, dict) else "text/html"
    if "html" in kind:
        return html_to_text(value)
    return _SPACES.sub(" ", value).strip()


def normalise_language(code: Any) -> str | None:
    """ISO 639-1 (or -3 when there is no two-letter code) from "en-us", "en_US", "zh-Hant-TW"...;
    None for empty or non-language values."""
    if not code or not isinstance(code, str):
        return None
    head = re.split(r"[-_\s,;]", code.strip().lower(), maxsplit=1)[0]
    if re.fullmatch(r"[a-z]{2,3}", head):
        return head
    return None


# --- errors -------------------------------------------------------------------------------------

def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "malformed feed"
    name = type(exc).__name__
    if hasattr(exc, "getLineNumber") and hasattr(exc, "getMessage"):
        line = exc.getLineNumber()
        return f"not well-formed XML at line {line}: {exc.getMessage()}"
    if name == "CharacterEncodingOverride":
        return f"wrong encoding declaration: {exc}"
    if name == "CharacterEncodingUnknown":
        return f"undecodable bytes: {exc}"
    if name == "NonXMLContentType":
        return f"served as a non-XML media type: {exc}"
    if name == "UndeclaredNamespace":
        return f"undeclared namespace: {exc}"
    msg = str(exc).strip() or name
    return msg[:200]


# --- XML safety: entity declarations -------------------------------------------------------------
# expat (under feedparser) stops an entity expansion only past 8 MiB of output and 100x the input, and
# feedparser keeps every character: a 7 MB "quadratic blowup" feed (one long entity, referenced a million
# times) cost ~500 MB, a billion-laughs one seconds of CPU. So before parsing, the DTD's internal subset
# loses every entity declaration that can amplify or reach outside: parameter entities, external
# (SYSTEM/PUBLIC) entities, values that reference other entities, literals longer than 16 characters.
# Character-reference and short literal entities (`<!ENTITY nbsp "&#160;">`) stay. A reference to a
# removed entity makes the document ill-formed, and feedparser's lenient parser, which expands no DTD
# entities, recovers the entries. External entities (XXE) are never read either way.

_PROLOG_MISC = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DOCTYPE_SUBSET = re.compile(rb"""<!DOCTYPE\s+[^\s\[>]+(?:\s+(?:SYSTEM|PUBLIC)(?:\s*(?:"[^"]*"|'[^']*'))+)?\s*\[""")
_SUBSET_TOKEN = re.compile(rb"""\s+|<!--.*?-->|<\?.*?\?>|<!(?:[^>"']|"[^"]*"|'[^']*')*>|%[^;\s]+;""", re.DOTALL)
_SAFE_ENTITY = re.compile(rb"""<!ENTITY\s+[^\s%"']+\s+(?:"(?:&\#\w+;|[^&%<"]{0,16})"|'(?:&\#\w+;|[^&%<']{0,16})')\s*>""")
# UTF-16/32 (BOM, or the bytes of "<" without one): the scan runs on the text, re-encoded after.
_WIDE = ((b"\xff\xfe\x00\x00", "utf-32-le", 4), (b"\x00\x00\xfe\xff", "utf-32-be", 4), (b"\xff\xfe", "utf-16-le", 2),
         (b"\xfe\xff", "utf-16-be", 2), (b"<\x00\x00\x00", "utf-32-le", 0), (b"\x00\x00\x00<", "utf-32-be", 0),
         (b"<\x00", "utf-16-le", 0), (b"\x00<", "utf-16-be", 0))


def _strip_entity_declarations(data: bytes) -> tuple[bytes, int]:
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while (m := _PROLOG_MISC.match(data, pos)) is not None:
        pos = m.end()
    m = _DOCTYPE_SUBSET.match(data, pos)
    if m is None:  # no DTD, or none with an internal subset: nothing can be declared
        return data, 0
    pos = m.end()
    kept = [data[:pos]]
    removed = 0
    # Until "]" or a token that is not DTD syntax (then expat stops there too, before any content).
    while not data.startswith(b"]", pos) and (t := _SUBSET_TOKEN.match(data, pos)) is not None:
        token = t.group()
        if token.startswith(b"%") or (token.startswith(b"<!ENTITY") and not _SAFE_ENTITY.fullmatch(token)):
            removed += 1
        else:
            kept.append(token)
        pos = t.end()
    if not removed:
        return data, 0
    kept.append(data[pos:])
    return b"".join(kept), removed


def defuse_entities(body: bytes) -> tuple[bytes, int]:
    """`body` without the DTD entity declarations that could amplify or reach outside (see above), and
    how many were removed. Bytes outside the removed declarations are unchanged."""
    for mark, codec, skip in _WIDE:
        if body.startswith(mark):
            try:
                text = body[skip:].decode(codec)
            except UnicodeDecodeError:
                return body, 0  # not really UTF-16/32: expat's own limits still apply
            out, removed = _strip_entity_declarations(text.encode("utf-8"))
            return (body[:skip] + out.decode("utf-8").encode(codec), removed) if removed else (body, 0)
    return _strip_entity_declarations(body)


# --- RSS / Atom / RDF via feedparser ------------------------------------------------------------

def _published(entry: Any, language: str | None) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)  # plain dict access: no feedparser fallback-mapping warnings
        if parsed:
            try:
                return datetime(*parsed[:6], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    for key in ("published", "updated", "created", "date"):
        raw = dict.get(entry, key)
        if raw:
            dt = parse_date(raw, language)
            if dt is not None:
                return dt
    return None


def _entry_url(entry: Any, base: str) -> str:
    candidates = [entry.get("link") or ""]
    candidates += [
        c.get("href") or "" for c in entry.get("links") or [] if c.get("rel", "alternate") == "alternate"
    ]
    if entry.get("guidislink") or re.match(r"https?://", entry.get("id") or ""):
        candidates.append(entry.get("id") or "")
    for link in candidates:
        link = link.strip()
        if not link:
            continue
        try:
            link = urljoin(base, link)
        except ValueError:
            continue
        if link.startswith(("http://", "https://")):
            return link
    return ""


def _content(entry: Any) -> str:
    parts = []
    for item in entry.get("content") or []:
        value = item.get("value") or ""
        if value:
            parts.append(_detail_text(value, item))
    return "\n\n".join(p for p in parts if p)


_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.IGNORECASE)
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
# When a declared legacy encoding does not fit the bytes, its common superset usually does
# (a strict Shift_JIS decoder fails on CP932 extensions, EUC-KR on CP949/UHC syllables...).
_SUPERSETS = {
    "shift_jis": "cp932", "euc_kr": "cp949", "gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs",
    "latin_1": "cp1252", "iso8859_1": "cp1252", "ascii": "cp1252", "iso8859_9": "cp1254",
    "iso8859_8": "cp1255", "iso8859_6": "cp1256", "tis_620": "cp874", "iso8859_11": "cp874",
}
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("'\"")).name.replace("-", "_")
    except LookupError:
        return None


def _decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _transcode(body: bytes, codec: str) -> bytes:
    return _as_utf8(body.decode(codec))


def _as_utf8(text: str) -> bytes:
    text = re.sub(r"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])[^\"']+", r"\g<1>utf-8", text, count=1)
    return text.encode("utf-8")


def _prepare(body: bytes, content_type: str | None) -> tuple[bytes, str, str | None, list[str]]:
    """Decide the bytes and Content-Type feedparser sees. Returns (body, content_type, encoding we
    forced or None, warnings). Only steps in where feedparser's own rules would produce mojibake: a
    declared charset the bytes do not fit, or no declaration on bytes that are not UTF-8."""
    warnings: list[str] = []
    media = (content_type or "").split(";")[0].strip().lower()
    if media and not re.search(r"xml|rss|atom|rdf", media):
        warnings.append(f"served as {media}, not an XML media type")
    m = _CHARSET_PARAM.search(content_type or "")
    http_charset = m.group(1) if m else None
    # RFC 7303: without a charset parameter, text/xml is read like application/xml (XML declaration).
    passed = "application/xml" + (f"; charset={http_charset}" if http_charset else "")
    if body.startswith(_BOMS) or body[:4] in (b"<\x00?\x00", b"\x00<\x00?", b"<\x00\x00\x00", b"\x00\x00\x00<"):
        return body, passed, None, warnings
    m = _XML_DECL.match(body[:512])
    declared_name = http_charset or (m.group(1).decode("ascii") if m else None)
    declared = _codec(declared_name)
    if declared:
        if _decodes(body, declared):
            return body, passed, None, warnings
        superset = _SUPERSETS.get(declared)
        if superset and _decodes(body, superset):
            warnings.append(f"declared {declared_name} but the bytes are {superset}; decoded as {superset}")
            return _transcode(body, superset), "application/xml; charset=utf-8", superset, warnings
        # A few invalid sequences in text that is otherwise the declared encoding (a truncated UTF-8
        # character...): replace just those, rather than let feedparser re-read the whole document
        # as windows-1252 and turn every other non-ASCII character into mojibake.
        text = body.decode(declared, "replace")
        bad = text.count("\ufffd")
        valid = len(text) - len(text.encode("ascii", "ignore")) - bad
        if valid > bad:
            warnings.append(f"declared {declared_name} but {bad} invalid byte sequence(s); replaced with U+FFFD")
            return _as_utf8(text), "application/xml; charset=utf-8", declared, warnings
    elif declared_name is None and not _decodes(body, "utf-8"):
        best = charset_normalizer.from_bytes(body[:200_000]).best()
        if best is not None and best.encoding and _decodes(body, best.encoding):
            codec = _codec(best.encoding) or best.encoding
            warnings.append(f"no encoding declared and not UTF-8; detected {codec}")
            return _transcode(body, codec), "application/xml; charset=utf-8", codec, warnings
    return body, passed, None, warnings


def _parse_xml(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    body, defused = defuse_entities(body)
    body, passed_type, forced, warnings = _prepare(body, content_type)
    if defused:
        warnings.append(f"removed {defused} unsafe entity declaration(s) from the DTD (entity expansion, external entities)")
    headers = {"content-location": url, "content-type": passed_type}
    d = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    feed = d.get("feed", {})
    language = normalise_language(feed.get("language"))
    ttl = None
    raw_ttl = feed.get("ttl")
    if raw_ttl and str(raw_ttl).strip().isdigit():
        ttl = int(str(raw_ttl).strip())
    entries = []
    for e in d.get("entries", []):
        e_lang = normalise_language(e.get("language")) or normalise_language(
            (e.get("title_detail") or {}).get("language")
        ) or normalise_language((e.get("summary_detail") or {}).get("language")) or language
        base = (e.get("title_detail") or {}).get("base") or url
        summary = e.get("summary") or ""
        entries.append(
            FeedEntry(
                url=_entry_url(e, base or url),
                title=_detail_text(e.get("title") or "", e.get("title_detail")),
                summary=_detail_text(summary, e.get("summary_detail")),
                content=_content(e),
                published=_published(e, e_lang),
                language=e_lang,
                guid=(e.get("id") or None),
            )
        )
    error = None
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        name = type(exc).__name__
        if name in ("NonXMLContentType", "CharacterEncodingOverride") and (entries or d.get("version")):
            warnings.append(_describe(exc))
        else:
            error = _describe(exc)
    if not entries and not d.get("version") and error is None:
        error = "not a feed: no RSS, Atom or RDF root element"
    return ParsedFeed(
        title=_detail_text(feed.get("title") or "", feed.get("title_detail")),
        language=language,
        entries=entries,
        error=error,
        ttl=ttl,
        encoding=(forced.replace("_", "-") if forced else d.get("encoding")),
        version=d.get("version") or "",
        warnings=warnings,
    )


# --- JSON Feed ----------------------------------------------------------------------------------

def _looks_json(body: bytes, content_type: str | None) -> bool:
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return True
    return bool(content_type and "json" in content_type.lower() and not head.startswith(b"<"))


def _parse_json(body: bytes, url: str) -> ParsedFeed:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ParsedFeed(title="", language=None, error=f"JSON Feed is not UTF-8: byte {exc.start}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return ParsedFeed(
            title="", language=None, error=f"not valid JSON at line {exc.lineno}: {exc.msg}"
        )
    if not isinstance(doc, dict) or "jsonfeed.org/version/" not in str(doc.get("version", "")):
        return ParsedFeed(title="", language=None, error="not a JSON Feed: no jsonfeed.org version")
    version = "json" + str(doc["version"]).rstrip("/").rsplit("/", 1)[-1]
    language = normalise_language(doc.get("language"))
    base = doc.get("feed_url") or url
    entries = []
    items = doc.get("items")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url") or ""
        if not link and isinstance(item.get("id"), str) and re.match(r"https?://", item["id"]):
            link = item["id"]
        e_lang = normalise_language(item.get("language")) or language
        content = ""
        if isinstance(item.get("content_html"), str):
            content = html_to_text(item["content_html"])
        elif isinstance(item.get("content_text"), str):
            content = item["content_text"].strip()
        summary = item.get("summary") if isinstance(item.get("summary"), str) else ""
        published = None
        for key in ("date_published", "date_modified"):
            if isinstance(item.get(key), str):
                published = parse_date(item[key], e_lang)
                if published is not None:
                    break
        entries.append(
            FeedEntry(
                url=urljoin(base, link.strip()) if isinstance(link, str) and link.strip() else "",
                title=html_to_text(item["title"]) if isinstance(item.get("title"), str) else "",
                summary=html_to_text(summary),
                content=content,
                published=published,
                language=e_lang,
                guid=str(item["id"]) if item.get("id") is not None else None,
            )
        )
    return ParsedFeed(
        title=str(doc.get("title") or ""),
        language=language,
        entries=entries,
        error=None if isinstance(items, list) else "JSON Feed has no items list",
        encoding="utf-8",
        version=version,
    )


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document. Never raises on bad input; see the module docstring."""
    if not body or not body.strip():
        return ParsedFeed(title="", language=None, error="empty document")
    if _looks_json(body, content_type):
        return _parse_json(body, url)
    try:
        return _parse_xml(body, url, content_type)
    except Exception as exc:  # feedparser bugs on hostile input must not take down a poll
        return ParsedFeed(title="", language=None, error=f"feed parser failed: {type(exc).__name__}: {exc}"[:200])
