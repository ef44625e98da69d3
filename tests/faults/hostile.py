"""Hostile inputs for the fault suite, and a crawl runner that measures the crawl process.

Everything here is generated: random bytes from fixed seeds, entity bombs, a gzip bomb made once by
streaming zlib over zeros (cached on disk, a few MB however large the bomb), streamed bodies that the
local server never holds whole. NEWSMON_FAULTS_SCALE (default 1; `make faults` sets more) scales the
number of random-byte seeds and the size of the gzip bomb.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import format_datetime
from html import escape
from pathlib import Path

from tests.httpserver import LocalSite
from tests.receiver import Receiver
from tests.sitedata import STORIES, Story, article_html, rss
from tests.smtpserver import SmtpServer

MiB = 1024 * 1024
GiB = 1024 * MiB

# The crawl settings every fault crawl shares.
TIMEOUT_S = 8                 # crawl.timeout: cuts a trickling server (a loaded 2-core box needs headroom)
MAX_SIZE = 16_000_000         # crawl.max_size: above the gzip bomb's compressed size, far below 200 MB
MAX_PER_POLL = 20             # crawl.max_articles_per_poll
MAX_RSS_MB = 600              # the crawl process's peak resident set must stay below this

OUTAGE = STORIES[0]           # the healthy source's story (matches "outage")


def scale() -> int:
    """NEWSMON_FAULTS_SCALE: 1 for `make test`, more for `make faults`."""
    try:
        return max(1, int(os.environ.get("NEWSMON_FAULTS_SCALE", "1")))
    except ValueError:
        return 1


# -- cases -----------------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    type: str                                   # feed, sitemap, page
    path: str
    expect: str | Callable[[str], bool] | None  # the poll's error (exact, or a check); None: the poll succeeds
    extra: str = ""                             # more keys for the source's config entry
    error_path: str | None = None               # the URL the error names, if not the source's own


def cut(body: bytes, fraction: float = 0.6) -> bytes:
    """The first `fraction` of the bytes: a copy cut short, served as if complete."""
    return body[: int(len(body) * fraction)]


# -- bodies ----------------------------------------------------------------------------------------

def random_bytes(seed: int, size: int = 256 * 1024) -> bytes:
    return random.Random(seed).randbytes(size)


def zeros(total: int, chunk: int = MiB) -> Iterator[bytes]:
    """`total` bytes of filler, produced a chunk at a time."""
    block = b" " * chunk
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield block[:n]
        sent += n


def file_chunks(path: Path, chunk: int = 256 * 1024) -> Iterator[bytes]:
    with path.open("rb") as f:
        while data := f.read(chunk):
            yield data


def gzip_bomb(decompressed: int) -> Path:
    """A gzip file that inflates to `decompressed` zero bytes (~1 MB per GiB), made once and cached in
    the temp directory (atomically: concurrent runs may share it)."""
    folder = Path(tempfile.gettempdir()) / "newsmon-faults"
    folder.mkdir(exist_ok=True)
    path = folder / f"zeros-{decompressed}.gz"
    if path.exists():
        return path
    tmp = folder / f".zeros-{decompressed}.{os.getpid()}.{threading.get_ident()}"
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    with tmp.open("wb") as out:
        left = decompressed
        while left > 0:
            n = min(left, MiB)
            out.write(z.compress(block if n == MiB else block[:n]))
            left -= n
        out.write(z.flush())
    tmp.replace(path)
    return path


def billion_laughs(levels: int = 10) -> str:
    """Internal DTD subset for the classic entity bomb: &lol9; expands to 10^9 'lol's."""
    decls = ['<!ENTITY lol0 "lol">']
    decls += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    return "".join(decls)


def quadratic_blowup(size: int = 64 * 1024) -> str:
    """One long entity (referenced many times by the document): no nesting, just size."""
    return f'<!ENTITY big "{"x" * size}">'


def rss_doc(base: str, items: list[dict[str, str]], doctype: str = "", title: str = "Hostile News") -> bytes:
    """An RSS 2.0 document; item values are inserted as given (already XML, may hold entity refs)."""
    body = "".join(
        "<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + "</item>" for item in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?>{doctype}<rss version="2.0"><channel><title>{title}</title>'
            f"<link>{base}/</link><description>hostile</description>{body}</channel></rss>").encode()


def urlset_doc(urls: list[str], doctype: str = "") -> bytes:
    locs = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return (f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>').encode()


def sitemap_index(urls: list[str]) -> bytes:
    locs = "".join(f"<sitemap><loc>{escape(u)}</loc></sitemap>" for u in urls)
    return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + locs + "</sitemapindex>").encode()


def big_feed(base: str, entries: int, path: str = "/big/") -> bytes:
    """A feed of `entries` minimal items, newest first, each linking to `{base}{path}{n}.html`."""
    items = "".join(
        f"<item><title>Filler item number {n}</title><link>{base}{path}{n}.html</link></item>" for n in range(entries)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Flood</title>'
            f"<link>{base}/</link><description>many entries</description>{items}</channel></rss>").encode()


def listing_html(links: list[tuple[str, str]]) -> bytes:
    lis = "".join(f'<li><a href="{escape(href)}">{escape(text)}</a></li>' for href, text in links)
    return (f"<!DOCTYPE html><html><head><title>Latest</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<main><h1>Latest news</h1><ul>{lis}</ul></main></body></html>").encode()


# Control sequences a feed can carry into alerts: a Slack broadcast mention and a Slack link with a
# lying label, and a CR LF that would start a mail header.
SLACK_MENTION = "<!channel>"
SLACK_LINK = "<http://evil.example/phish|click here>"
MAIL_HEADER = "Bcc: victim@example.com"


def _xml_text(text: str, keep_cr: bool = True) -> str:
    """Escaped for XML; CR as a character reference (a literal CR LF is read as LF by XML parsers)."""
    out = escape(text, quote=False)
    return out.replace("\r", "&#13;") if keep_cr else out


def crlf_story_item(base: str, story: Story) -> dict[str, str]:
    """An RSS item with the control sequences in every field: title, link, description, author."""
    body = " ".join(story.paragraphs)
    return {
        "title": _xml_text(f"{story.title} {SLACK_MENTION} {SLACK_LINK}\r\n{MAIL_HEADER}"),
        "link": f"{base}/news/{story.slug}.html?ref=" + _xml_text(f"{SLACK_MENTION}\r\n{MAIL_HEADER}"),
        "description": _xml_text(f"{SLACK_MENTION} {body} {SLACK_LINK}\r\n{MAIL_HEADER}", keep_cr=False),
        "author": _xml_text(f"x@y.example ({SLACK_MENTION})\r\n{MAIL_HEADER}"),
        "pubDate": format_datetime(story.published()),
    }


# -- running the crawl -----------------------------------------------------------------------------

@dataclass
class Crawl:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float         # the crawl process's own peak resident set (wait4 rusage)

    def records(self) -> list[dict[str, object]]:
        """stderr as JSON log records; a line that is not one (a stray traceback...) fails the test."""
        out = []
        for line in self.stderr.splitlines():
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"stderr line is not a JSON log record: {line[:300]!r}") from None
        return out


def run_crawl(config: Path, cwd: Path, timeout: float) -> Crawl:
    """`newsmon crawl --once -c config` in a subprocess, its peak RSS measured with wait4 (for that
    process alone, unlike RUSAGE_CHILDREN, which is the maximum over every child this test run waited for)."""
    env = dict(os.environ)
    env.pop("NEWSMON_CONFIG", None)
    out_path, err_path = cwd / "crawl.stdout", cwd / "crawl.stderr"
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "crawl", "--once", "-c", str(config)],
                                cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if seconds >= timeout:
        raise AssertionError(f"the crawl did not finish within {timeout}s (killed)")
    return Crawl(proc.returncode, out_path.read_text("utf-8", "replace"), err_path.read_text("utf-8", "replace"),
                 seconds, usage.ru_maxrss / 1024)  # ru_maxrss: KiB on Linux


def summary_notes(stdout: str, source_ids: list[str]) -> dict[str, list[str]]:
    """Each source's row of the crawl summary table: [NEW, SEEN, MATCHED, ALERTS, ERRORS, NOTE]."""
    rows: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in source_ids and len(parts) >= 6 and parts[1].isdigit():
            rows[parts[0]] = [*parts[1:6], " ".join(parts[6:])]
    missing = sorted(set(source_ids) - set(rows))
    assert not missing, f"no summary line for {missing} in:\n{stdout}"
    return rows


# -- configs and common assertions ---------------------------------------------------------------

def write_config(tmp: Path, healthy: LocalSite, sources: str, rx: Receiver, smtp: SmtpServer | None = None,
                 timeout: float = TIMEOUT_S, max_per_poll: int = MAX_PER_POLL) -> Path:
    """The healthy source first, then `sources`; alerts to the console, a webhook, Slack and (with `smtp`)
    email, each on a local receiver."""
    mail = ""
    if smtp is not None:
        mail = (f'  mail: {{type: email, host: 127.0.0.1, port: {smtp.port}, security: none, '
                f'from: "newsmon <newsmon@example.com>", to: [ops@example.com]}}\n')
    path = tmp / "config.yaml"
    path.write_text(f"""\
store: {{path: test.db}}
log: {{format: json}}
crawl: {{delay: 0s, timeout: {timeout}s, retries: 0, concurrency: 32, per_domain: 32, max_size: {MAX_SIZE},
         max_articles_per_poll: {max_per_poll}}}
channels:
  console: {{type: console}}
  hook: {{type: webhook, url: "{rx.url}/hook"}}
  slack: {{type: slack, url: "{rx.url}/slack", rate_limit: none}}
{mail}routes:
  - channels: [console, hook, slack{", mail" if smtp else ""}]
    group_by: [story]
    group_wait: 0s
    group_interval: 0s
delivery: {{backoff_base: 0.2s, backoff_max: 1s, drain_timeout: 20s}}
sources:
  - {{id: healthy, type: feed, url: '{healthy.url("/feed.xml")}'}}
{sources}""", encoding="utf-8")
    return path


def source_entries(site: LocalSite, cases: list[Case]) -> str:
    return "".join(
        f"  - {{id: {c.id}, type: {c.type}, url: '{site.url(c.path)}'"
        f"{'' if 'max_age' in c.extra else ', max_age: 30d'}{c.extra}}}\n" for c in cases
    )


def serve_healthy(healthy: LocalSite) -> str:
    """The healthy source's matching story; returns the story's URL."""
    healthy.add(f"/news/{OUTAGE.slug}.html", article_html(OUTAGE))
    healthy.add("/feed.xml", rss(healthy.base, [OUTAGE]), content_type="application/rss+xml")
    return healthy.url(f"/news/{OUTAGE.slug}.html")


def db_rows(tmp: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(tmp / "test.db") as conn:
        return conn.execute(sql, args).fetchall()


def db_dump(tmp: Path) -> str:
    with sqlite3.connect(tmp / "test.db") as conn:
        return "\n".join(conn.iterdump())


def report(name: str, crawl: Crawl, rows: dict[str, list[str]], record_property: Callable[[str, object], None],
           sources: int | None = None) -> None:
    """Print the crawl's figures and summary rows (`pytest -s`) and record the figures as properties."""
    record_property("peak_rss_mb", round(crawl.peak_rss_mb))
    record_property("crawl_seconds", round(crawl.seconds, 1))
    print(f"\n{name}: {sources or len(rows)} sources, {crawl.seconds:.1f}s, peak RSS {crawl.peak_rss_mb:.0f} MB, "
          f"exit {crawl.returncode}, NEWSMON_FAULTS_SCALE={scale()}")
    for sid, row in rows.items():
        print(f"  {sid:24} {' '.join(row[:5])}  {row[5][:150]}")


def assert_ran_to_the_end(crawl: Crawl, returncode: int) -> list[dict[str, object]]:
    """Exit code as expected, no traceback, every stderr line a JSON log record, every ERROR record
    naming its source, memory bounded. Returns the records."""
    assert crawl.returncode == returncode, f"exit {crawl.returncode}\n{crawl.stderr[-3000:]}"
    output = crawl.stdout + crawl.stderr
    at = output.find("Traceback")
    assert at < 0, f"traceback in the output:\n{output[max(0, at - 500):at + 3000]}"
    records = crawl.records()
    assert [r for r in records if "exception" in r] == []
    anonymous = [r["message"] for r in records if r["level"] in ("error", "critical") and "source" not in r]
    assert anonymous == [], "error lines that name no source"
    assert crawl.peak_rss_mb < MAX_RSS_MB, f"peak RSS {crawl.peak_rss_mb:.0f} MB"
    return records


def assert_healthy_alerted(tmp: Path, crawl: Crawl, rows: dict[str, list[str]], story_url: str, rx: Receiver,
                           channels: int) -> None:
    assert rows["healthy"][:5] == ["1", "0", "1", str(channels), "0"], rows["healthy"]
    assert db_rows(tmp, "SELECT categories FROM articles WHERE url = ?", story_url) == [('["outage"]',)]
    assert "=== " in crawl.stdout and OUTAGE.title in crawl.stdout, "console alert"
    hooked = [a["url"] for r in rx.requests if r.path == "/hook" for a in r.json()["alerts"]]
    assert story_url in hooked, "webhook alert"
    assert any(OUTAGE.title in r.body.decode() for r in rx.requests if r.path == "/slack"), "Slack alert"


def slack_texts(payload: object, kind: str = "mrkdwn") -> list[tuple[str, str]]:
    """(kind, text) of every text in a Slack payload: the top-level fallback is mrkdwn."""
    out: list[tuple[str, str]] = []
    if isinstance(payload, dict):
        here = str(payload.get("type", kind))
        for key, value in payload.items():
            if key == "text" and isinstance(value, str):
                out.append((here if here in ("mrkdwn", "plain_text") else kind, value))
            else:
                out += slack_texts(value, here if here in ("mrkdwn", "plain_text") else kind)
    elif isinstance(payload, list):
        for item in payload:
            out += slack_texts(item, kind)
    return out
