"""The status page in a real headless Chromium (Playwright driving Debian's /usr/bin/chromium), served by the
real HealthServer over a real store: the sources table (state, polls, errors, sparkline), the open stories,
the outbox per channel and the silences show the store's values; a story's page and an article's page
(reached by following links) too; everything works with JavaScript disabled; and a screenshot is a real
render (a PNG that decodes, of a sensible size, with many colours).

Chromium is installed when missing (apt-get, as root); otherwise the test fails saying how to install it."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_newsmon, system_tool
from tests.test_web_api import Server, Site, build_store

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = system_tool("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS, headless=True, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    s = build_store(tmp_path)
    proc = run_newsmon("silence", "add", "--match", "entity=MoMo", "--for", "2h", "--reason",
                       "known incident <script>alert(1)</script>", "-c", str(s.config), cwd=s.dir)
    assert proc.returncode == 0, proc.stderr
    return s


@pytest.fixture
def server(site: Site) -> Iterator[Server]:
    s = Server(site)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1400, "height": 900})
    try:
        pg = context.new_page()
        pg.set_default_timeout(20_000)
        yield pg
    finally:
        context.close()


def cells(page: Any, row_selector: str) -> list[str]:
    return [c.strip() for c in page.locator(f"{row_selector} td").all_inner_texts()]


def test_overview_shows_the_store(server: Server, page: Any, tmp_path: Path) -> None:
    resp = page.goto(server.base + "/")
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/html")
    assert page.title() == "newsmon status"
    assert page.locator("#daemon").inner_text() == "daemon: not running"
    assert page.locator("script").count() == 0          # no JavaScript at all

    # sources: state, polls, counts, errors, sparkline
    assert page.locator("#sources tbody tr").count() == 4
    reuters = cells(page, '#sources tr[data-source="reuters"]')
    assert reuters[:3] == ["reuters", "feed", "ok"]
    assert reuters[3] == "5m ago" and reuters[4] == "-"        # no daemon: nothing will poll it
    assert reuters[5] == "3" and reuters[7:10] == ["3", "0", "0"]
    ghana = cells(page, '#sources tr[data-source="ghanaweb"]')
    assert ghana[2] == "failing" and ghana[9] == "3" and ghana[10] == "HTTP 500 Internal Server Error"
    assert cells(page, '#sources tr[data-source="punch"]')[2:4] == ["never polled", "never"]
    assert cells(page, '#sources tr[data-source="quiet"]')[2] == "disabled"
    spark = page.locator('#sources tr[data-source="reuters"] svg.spark')
    assert spark.get_attribute("aria-label") == "3 new articles in the last 24 hours"
    assert spark.locator("rect").count() >= 1
    assert page.locator('#sources tr[data-source="punch"] svg.spark rect').count() == 0

    # open stories, the latest first
    assert page.locator("#stories tbody tr").count() == 2
    assert page.locator("#stories tbody tr td.title").all_inner_texts() == [
        "MoMo app down for hours", "MoMo accounts targeted in fraud scheme"]
    one = cells(page, '#stories tr[data-story="1"]')
    assert one[2:6] == ["fraud, outage", "MoMo", "en, fr", "3"]

    # the outbox per channel, and the dead letter
    assert cells(page, '#outbox tr[data-channel="ops"]') == ["ops", "1", "1", "1", "0", "0", "0", "1"]
    assert cells(page, '#outbox tr[data-channel="mail"]') == ["mail", "0", "1", "0", "0", "0", "1", "0"]
    dead = cells(page, f'#dead tr[data-alert="{server.site.outbox["dead"]}"]')
    assert dead[1] == "ops" and dead[4] == "slack ops: HTTP 404 Not Found: no_service"

    # silences, escaped
    silence = cells(page, "#silences tbody tr")
    assert silence[1] == "entity=MoMo" and silence[3] == "known incident <script>alert(1)</script>"

    # a screenshot that is a real render
    shot = tmp_path / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    check_render(shot.read_bytes(), min_width=1400)


def test_story_and_article_pages_by_following_links(server: Server, page: Any, tmp_path: Path) -> None:
    page.goto(server.base + "/")
    page.click('#stories tr[data-story="1"] td.title a')     # a plain link: no JavaScript needed
    page.wait_for_url("**/stories/1")
    assert page.locator("#story-title").inner_text() == "MoMo accounts targeted in fraud scheme"
    assert page.locator("#story .categories").inner_text() == "fraud, outage"
    assert page.locator("#story .reports").inner_text().startswith("3, first ")
    rows = page.locator("#articles tbody tr")
    assert rows.count() == 3
    assert cells(page, '#articles tr[data-article="3"]')[3] == "reuters"
    assert cells(page, '#articles tr[data-article="3"]')[6] == "copy of #1"
    shot = tmp_path / "story.png"
    page.screenshot(path=str(shot), full_page=True)
    check_render(shot.read_bytes(), min_width=1400)

    page.click('#articles tr[data-article="1"] td a')
    page.wait_for_url("**/articles/1")
    assert page.locator("#article-title").inner_text() == "MoMo accounts targeted in fraud scheme"
    explanation = page.locator("#explanation").inner_text()
    assert "fraud: score" in explanation and "FLAGGED" in explanation

    resp = page.goto(server.base + "/stories/99")
    assert resp.status == 404 and page.locator("#error").inner_text() == "no story 99"


def test_page_with_a_token(site: Site, page: Any) -> None:
    token = "page-token-1234567"
    site.config.write_text(site.config.read_text() + "server:\n  token: ${PAGE_TOKEN}\n", encoding="utf-8")
    s = Server(site, env={"PAGE_TOKEN": token})
    try:
        assert page.goto(s.base + "/").status == 401
        assert page.goto(f"{s.base}/?token={token}").status == 200
        page.click('#stories tr[data-story="2"] td.title a')     # the link carries the token
        page.wait_for_url(f"**/stories/2?token={token}")
        assert page.locator("#story-title").inner_text() == "MoMo app down for hours"
        assert page.context.cookies() == []                       # and no cookie was set
    finally:
        s.stop()


# -- PNG ------------------------------------------------------------------------------------------------

def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of pixels) of an 8-bit RGB or RGBA PNG, unfiltered; raises on anything else."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        assert zlib.crc32(kind + chunk) == struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0], "bad CRC"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert header is not None, "no IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytes(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            else:
                assert f == 0, f"filter {f}"
        rows.append(bytes(line))
        prev = bytes(line)
    return width, height, rows


def check_render(png: bytes, min_width: int) -> None:
    assert len(png) > 10_000, f"screenshot of only {len(png)} bytes"
    width, height, rows = decode_png(png)
    assert width >= min_width and height >= 300, (width, height)
    bpp = len(rows[0]) // width
    colours = set()
    for row in rows[::3]:
        colours.update(row[i:i + 3] for i in range(0, len(row), bpp * 2))
    assert len(colours) > 50, f"only {len(colours)} colours: not a real render"
    # the header bar is dark, the page light: both are there
    top = rows[5][:3 * bpp]
    assert sum(top[:3]) < 200, f"header colour {tuple(top[:3])}"
    assert any(sum(rows[height // 2][i:i + 3]) > 600 for i in range(0, len(rows[0]), bpp))
