"""monitor.extract: decoding real pages in legacy encodings, main text on trafilatura's evaluation set,
metadata dates on newspaper4k pages, home pages are not articles."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from monitor.extract import decode_html, detect_encoding, extract_page, is_probably_article
from tests.conftest import SHARED

PAGES = SHARED / "corpus" / "pages"
TRAF = PAGES / "trafilatura"
N4K = PAGES / "newspaper4k"


def _traf_file(name: str) -> Path:
    for sub in ("cache", "eval"):
        if (TRAF / sub / name).exists():
            return TRAF / sub / name
    raise FileNotFoundError(name)


EVAL = json.loads((TRAF / "evaldata-subset.json").read_text(encoding="utf-8")) if TRAF.is_dir() else {}


@pytest.fixture(scope="module")
def eval_results() -> dict[str, object]:
    return {url: extract_page(_traf_file(d["file"]).read_bytes(), url) for url, d in EVAL.items()}


@pytest.mark.conformance
def test_evaldata_with_and_without_snippets(eval_results) -> None:  # type: ignore[no-untyped-def]
    with_ok = with_all = without_ok = without_all = 0
    for url, d in EVAL.items():
        text = eval_results[url].text
        with_all += len(d["with"])
        with_ok += sum(s in text for s in d["with"])
        without_all += len(d["without"])
        without_ok += sum(s not in text for s in d["without"])
    print(f"evaldata: with {with_ok}/{with_all}, without {without_ok}/{without_all}")
    # measured at commit time: with 199/223 (89%), without 221/241 (92%)
    assert with_ok / with_all >= 0.87
    assert without_ok / without_all >= 0.90


@pytest.mark.conformance
def test_every_eval_page_gives_text(eval_results) -> None:  # type: ignore[no-untyped-def]
    empty = [EVAL[url]["file"] for url, page in eval_results.items() if not page.text]
    assert empty == []
    assert all(page.error is None for page in eval_results.values())


ENCODING_CASES = [
    # the Wayback toolbar declares utf-8 (on its scripts), the page itself gb2312: the bytes are GB2312
    ("eval/archive.org.he.xinhuanet.com.25340717.html", "gb18030", "约定无期限"),
    ("eval/nhk.or.jp.k100.html", "utf-8", None),
    ("eval/Osthessen-news.de-Buergermeisterwahl.html", "utf-8", None),
    ("eval/Unijne fundusze coraz bliżej. Sejm zagłosował _za_ - Polityka - rp.pl.html", "cp1250", "Sejm"),
    ("cache/landwirt.com.sensortechnik.html", "cp1252", None),
    ("eval/d60caba9d12c467b9708ec8981cad8aa.html", "cp1252", None),
]


def _path(rel: str) -> Path:
    p = TRAF / rel
    if not p.exists():
        p = _traf_file(Path(rel).name)
    return p


@pytest.mark.conformance
@pytest.mark.parametrize("rel, codec, needle", ENCODING_CASES, ids=[c[0] for c in ENCODING_CASES])
def test_page_encodings(rel: str, codec: str, needle: str | None) -> None:
    body = _path(rel).read_bytes()
    assert detect_encoding(body).replace("_", "-") == codec
    text = decode_html(body)
    assert "\ufffd" not in text
    assert not text.startswith("\ufeff")
    if needle:
        assert needle in text


@pytest.mark.conformance
def test_bom_pages_lose_the_bom() -> None:
    boms = [p for p in (TRAF / "eval").iterdir() if p.read_bytes().startswith(b"\xef\xbb\xbf")]
    boms += [p for p in (TRAF / "cache").iterdir() if p.read_bytes().startswith(b"\xef\xbb\xbf")]
    assert len(boms) == 4
    for p in boms:
        assert not decode_html(p.read_bytes()).startswith("\ufeff")


@pytest.mark.conformance
def test_invalid_utf8_byte_does_not_change_the_encoding() -> None:
    [path] = [p for p in TRAF.rglob("Sprzeciw wobec*")]
    body = path.read_bytes()
    assert detect_encoding(body) == "utf_8"
    text = decode_html(body)
    assert text.count("\ufffd") == 1  # the truncated teaser character, nothing else
    assert "Sprzeciw wobec ataków" in text


def test_http_charset_wins_when_it_fits() -> None:
    body = "<html><head><meta charset='utf-8'></head><body>Ελληνικά</body></html>".encode("iso-8859-7")
    assert "Ελληνικά" in decode_html(body, "text/html; charset=ISO-8859-7")
    # a wrong HTTP charset that the bytes do not fit loses to detection
    body = ("<html><body>" + "中文新闻标题，中国联通系统升级导致异常扣费。" * 20 + "</body></html>").encode("gbk")
    assert "中国联通" in decode_html(body, "text/html; charset=utf-8")


CHARDET_PAGES = [
    ("windows-1256-arabic/_chromium_windows-1256_with_no_encoding_specified.html", "ال"),
    ("Big5/_chromium_Big5_with_no_encoding_specified.html", None),
    ("GB2312/_chromium_gb18030_with_no_encoding_specified.html.xml", None),
    ("KOI8-R/_chromium_KOI8-R_with_no_encoding_specified.html", None),
    ("CP932/hardsoft.at.webry.info.xml", None),
]


@pytest.mark.conformance
def _chardet(rel: str) -> Path | None:
    p = PAGES / "chardet" / rel
    return p if p.exists() else None


@pytest.mark.conformance
@pytest.mark.parametrize(
    "path",
    sorted(p for p in (PAGES / "chardet").rglob("*") if p.is_file() and p.name != "LICENSE"),
    ids=lambda p: str(p.relative_to(PAGES / "chardet")),
)
def test_chardet_pages_decode_cleanly(path: Path) -> None:
    text = decode_html(path.read_bytes())
    assert text
    assert text.count("\ufffd") == 0


@pytest.mark.conformance
def test_windows_1256_arabic_without_declaration() -> None:
    [path] = list((PAGES / "chardet" / "windows-1256-arabic").glob("*.html"))
    text = decode_html(path.read_bytes())
    assert sum("\u0600" <= ch <= "\u06ff" for ch in text) > 50


META = sorted(p for p in (N4K / "metadata").glob("*.json") if json.loads(p.read_text())["publish_date"])


@pytest.mark.conformance
@pytest.mark.parametrize("meta_path", META, ids=[p.stem for p in META])
def test_newspaper4k_publish_date(meta_path: Path) -> None:
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    page = extract_page((N4K / "html" / f"{meta_path.stem}.html").read_bytes(), meta.get("url") or "http://example.com/")
    expected = datetime.fromisoformat(meta["publish_date"])
    assert page.published is not None and page.published.tzinfo is not None
    if expected.tzinfo is not None:  # newspaper4k kept the zone: the instant must match
        assert page.published == expected
    else:  # newspaper4k dropped the zone (and often the time): the calendar day must match
        assert page.published.date() == expected.date()


@pytest.mark.conformance
@pytest.mark.parametrize(
    "stem, language",
    [("arabic_article", "ar"), ("chinese_article_001", "zh"), ("japanese_article", "ja"), ("thai_article", "th"),
     ("latvian_article", "lv"), ("spanish_article", "es"), ("burmese_article", "my"), ("cnn_article", "en")],
    ids=lambda v: str(v),
)
def test_newspaper4k_language(stem: str, language: str) -> None:
    page = extract_page((N4K / "html" / f"{stem}.html").read_bytes(), "http://example.com/a")
    assert page.language == language


@pytest.mark.conformance
@pytest.mark.parametrize(
    "stem, article",
    [("cnn_main_site", False), ("wired_main_site", False), ("yahoo_main_site", False),
     ("cnn_article", True), ("wired_001", True), ("arabic_article", True), ("spanish_article", True)],
    ids=lambda v: str(v),
)
def test_is_probably_article(stem: str, article: bool) -> None:
    page = extract_page((N4K / "html" / f"{stem}.html").read_bytes(), "http://example.com/")
    assert is_probably_article(page) is article


def test_canonical_link_preferred_when_same_site() -> None:
    html = (b"<html><head><title>T</title><link rel='canonical' href='https://news.example.com/a/1?utm_source=x'>"
            b"</head><body><article><p>" + b"Word " * 100 + b"</p></article></body></html>")
    assert extract_page(html, "https://www.example.com/a/1?fbclid=9#top").url == "https://news.example.com/a/1"
    other = html.replace(b"news.example.com", b"evil.example.org")
    assert extract_page(other, "https://www.example.com/a/1?fbclid=9#top").url == "https://www.example.com/a/1"


def test_declared_language_and_metadata_date() -> None:
    html = ("<html lang='de-AT'><head><meta property='article:published_time' content='2024-02-03T04:05:06+01:00'>"
            "<title>Störung bei Netz | Zeitung</title></head><body><article><h1>Störung bei Netz</h1><p>"
            + "Der Netzbetreiber meldet eine großflächige Störung im Mobilfunknetz. " * 10
            + "</p></article></body></html>").encode()
    page = extract_page(html, "https://zeitung.example/a")
    assert (page.language, page.language_source) == ("de", "declared")
    assert page.title == "Störung bei Netz"
    assert page.published is not None and page.published.isoformat() == "2024-02-03T04:05:06+01:00"


def test_feed_hint_overridden_by_detection() -> None:
    html = ("<html><body><article><p>" + "中国联通用户凌晨被异常扣费，扣费已原路退回。" * 10 + "</p></article></body></html>").encode()
    page = extract_page(html, "http://example.cn/a", "text/html; charset=utf-8", language_hint="en-us")
    assert (page.language, page.language_source) == ("zh", "detected")


@pytest.mark.parametrize(
    "body, error",
    [
        (b"", "empty page"),
        (b"   ", "empty page"),
        (b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no main text found"),
        (b"\x00\x01\x02\xff\xfe garbage", "no main text found"),
    ],
    ids=["empty", "blank", "nav-only", "binary"],
)
def test_bad_pages_exact_errors(body: bytes, error: str) -> None:
    page = extract_page(body, "http://example.com/x")
    assert page.error == error
    assert page.text == ""


@pytest.mark.conformance
def test_truncated_page_still_extracts() -> None:
    body = (N4K / "html" / "cnn_article.html").read_bytes()
    page = extract_page(body[: len(body) // 2], "http://www.cnn.com/2013/11/27/travel/weather-thanksgiving/index.html")
    assert page.error is None
    assert "Thanksgiving" in page.text
