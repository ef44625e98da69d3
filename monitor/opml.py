"""OPML, the subscription-list format every feed reader imports and exports.

- `export_opml(sources, raw)`: OPML 2.0 of the configured sources, built with ElementTree (every value
  escaped by it). A feed is `<outline type="rss" text=ID title=ID xmlUrl=URL language=.. category=TAGS>`;
  what OPML has no attribute for (interval, cron, max_age, timezone, fetch_articles, selectors,
  enabled: false) is kept in attributes of the newsmon namespace, so an export imported again gives the
  same sources. Sitemap and page sources are written as `type="newsmon:sitemap"` / `"newsmon:page"`
  outlines without `xmlUrl` (their URL in `newsmon:url`): other readers see a folder and subscribe to
  nothing; newsmon reads them back. `headers` are never exported (they often carry credentials).
- `parse_opml(data, name)`: the feeds of an OPML file (1.0, 2.0, and what readers write in the wild),
  each with the line of its `<outline>`, its tags (its `category` attribute and the folders it sits
  in) and the newsmon attributes. Hostile and broken files are read like feeds are (monitor/feeds.py):
  entity declarations that can amplify or reach outside are removed before parsing, external entities
  and DTDs are never loaded, and the size is bounded. A file that says UTF-8 but is not (Windows-1252
  exports are common) is read as Windows-1252, with a note. Malformed XML, a root that is not `<opml>`,
  or no outlines raise OpmlError naming the file and line.
- `add_sources(text, entries)`: config.yaml's text with the new entries appended to its `sources:` list,
  every other byte of the file unchanged (comments, quoting, indentation, blank lines; the new lines
  end as the file's lines do, CRLF or LF — pass the text as read with newline=""): a textual
  insertion after the last item, in the style the list is written in (one flow mapping per line, or
  block mappings), checked by parsing the result. A YAML round-trip library re-indents lists and moves
  comments written between sections; this does not.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit
from xml.parsers import expat

import yaml

from monitor.durations import format_duration
from monitor.feeds import defuse_entities

NS = "https://github.com/newsmon/newsmon/opml"
MAX_BYTES = 16 * 1024 * 1024
MAX_OUTLINES = 100_000
MAX_DEPTH = 50
ID_MAX = 64
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# newsmon attributes and the SourceConfig keys they carry (besides type, url, tags)
_EXTRA = ("interval", "cron", "max_age", "timezone", "fetch_articles", "selectors", "enabled")

ET.register_namespace("newsmon", NS)


class OpmlError(Exception):
    """An OPML file that cannot be read: `file:line: reason`."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file, self.line, self.reason = file, line, reason
        super().__init__(f"{file}:{line}: {reason}" if line else f"{file}: {reason}")


@dataclass
class OpmlFeed:
    line: int
    title: str
    url: str
    type: str = "feed"                      # feed | sitemap | page
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)   # interval, cron, ... as written


@dataclass
class OpmlList:
    feeds: list[OpmlFeed]
    notes: list[str]                        # "file:line: what was skipped and why"
    title: str = ""


# --- export ---------------------------------------------------------------------------------------

def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def export_opml(sources: list[Any], raw: list[Any] | None = None, title: str = "newsmon sources") -> tuple[bytes, list[str]]:
    """OPML 2.0 of `sources` (SourceConfig). `raw`: each source's mapping as written in the file (before
    ${VAR} substitution), so that placeholders and durations are exported as written. Returns the
    document and notes for stderr."""
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(timezone.utc).replace(microsecond=0))
    ET.SubElement(head, "docs").text = "https://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")
    notes: list[str] = []
    others = []
    for i, src in enumerate(sources):
        written = raw[i] if raw and i < len(raw) and isinstance(raw[i], dict) else {}

        def as_written(key: str, value: Any, written: dict[str, Any] = written) -> str:
            w = written.get(key)
            return w if isinstance(w, str) else (format_duration(value) if isinstance(value, float) else str(value))

        url = as_written("url", src.url)
        attrs = {"text": src.id, "title": src.id}
        if src.type == "feed":
            attrs.update({"type": "rss", "xmlUrl": url})
        else:
            attrs.update({"type": f"newsmon:{src.type}", _q("type"): src.type, _q("url"): url})
            others.append(src.id)
        if src.language:
            attrs["language"] = src.language
        if src.tags:
            attrs["category"] = ",".join(t for t in src.tags if not re.search(r"[,/]", t))
            if any(re.search(r"[,/]", t) for t in src.tags):  # not representable as OPML categories
                attrs[_q("tags")] = json.dumps(src.tags, ensure_ascii=False)
            if not attrs["category"]:
                del attrs["category"]
        if "interval" in written or src.interval != 600:
            attrs[_q("interval")] = as_written("interval", src.interval)
        for key in ("cron", "timezone"):
            if getattr(src, key) is not None:
                attrs[_q(key)] = getattr(src, key)
        if src.max_age is not None:
            attrs[_q("max_age")] = as_written("max_age", src.max_age)
        if src.fetch_articles is not None:
            attrs[_q("fetch_articles")] = "true" if src.fetch_articles else "false"
        if src.selectors:
            attrs[_q("selectors")] = json.dumps(src.selectors, ensure_ascii=False)
        if not src.enabled:
            attrs[_q("enabled")] = "false"
        if src.headers:
            notes.append(f"{src.id}: headers not exported (they often carry credentials)")
        ET.SubElement(body, "outline", attrs)
    if others:
        notes.insert(0, f"{len(others)} sitemap/page source(s) ({', '.join(others)}) written as newsmon:* outlines "
                        "without xmlUrl: other feed readers ignore them")
    ET.indent(root, space="  ")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n").encode(), notes


# --- import ---------------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_NO_BOM = ((b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00", "utf-16-le"),
           (b"\x00<", "utf-16-be"))
_DECL_ENCODING = re.compile(r"""^(\s*<\?xml\b[^>]*?\bencoding\s*=\s*)(["'])([^"']*)\2""")


def _decode(data: bytes, name: str) -> tuple[str, list[str]]:
    """The text of an XML file: its BOM, else its declared encoding, else UTF-8; a file that claims
    UTF-8 (or nothing) and is not is read as Windows-1252 (what such exports nearly always are)."""
    notes: list[str] = []
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), notes
            except UnicodeDecodeError as exc:
                raise OpmlError(name, data[:exc.start].count(b"\n") + 1, f"not valid {codec} text") from None
    for mark, codec in _NO_BOM:
        if data.startswith(mark):
            try:
                return data.decode(codec), notes
            except UnicodeDecodeError as exc:
                raise OpmlError(name, None, f"not valid {codec} text ({exc.reason})") from None
    m = _DECL_ENCODING.match(data[:1024].decode("latin-1"))
    declared = m.group(3).strip().lower() if m else "utf-8"
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        raise OpmlError(name, 1, f'unknown encoding "{declared}"') from None
    try:
        return data.decode(codec), notes
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        if codec not in ("utf-8", "ascii"):
            raise OpmlError(name, line, f"not valid {declared} text ({exc.reason})") from None
        notes.append(f"{name}:{line}: not valid UTF-8: read as Windows-1252")
        return data.decode("cp1252", errors="replace"), notes


def _split_name(qname: str) -> tuple[str, str]:
    ns, _, local = qname.rpartition(" ")
    return ns, local


def parse_opml(data: bytes, name: str) -> OpmlList:
    """The feeds listed in an OPML document. Raises OpmlError."""
    if len(data) > MAX_BYTES:
        raise OpmlError(name, None, f"larger than {MAX_BYTES // 2**20} MB")
    data, removed = defuse_entities(data)
    text, notes = _decode(data, name)
    if removed:
        notes.append(f"{name}: removed {removed} unsafe entity declaration(s) from the DTD")
    if not text.strip():
        raise OpmlError(name, None, "empty file")
    # The text is handed to expat as UTF-8 whatever the declaration says (pyexpat does so for str).
    text = _DECL_ENCODING.sub(lambda m: f"{m.group(1)}{m.group(2)}utf-8{m.group(2)}", text, count=1)

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    feeds: list[OpmlFeed] = []
    state: dict[str, Any] = {"root": None, "body": False, "outlines": 0, "in_title": False, "title": ""}
    # one entry per open element: (local name, folder label or None)
    stack: list[tuple[str, str | None]] = []

    def refuse_entity(entity_name: str, is_parameter: bool, value: str | None, *rest: Any) -> None:
        # defuse_entities left only short literal ones; anything else is refused, not expanded
        if is_parameter or value is None or len(value) > 16 or "&" in value:
            raise OpmlError(name, parser.CurrentLineNumber, f'entity "{entity_name}" refused (entity expansion, external entities)')

    def start(qname: str, attrs: dict[str, str]) -> None:
        line = parser.CurrentLineNumber
        _, local = _split_name(qname)
        if state["root"] is None:
            state["root"] = local
            if local != "opml":
                raise OpmlError(name, line, f"not an OPML file (the root element is <{local}>, not <opml>)")
        if len(stack) >= MAX_DEPTH:
            raise OpmlError(name, line, f"outlines nested deeper than {MAX_DEPTH} levels")
        if local == "body" and len(stack) == 1:
            state["body"] = True
        if local == "title" and [s[0] for s in stack] == ["opml", "head"]:
            state["in_title"] = True
        label = None
        if local == "outline" and state["body"]:
            state["outlines"] += 1
            if state["outlines"] > MAX_OUTLINES:
                raise OpmlError(name, line, f"more than {MAX_OUTLINES} outlines")
            label = _outline(attrs, line)
        stack.append((local, label))

    def _outline(attrs: dict[str, str], line: int) -> str | None:
        plain = {k.lower(): v for k, v in attrs.items() if " " not in k}
        ours = {_split_name(k)[1]: v for k, v in attrs.items() if _split_name(k)[0] == NS}
        title = (plain.get("text") or "").strip() or (plain.get("title") or "").strip()
        kind = (plain.get("type") or "").strip().lower()
        url = (plain.get("xmlurl") or "").strip()
        stype = "feed"
        if ours.get("type") in ("sitemap", "page", "feed") and ours.get("url"):
            stype, url = ours["type"], ours["url"].strip()
        elif kind in ("link", "include", "source") and (url or plain.get("url")):
            notes.append(f"{name}:{line}: \"{title}\": a link to another list (type={kind}), not a feed: skipped")
            return None
        if not url:
            return title or None  # a folder: its title is a tag of the feeds in it
        feed = OpmlFeed(line=line, title=title, url=url, type=stype)
        folders = [label for local, label in stack if local == "outline" and label]
        tags: list[str] = []
        if "tags" in ours:
            try:
                value = json.loads(ours["tags"])
                tags = [str(t) for t in value] if isinstance(value, list) else []
            except ValueError:
                notes.append(f"{name}:{line}: newsmon:tags is not a JSON list: ignored")
        else:
            for category in (plain.get("category") or "").split(","):
                tags += [part.strip() for part in category.split("/") if part.strip()]
            tags = folders + tags
        feed.tags = list(dict.fromkeys(tags))
        language = (plain.get("language") or "").strip().lower()
        if language:
            code = re.split(r"[-_]", language)[0]
            if re.fullmatch(r"[a-z]{2,3}", code):
                feed.language = code
            else:
                notes.append(f'{name}:{line}: language "{language}" is not a language code: ignored')
        for key in _EXTRA:
            if key in ours:
                feed.extra[key] = ours[key]
        feeds.append(feed)
        return title or None

    def end(qname: str) -> None:
        local, _ = stack.pop()
        if local == "title":
            state["in_title"] = False
        if local == "body" and len(stack) == 1:
            state["body"] = False

    def chars(data: str) -> None:
        if state["in_title"]:
            state["title"] += data

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.EntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = lambda *a: 0  # never read: an error at that line
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise OpmlError(name, exc.lineno, f"malformed XML: {expat.ErrorString(exc.code)} (column {exc.offset + 1})") from None
    if state["root"] is None:
        raise OpmlError(name, None, "empty file")
    if not state["outlines"]:
        raise OpmlError(name, None, "no outlines: not a subscription list (expected <body><outline ...>)")
    return OpmlList(feeds, notes, state["title"].strip())


# --- ids ------------------------------------------------------------------------------------------

def slug(text: str) -> str:
    """An id from a title: ASCII letters and digits, lower case, '-' between words; "" when none."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return s[:ID_MAX].rstrip("-")


def host_slug(url: str) -> str:
    try:
        host = (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        host = ""
    return slug(host.replace(".", "-"))


def unique_id(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... not in `taken` (compared ignoring case); added to `taken`."""
    folded = {t.casefold() for t in taken}
    candidate, n = base, 1
    while candidate.casefold() in folded:
        n += 1
        suffix = f"-{n}"
        candidate = base[:ID_MAX - len(suffix)].rstrip("-") + suffix
    taken.add(candidate)
    return candidate


def derive_id(feed: OpmlFeed, taken: set[str]) -> str:
    """A title that is already a valid id (newsmon's own exports) is kept as written."""
    if _ID.fullmatch(feed.title) and feed.title.casefold() not in {t.casefold() for t in taken}:
        taken.add(feed.title)
        return feed.title
    base = slug(feed.title) or host_slug(feed.url) or "feed"
    if not base[0].isalnum():
        base = "feed-" + base
    return unique_id(base, taken)


# --- YAML for the new entries ---------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def yaml_scalar(value: Any) -> str:
    """A YAML scalar that reads back as `value`: plain when unambiguous, else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    s = str(value)
    if _PLAIN.fullmatch(s) and yaml.safe_load(s) == s:
        return s
    out = json.dumps(s, ensure_ascii=False)  # JSON strings are YAML double-quoted scalars...
    for ch, esc in (("\u0085", "\\N"), ("\u2028", "\\L"), ("\u2029", "\\P"), ("\ufeff", "\\ufeff")):
        out = out.replace(ch, esc)            # ...except for what YAML reads as line breaks
    return out


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return yaml_scalar(value)


def entry_flow(entry: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in entry.items()) + "}"


def entry_block(entry: dict[str, Any], indent: str, offset: int) -> list[str]:
    lines = []
    for i, (k, v) in enumerate(entry.items()):
        lead = indent + ("-" + " " * (offset - 1) if i == 0 else " " * offset)
        lines.append(f"{lead}{k}: {_flow(v)}")
    return lines


def entries_yaml(entries: list[dict[str, Any]]) -> str:
    """The `sources:` list of `entries`, one flow mapping per line (as the shipped config.yaml)."""
    return "sources:\n" + "".join(f"  - {entry_flow(e)}\n" for e in entries)


# --- appending to config.yaml ---------------------------------------------------------------------

class CannotEdit(Exception):
    """The file's `sources:` is written in a way this cannot add to without rewriting it."""


def _offsets(text: str) -> list[int]:
    out = [0]
    for m in re.finditer("\n", text):
        out.append(m.end())
    return out


def add_sources(text: str, entries: list[dict[str, Any]]) -> str:
    """`text` (config.yaml) with `entries` appended to its `sources:` list; nothing else changes.
    Raises CannotEdit when the list is written as a non-empty flow sequence or the file is not a
    block mapping. The result is checked: parsed, it is the old document plus the entries."""
    if not entries:
        return text
    from monitor.yamlfile import fast_load, to_plain

    try:
        events = list(yaml.parse(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as exc:
        raise CannotEdit(f"not readable YAML: {exc}") from None
    lines = text.splitlines(keepends=True)
    offsets = _offsets(text)

    def index(mark: Any) -> int:
        return offsets[mark.line] + mark.column

    root_start = next((e for e in events if isinstance(e, (yaml.MappingStartEvent, yaml.SequenceStartEvent,
                                                            yaml.ScalarEvent, yaml.AliasEvent))), None)
    if isinstance(root_start, yaml.ScalarEvent) and root_start.value == "" and len(
            [e for e in events if isinstance(e, yaml.ScalarEvent)]) == 1:
        root_start = None  # an empty document (comments only)
    explicit_end = any(isinstance(e, yaml.DocumentEndEvent) and e.explicit for e in events)
    new_text: str | None = None
    if root_start is not None and not (isinstance(root_start, yaml.MappingStartEvent) and not root_start.flow_style):
        raise CannotEdit("the file is not a block mapping of sections")
    if root_start is not None:
        # the value of the root mapping's `sources` key: the event after that key
        stack: list[list[Any]] = []   # per open collection: ["map", next node is a key] or ["seq"]
        value_at = None
        for i, e in enumerate(events):
            if isinstance(e, (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if stack and stack[-1][0] == "map":
                    top = stack[-1]
                    if top[1] and len(stack) == 1 and isinstance(e, yaml.ScalarEvent) and e.value == "sources":
                        value_at = i + 1
                        break
                    top[1] = not top[1]
                if isinstance(e, yaml.MappingStartEvent):
                    stack.append(["map", True])
                elif isinstance(e, yaml.SequenceStartEvent):
                    stack.append(["seq"])
            elif isinstance(e, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
        if value_at is not None:
            new_text = _insert_into(text, lines, events, value_at, index, entries)
    if new_text is None:  # no `sources:` key: a new section at the end
        if explicit_end:
            raise CannotEdit("the document ends with '...'")
        eol = _eol(text)
        sep = "" if not text or text.endswith("\n") else eol
        blank = eol if text.strip() else ""
        new_text = text + sep + blank + entries_yaml(entries).replace("\n", eol)

    # the check: the old document plus the entries, nothing else
    old = to_plain(fast_load(text)) if text.strip() else None
    new = to_plain(fast_load(new_text))
    expected = dict(old or {})
    expected["sources"] = list((old or {}).get("sources") or []) + [dict(e) for e in entries]
    if new != expected:
        raise CannotEdit("the edited file would not read back as the old one plus the new sources")
    return new_text


def _insert_into(text: str, lines: list[str], events: list[Any], at: int, index: Any,
                 entries: list[dict[str, Any]]) -> str:
    value = events[at]
    if isinstance(value, yaml.ScalarEvent):
        if value.value not in ("", "~", "null", "Null", "NULL") or value.style:
            raise CannotEdit("`sources:` is not a list")
        # `sources:` / `sources: ~`: drop the null, the items go on the lines after the key
        start, end = index(value.start_mark), index(value.end_mark)
        head = text[:start] + text[end:]
        line = value.start_mark.line
        return _splice(head, line + 1, [f"  - {entry_flow(e)}" for e in entries])
    if not isinstance(value, yaml.SequenceStartEvent):
        raise CannotEdit("`sources:` is not a list")
    if value.flow_style:
        if not isinstance(events[at + 1], yaml.SequenceEndEvent):
            raise CannotEdit("`sources:` is written as a flow list [...]")
        start, end = index(value.start_mark), index(events[at + 1].end_mark)
        head = text[:start].rstrip(" \t") + text[end:]
        return _splice(head, value.start_mark.line + 1, [f"  - {entry_flow(e)}" for e in entries])
    # a block list: after the last line holding content of its last item
    depth, j = 0, at
    last_end = None
    items: list[Any] = []   # start events of the items
    flows: list[bool] = []
    while True:
        e = events[j]
        if isinstance(e, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            flows.append(bool(e.flow_style))
            if depth == 2:
                items.append(e)
        elif isinstance(e, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            flow = flows.pop()
            if depth == 0:
                break
            if flow:
                last_end = e.end_mark
        elif isinstance(e, (yaml.ScalarEvent, yaml.AliasEvent)):
            if depth == 1:
                items.append(e)
            last_end = e.end_mark
        j += 1
    if last_end is None:
        raise CannotEdit("`sources:` is an empty block list")
    dash_col = value.start_mark.column
    offset = max(2, items[0].start_mark.column - dash_col) if items else 2
    indent = " " * dash_col
    insert_line = last_end.line if last_end.column == 0 else last_end.line + 1
    last_item = items[-1]
    if isinstance(last_item, yaml.MappingStartEvent) and not last_item.flow_style:
        new_lines = [ln for e in entries for ln in entry_block(e, indent, offset)]
    else:
        new_lines = [f"{indent}-{' ' * (offset - 1)}{entry_flow(e)}" for e in entries]
    return _splice(text, insert_line, new_lines)


def _splice(text: str, line: int, new_lines: list[str]) -> str:
    lines = text.splitlines(keepends=True)
    if line > len(lines):
        line = len(lines)
    eol = _eol(text)
    if line > 0 and not lines[line - 1].endswith(("\n", "\r")):
        lines[line - 1] += eol
    return "".join(lines[:line] + [ln + eol for ln in new_lines] + lines[line:])


def _eol(text: str) -> str:
    """The line ending most of `text`'s lines end with ("\r\n" for a file written on Windows)."""
    return "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"
