"""monitor/opml.py: OPML export and import (round trip, what feed readers write, hostile files), ids from
titles, and appending sources to config.yaml without touching the rest of it."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from monitor.config import SourceConfig, load_config
from monitor.opml import (
    CannotEdit,
    OpmlError,
    add_sources,
    derive_id,
    entries_yaml,
    export_opml,
    parse_opml,
    slug,
    unique_id,
    yaml_scalar,
)
from monitor.yamlfile import fast_load, to_plain
from tests.conftest import ROOT

OPML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>t</title></head>\n'


def opml(body: str, head: str = OPML_HEAD) -> bytes:
    return (head + "<body>\n" + body + "\n</body></opml>\n").encode("utf-8")


def only_added(old: str, new: str) -> list[str]:
    """The lines `new` adds to `old`; fails if any line of `old` changed or moved."""
    added = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old.splitlines(True), b=new.splitlines(True),
                                                        autojunk=False).get_opcodes():
        assert tag in ("equal", "insert"), f"{tag}: {old.splitlines(True)[i1:i2]} -> {new.splitlines(True)[j1:j2]}"
        if tag == "insert":
            added += new.splitlines()[j1:j2]
    return added


# --- export and round trip ------------------------------------------------------------------------

RICH = [
    {"id": "bbc-world", "type": "feed", "url": "https://feeds.bbci.co.uk/news/world/rss.xml", "interval": "5m",
     "language": "en", "tags": ["en", "press"]},
    {"id": "Odd_Name.v2", "type": "feed", "url": "https://example.com/rss?a=1&b=<2>&c=\"q\"",
     "tags": ["a,b", "x/y", "Tin tức", "yes"], "cron": "*/15 6-22 * * *", "max_age": "3d",
     "timezone": "Asia/Ho_Chi_Minh", "fetch_articles": False, "enabled": False},
    {"id": "sitemap-1", "type": "sitemap", "url": "https://example.org/news-sitemap.xml", "interval": "1h"},
    {"id": "listing", "type": "page", "url": "https://example.net/latest", "selectors": ["a.headline", "//h2/a"],
     "fetch_articles": True},
    {"id": "plain", "type": "feed", "url": "https://plain.example/feed"},
]


def sources(entries: list[dict]) -> list[SourceConfig]:
    return [SourceConfig.model_validate(e) for e in entries]


def test_export_is_opml_2_with_escaped_values_and_notes_for_what_readers_miss() -> None:
    data, notes = export_opml(sources(RICH), RICH)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml ')
    import xml.etree.ElementTree as ET

    root = ET.fromstring(data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.find("head/title").text == "newsmon sources"
    outlines = root.findall("body/outline")
    assert [o.get("text") for o in outlines] == [e["id"] for e in RICH]
    first = outlines[0]
    assert (first.get("type"), first.get("xmlUrl"), first.get("title"), first.get("language"), first.get("category")) == (
        "rss", RICH[0]["url"], "bbc-world", "en", "en,press")
    assert outlines[1].get("xmlUrl") == 'https://example.com/rss?a=1&b=<2>&c="q"'  # escaped, read back intact
    assert b"&amp;b=&lt;2&gt;&amp;c=&quot;q&quot;" in data
    # a sitemap is no feed: no xmlUrl, so other readers subscribe to nothing
    assert outlines[2].get("xmlUrl") is None and outlines[2].get("type") == "newsmon:sitemap"
    assert notes == ["2 sitemap/page source(s) (sitemap-1, listing) written as newsmon:* outlines without xmlUrl: "
                     "other feed readers ignore them"]


def test_export_then_import_gives_the_same_sources() -> None:
    data, _ = export_opml(sources(RICH), RICH)
    parsed = parse_opml(data, "x.opml")
    assert parsed.notes == []
    got = []
    for feed in parsed.feeds:
        entry = {"id": derive_id(feed, set()), "type": feed.type, "url": feed.url, "tags": feed.tags,
                 "language": feed.language}
        for key, value in feed.extra.items():
            entry[key] = {"true": True, "false": False}.get(value, value)
        if "selectors" in entry:
            import json

            entry["selectors"] = json.loads(entry["selectors"])
        got.append(SourceConfig.model_validate(entry))
    assert [g.model_dump() for g in got] == [s.model_dump() for s in sources(RICH)]


def test_export_keeps_placeholders_and_durations_as_written_and_never_headers(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("sources:\n  - {id: a, type: feed, url: 'https://x.example/${FEED_TOKEN}/rss', interval: 90s,"
                   " headers: {Authorization: 'Bearer s3cret'}}\n", encoding="utf-8")
    config = load_config(cfg, env={"FEED_TOKEN": "tok123"})
    raw = to_plain(fast_load(cfg.read_text()))["sources"]
    data, notes = export_opml(config.sources, raw)
    assert b"https://x.example/${FEED_TOKEN}/rss" in data and b"tok123" not in data
    assert b'newsmon:interval="90s"' in data
    assert b"s3cret" not in data and b"Authorization" not in data
    assert notes == ["a: headers not exported (they often carry credentials)"]


# --- import: what readers write -------------------------------------------------------------------

def test_nested_folders_and_categories_become_tags_and_links_are_skipped() -> None:
    data = opml("""
  <outline text="Tech News">
    <outline text="Security">
      <outline type="rss" text="Krebs on Security" XMLURL="https://krebsonsecurity.com/feed/" category="/infosec/blogs,vuln"/>
    </outline>
    <outline type="rss" title="Heise" xmlurl="https://www.heise.de/rss/heise-atom.xml" htmlUrl="https://www.heise.de/" language="de-DE"/>
  </outline>
  <outline text="more lists" type="include" url="https://example.com/other.opml"/>
  <outline type="rss" text="Top level" xmlUrl=" https://top.example/rss "/>
  <outline text="empty folder"/>""")
    parsed = parse_opml(data, "feeds.opml")
    assert parsed.title == "t"
    assert [(f.line, f.title, f.url, f.tags, f.language) for f in parsed.feeds] == [
        (7, "Krebs on Security", "https://krebsonsecurity.com/feed/", ["Tech News", "Security", "infosec", "blogs", "vuln"], None),
        (9, "Heise", "https://www.heise.de/rss/heise-atom.xml", ["Tech News"], "de"),
        (12, "Top level", "https://top.example/rss", [], None),
    ]
    assert parsed.notes == ['feeds.opml:11: "more lists": a link to another list (type=include), not a feed: skipped']


def test_opml_1_without_declaration_or_head() -> None:
    data = b'<opml version="1.0"><body><outline title="A" xmlUrl="http://a.example/rss"/></body></opml>'
    assert [(f.title, f.url) for f in parse_opml(data, "a.opml").feeds] == [("A", "http://a.example/rss")]


@pytest.mark.parametrize("data, where, reason", [
    (b'<?xml version="1.0"?>\n<opml version="2.0">\n<body>\n<outline text="a" xmlUrl="https://a/x">\n</body></opml>',
     "bad.opml:5", "malformed XML: mismatched tag"),
    (b"<?xml version='1.0'?>\n<rss version='2.0'><channel/></rss>", "bad.opml:2", "not an OPML file (the root element is <rss>"),
    (b"<?xml version='1.0'?>\n<opml version='2.0'><head/><body></body></opml>", "bad.opml", "no outlines"),
    (b"", "bad.opml", "empty file"),
    (b"\n  \n", "bad.opml", "empty file"),
    (b"<?xml version='1.0' encoding='x-nonsense'?><opml/>", "bad.opml:1", 'unknown encoding "x-nonsense"'),
], ids=["mismatched", "not-opml", "no-outlines", "empty", "blank", "encoding"])
def test_unreadable_files_name_the_file_and_line(data: bytes, where: str, reason: str) -> None:
    with pytest.raises(OpmlError) as info:
        parse_opml(data, "bad.opml")
    assert str(info.value).startswith(f"{where}: {reason}"), str(info.value)


def test_encodings_declared_mislabelled_and_wide() -> None:
    latin = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<opml version="2.0"><body>'
             '<outline text="Le Monde à la une" xmlUrl="https://www.lemonde.fr/rss/une.xml"/></body></opml>')
    assert parse_opml(latin.encode("latin-1"), "l.opml").feeds[0].title == "Le Monde à la une"
    # says UTF-8 (or nothing) but is Windows-1252, as many exports are: read, with a note
    cp = latin.replace("ISO-8859-1", "UTF-8").replace("une\"", "une – Süddeutsche\"").encode("cp1252")
    parsed = parse_opml(cp, "w.opml")
    assert parsed.feeds[0].title == "Le Monde à la une – Süddeutsche"
    assert parsed.notes == ["w.opml:2: not valid UTF-8: read as Windows-1252"]
    wide = latin.replace("ISO-8859-1", "UTF-16")
    assert parse_opml(wide.encode("utf-16"), "u.opml").feeds[0].title == "Le Monde à la une"
    windows = latin.replace("ISO-8859-1", "windows-1251").replace("Le Monde à la une", "Лента")
    assert parse_opml(windows.encode("cp1251"), "r.opml").feeds[0].title == "Лента"
    bom = b"\xef\xbb\xbf" + latin.replace("ISO-8859-1", "UTF-8").encode()
    assert parse_opml(bom, "b.opml").feeds[0].title == "Le Monde à la une"


def test_entity_bombs_and_external_entities_are_never_expanded(tmp_path: Path) -> None:
    laughs = ('<?xml version="1.0"?>\n<!DOCTYPE opml [\n <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">\n'
              + "".join(f' <!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n' for i in range(8))
              + ']>\n<opml version="2.0"><body>\n<outline text="&i;" xmlUrl="https://a.example/rss"/></body></opml>')
    with pytest.raises(OpmlError) as info:
        parse_opml(laughs.encode(), "bomb.opml")
    assert str(info.value).startswith("bomb.opml:14: malformed XML: undefined entity"), str(info.value)

    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    xxe = (f'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY x SYSTEM "file://{secret}">]>\n'
           '<opml version="2.0"><body><outline text="&x;" xmlUrl="https://a.example/rss"/></body></opml>')
    with pytest.raises(OpmlError) as info:
        parse_opml(xxe.encode(), "xxe.opml")
    assert "TOPSECRET" not in str(info.value)
    assert str(info.value).startswith("xxe.opml:3: malformed XML")

    # a short literal entity (as &nbsp; declarations) is fine
    ok = ('<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY nbsp "&#160;">]>\n'
          '<opml version="2.0"><body><outline text="A&nbsp;B" xmlUrl="https://a.example/rss"/></body></opml>')
    assert parse_opml(ok.encode(), "ok.opml").feeds[0].title == "A\u00a0B"


def test_size_and_depth_are_bounded() -> None:
    deep = "<outline text='x'>" * 60 + "</outline>" * 60
    with pytest.raises(OpmlError, match="nested deeper than"):
        parse_opml(opml(deep), "deep.opml")
    with pytest.raises(OpmlError, match="larger than 16 MB"):
        parse_opml(b" " * (16 * 1024 * 1024 + 1), "big.opml")


# --- ids ------------------------------------------------------------------------------------------

def test_ids_from_titles() -> None:
    assert slug("Krebs on Security!") == "krebs-on-security"
    assert slug("Süddeutsche Zeitung – Politik") == "suddeutsche-zeitung-politik"
    assert slug("中国新闻网") == ""
    assert len(slug("x" * 200)) == 64
    taken = {"bbc-world", "Feed"}
    assert unique_id("bbc-world", taken) == "bbc-world-2" and "bbc-world-2" in taken
    assert unique_id("bbc-world", taken) == "bbc-world-3"
    assert unique_id("feed", taken) == "feed-2"  # ids are compared ignoring case
    assert unique_id("y" * 64, set(["y" * 64])) == "y" * 62 + "-2"

    from monitor.opml import OpmlFeed

    assert derive_id(OpmlFeed(1, "中国新闻网", "https://www.chinanews.com.cn/rss/scroll-news.xml"), set()) == "chinanews-com-cn"
    assert derive_id(OpmlFeed(1, "", "https://feeds.example/rss"), set()) == "feeds-example"
    assert derive_id(OpmlFeed(1, "bbc-world", "https://x/rss"), {"bbc-world"}) == "bbc-world-2"
    assert derive_id(OpmlFeed(1, "Odd_Name.v2", "https://x/rss"), set()) == "Odd_Name.v2"  # a valid id is kept


# --- YAML for the new entries ---------------------------------------------------------------------

@pytest.mark.parametrize("value", ["plain", "yes", "no", "on", "null", "~", "1.0", "0x1F", "2026-01-01", "a: b", "#x",
                                   "- x", "[x]", "{x}", "'q'", '"q"', "back\\slash", "tab\there", "line\nbreak",
                                   "\u2028sep\u2029", "\x85nel", "\ufeffbom", "Tin tức", "🙂", "https://a/b?c=d&e=f",
                                   " lead", "trail ", "", "*alias", "&anchor", "!tag", "%x", "@x", "`x"])
def test_yaml_scalars_read_back_as_written(value: str) -> None:
    assert yaml.safe_load(f"k: {yaml_scalar(value)}") == {"k": value}


def test_entries_yaml_is_one_flow_mapping_per_line() -> None:
    entries = [{"id": "a", "type": "feed", "url": "https://a.example/rss", "tags": ["x", "Tin tức"]}]
    text = entries_yaml(entries)
    assert text == 'sources:\n  - {id: a, type: feed, url: "https://a.example/rss", tags: [x, "Tin tức"]}\n'
    assert yaml.safe_load(text) == {"sources": entries}


# --- appending to config.yaml ---------------------------------------------------------------------

NEW = [{"id": "new-one", "type": "feed", "url": "https://n.example/feed?a=1&b=2", "tags": ["yes", "x"]},
       {"id": "new-two", "type": "sitemap", "url": "https://n.example/sitemap.xml", "interval": "1h"}]


def test_shipped_config_keeps_every_line_and_comment() -> None:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    out = add_sources(text, NEW)
    assert only_added(text, out) == [
        '  - {id: new-one, type: feed, url: "https://n.example/feed?a=1&b=2", tags: ["yes", x]}',
        '  - {id: new-two, type: sitemap, url: "https://n.example/sitemap.xml", interval: 1h}',
    ]
    assert out.index("new-one") > out.index("id: lenta")


@pytest.mark.parametrize("text, added", [
    # block mappings, indentless list, a comment that belongs to the next section stays with it
    ("store: {path: x.db}\nsources:\n- id: a\n  type: feed\n  url: https://a.example/feed\n# about server\n\n"
     "server:\n    listen: 127.0.0.1:9464   # odd indent\n",
     ["- id: new-one", "  type: feed", '  url: "https://n.example/feed?a=1&b=2"', '  tags: ["yes", x]',
      "- id: new-two", "  type: sitemap", '  url: "https://n.example/sitemap.xml"', "  interval: 1h"]),
    # wide indentation and offsets are kept
    ("sources:\n    -   id: a\n        type: feed\n        url: 'https://a.example/feed'\n# end\n",
     ["    -   id: new-one", "        type: feed", '        url: "https://n.example/feed?a=1&b=2"', '        tags: ["yes", x]',
      "    -   id: new-two", "        type: sitemap", '        url: "https://n.example/sitemap.xml"', "        interval: 1h"]),
    # a nested list in the last item, blank lines and a comment after it
    ("sources:\n  - id: a\n    type: page\n    url: https://a.example/\n    selectors:\n      - a.x\n\n\n# next\nlog: {level: info}\n",
     ["  - id: new-one", "    type: feed", '    url: "https://n.example/feed?a=1&b=2"', '    tags: ["yes", x]',
      "  - id: new-two", "    type: sitemap", '    url: "https://n.example/sitemap.xml"', "    interval: 1h"]),
    # no sources yet: a new section at the end
    ("# only a comment\nstore:\n  path: x.db\n",
     ["", "sources:", '  - {id: new-one, type: feed, url: "https://n.example/feed?a=1&b=2", tags: ["yes", x]}',
      '  - {id: new-two, type: sitemap, url: "https://n.example/sitemap.xml", interval: 1h}']),
    ("", ["sources:", '  - {id: new-one, type: feed, url: "https://n.example/feed?a=1&b=2", tags: ["yes", x]}',
          '  - {id: new-two, type: sitemap, url: "https://n.example/sitemap.xml", interval: 1h}']),
    ("sources:\nstore: {path: x.db}\n",
     ['  - {id: new-one, type: feed, url: "https://n.example/feed?a=1&b=2", tags: ["yes", x]}',
      '  - {id: new-two, type: sitemap, url: "https://n.example/sitemap.xml", interval: 1h}']),
], ids=["indentless-block", "wide", "nested-then-comment", "no-sources", "empty-file", "null"])
def test_styles_are_kept(text: str, added: list[str]) -> None:
    out = add_sources(text, NEW)
    assert only_added(text, out) == added
    assert to_plain(fast_load(out))["sources"][-2:] == NEW


def test_empty_flow_list_becomes_a_block_list_and_crlf_stays() -> None:
    out = add_sources("# c\r\nsources: []   # none yet\r\nstore: {path: x.db}\r\n", NEW[:1])
    assert out == ('# c\r\nsources:   # none yet\r\n  - {id: new-one, type: feed, url: "https://n.example/feed?a=1&b=2", '
                   'tags: ["yes", x]}\r\nstore: {path: x.db}\r\n')


ONE = '{id: new-one, type: feed, url: "https://n.example/feed?a=1&b=2", tags: ["yes", x]}'


@pytest.mark.parametrize("text, expected", [
    ("# c\r\nsources:\r\n  - {id: a, type: feed, url: 'https://a.example/feed'}\r\nstore: {path: x.db}\r\n",
     f"# c\r\nsources:\r\n  - {{id: a, type: feed, url: 'https://a.example/feed'}}\r\n  - {ONE}\r\nstore: {{path: x.db}}\r\n"),
    ("sources:\r\n  - id: a\r\n    type: feed\r\n    url: https://a.example/feed",   # no final line break
     'sources:\r\n  - id: a\r\n    type: feed\r\n    url: https://a.example/feed\r\n  - id: new-one\r\n    type: feed\r\n'
     '    url: "https://n.example/feed?a=1&b=2"\r\n    tags: ["yes", x]\r\n'),
    ("# only a comment\r\nstore:\r\n  path: x.db\r\n",                                # a new section
     f"# only a comment\r\nstore:\r\n  path: x.db\r\n\r\nsources:\r\n  - {ONE}\r\n"),
    ("store: {path: x.db}\n", f"store: {{path: x.db}}\n\nsources:\n  - {ONE}\n"),
], ids=["flow-items", "block-items-no-final-eol", "no-sources", "lf"])
def test_new_lines_end_as_the_files_lines_do(text: str, expected: str) -> None:
    assert add_sources(text, NEW[:1]) == expected


@pytest.mark.parametrize("text", ["sources: [{id: a, type: feed, url: 'https://a/x'}]\n", "{sources: []}\n",
                                  "- a\n- b\n", "sources: nope\n"])
def test_what_cannot_be_appended_to_is_refused(text: str) -> None:
    with pytest.raises(CannotEdit):
        add_sources(text, NEW)


def test_written_shipped_config_validates(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(add_sources((ROOT / "config.yaml").read_text(encoding="utf-8"), NEW), encoding="utf-8")
    config = load_config(cfg)
    assert [s.id for s in config.sources][-3:] == ["lenta", "new-one", "new-two"]
