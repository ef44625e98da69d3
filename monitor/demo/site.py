"""The demo news site: a ThreadingHTTPServer on 127.0.0.1 serving the stories in monitor/demo/stories/
as a small multilingual news outlet, and publishing them one by one.

Per language (`en`, `de`, ...) it serves an HTML listing page `/<lang>/`, an RSS 2.0 feed
`/<lang>/rss.xml`, an Atom feed `/<lang>/atom.xml` and a Google News sitemap `/<lang>/sitemap-news.xml`;
site-wide a home page `/`, `/sitemap-news.xml` and `/robots.txt`. Article pages live at
`/<lang>/<section>/<slug>.html` and exist only once published. Every response carries an ETag (a hash of
the body) and index pages a Last-Modified; `If-None-Match` / `If-Modified-Since` get a 304, so a
poller that does conditional GETs sees "nothing new" until the next story comes out.

`DemoSite(stories, initial=N)` starts with N stories already published (back-dated by a few minutes each);
`publish_next()` releases the next one, stamped now; `start_timer(every)` does that on a background thread.
See `release_order` for the order stories come out in. Reads no config.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import yaml

from monitor.dates import parse_http_date

CATEGORIES = ("outage", "fraud", "rumor")
STORY_KEYS = {"slug", "section", "expect", "title", "paragraphs"}


@dataclass(frozen=True)
class DemoStory:
    slug: str
    language: str
    section: str
    expect: str            # the category the classifier should flag, or "none"
    title: str
    paragraphs: tuple[str, ...]
    outlet: str

    @property
    def path(self) -> str:
        return f"/{self.language}/{self.section}/{self.slug}.html"

    @property
    def alerting(self) -> bool:
        return self.expect != "none"


def stories_dir() -> Path:
    return Path(str(resources.files("monitor.demo") / "stories"))


def load_stories(directory: Path | None = None) -> list[DemoStory]:
    """Every story in `directory` (default: the bundled stories), file by file in name order.
    Raises ValueError naming the file and story when one is malformed."""
    directory = directory or stories_dir()
    out: list[DemoStory] = []
    slugs: set[str] = set()
    for file in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
        lang, outlet = doc.get("language"), doc.get("outlet")
        if not isinstance(lang, str) or not isinstance(outlet, str):
            raise ValueError(f"{file.name}: needs 'language' and 'outlet'")
        for i, raw in enumerate(doc.get("stories") or []):
            where = f"{file.name}: stories[{i}]"
            if not isinstance(raw, dict) or set(raw) != STORY_KEYS:
                raise ValueError(f"{where}: needs exactly the keys {', '.join(sorted(STORY_KEYS))}")
            if raw["expect"] not in (*CATEGORIES, "none"):
                raise ValueError(f'{where}: expect must be one of {", ".join(CATEGORIES)} or "none"')
            if raw["slug"] in slugs:
                raise ValueError(f'{where}: duplicate slug "{raw["slug"]}"')
            slugs.add(raw["slug"])
            out.append(DemoStory(slug=raw["slug"], language=lang, section=raw["section"], expect=raw["expect"],
                                 title=raw["title"], paragraphs=tuple(raw["paragraphs"]), outlet=outlet))
    return out


def _round_robin(stories: Iterable[DemoStory]) -> list[DemoStory]:
    """One story per language in turn (languages in the order first seen), each language's in file order."""
    queues: dict[str, list[DemoStory]] = {}
    for s in stories:
        queues.setdefault(s.language, []).append(s)
    out: list[DemoStory] = []
    while any(queues.values()):
        for q in queues.values():
            if q:
                out.append(q.pop(0))
    return out


def release_order(stories: Iterable[DemoStory]) -> list[DemoStory]:
    """The order stories come out: first one alerting story per language, then ordinary and alerting
    stories alternately (each kind taking the languages in turn), so that a one-minute demo shows both
    alerts and stories that rightly stay quiet."""
    stories = list(stories)
    alerting = _round_robin(s for s in stories if s.alerting)
    ordinary = _round_robin(s for s in stories if not s.alerting)
    languages = len({s.language for s in alerting})
    out, alerting = alerting[:languages], alerting[languages:]
    while alerting or ordinary:
        if ordinary:
            out.append(ordinary.pop(0))
        if alerting:
            out.append(alerting.pop(0))
    return out


@dataclass(frozen=True)
class Published:
    story: DemoStory
    at: datetime


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class DemoSite:
    """`with DemoSite(initial=7) as site: site.publish_next(); site.url("/en/rss.xml")`"""

    def __init__(self, stories: list[DemoStory] | None = None, *, initial: int = 7, host: str = "127.0.0.1",
                 port: int = 0, clock: Callable[[], datetime] = _utcnow) -> None:
        self.clock = clock
        self._queue = release_order(stories if stories is not None else load_stories())
        self.languages = list(dict.fromkeys(s.language for s in self._queue))
        self.outlets = {s.language: s.outlet for s in self._queue}
        self._published: list[Published] = []
        self._changed: dict[str, datetime] = {}      # language -> time of its latest publication
        self._cache: dict[str, tuple[bytes, str, datetime | None]] = {}
        self._lock = threading.Lock()
        self._timer: threading.Thread | None = None
        self._timer_stop = threading.Event()
        self.on_publish: Callable[[Published], None] | None = None
        self.requests = 0
        self.not_modified = 0
        now = self.clock()
        for k in range(min(initial, len(self._queue))):   # already out: the oldest first, minutes apart
            self._publish(now - timedelta(minutes=5 * (initial - k)))

        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "newsmon-demo"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                site._serve(self, body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                site._serve(self, body=False)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="demo-site",
                                        daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> DemoSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_timer()
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    # -- publishing --------------------------------------------------------------------------

    @property
    def published(self) -> list[Published]:
        with self._lock:
            return list(self._published)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._queue)

    def publish_next(self) -> Published | None:
        """Release the next story, stamped now. None when every story is out."""
        item = self._publish(self.clock())
        if item is not None and self.on_publish is not None:
            self.on_publish(item)
        return item

    def _publish(self, at: datetime) -> Published | None:
        with self._lock:
            if not self._queue:
                return None
            item = Published(self._queue.pop(0), at)
            self._published.append(item)
            self._changed[item.story.language] = at
            self._cache.clear()
            return item

    def start_timer(self, every: float) -> None:
        """Publish the next story every `every` seconds on a background thread, until stop_timer()
        or until every story is out."""
        def loop() -> None:
            while not self._timer_stop.wait(every):
                if self.publish_next() is None:
                    return

        self._timer_stop.clear()
        self._timer = threading.Thread(target=loop, name="demo-publisher", daemon=True)
        self._timer.start()

    def stop_timer(self) -> None:
        self._timer_stop.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join(5)

    # -- serving -----------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = h.path.split("#")[0].split("?")[0]
        with self._lock:
            self.requests += 1
        found = self.render(path)
        if found is None:
            self._send(h, 404, b"not found\n", {"Content-Type": "text/plain; charset=utf-8"}, body)
            return
        data, content_type, last_modified = found
        etag = f'"{hashlib.sha1(data).hexdigest()[:20]}"'
        headers = {"Content-Type": content_type, "ETag": etag, "Cache-Control": "no-cache"}
        if last_modified is not None:
            headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
        if _not_modified(h.headers.get("If-None-Match"), h.headers.get("If-Modified-Since"), etag, last_modified):
            with self._lock:
                self.not_modified += 1
            self._send(h, 304, b"", {k: v for k, v in headers.items() if k != "Content-Type"}, body)
            return
        self._send(h, 200, data, headers, body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if status != 304:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if body and status != 304:
            h.wfile.write(data)

    def render(self, path: str) -> tuple[bytes, str, datetime | None] | None:
        """(body, content type, last modified) for a path, or None for a 404."""
        with self._lock:
            published = list(self._published)
            changed = dict(self._changed)
            cached = self._cache.get(path)
        if cached is not None:
            return cached
        newest = max(changed.values(), default=None)
        parts = [p for p in path.split("/") if p]
        result: tuple[bytes, str, datetime | None] | None = None
        if path == "/robots.txt":
            result = (f"User-agent: *\nAllow: /\nSitemap: {self.base}/sitemap-news.xml\n".encode(),
                      "text/plain; charset=utf-8", None)
        elif path == "/":
            result = (self._home(published), "text/html; charset=utf-8", newest)
        elif path == "/sitemap-news.xml":
            result = (self._sitemap(published), "application/xml; charset=utf-8", newest)
        elif parts and parts[0] in self.languages:
            lang = parts[0]
            mine = [p for p in reversed(published) if p.story.language == lang]   # newest first
            if len(parts) == 1 and path.endswith("/"):
                result = (self._listing(lang, mine), "text/html; charset=utf-8", changed.get(lang))
            elif len(parts) == 2 and parts[1] == "rss.xml":
                result = (self._rss(lang, mine), "application/rss+xml; charset=utf-8", changed.get(lang))
            elif len(parts) == 2 and parts[1] == "atom.xml":
                result = (self._atom(lang, mine), "application/atom+xml; charset=utf-8", changed.get(lang))
            elif len(parts) == 2 and parts[1] == "sitemap-news.xml":
                result = (self._sitemap(mine), "application/xml; charset=utf-8", changed.get(lang))
            else:
                item = next((p for p in mine if p.story.path == path), None)
                if item is not None:
                    result = (self._article(item), "text/html; charset=utf-8", None)
        if result is not None:
            with self._lock:
                if len(self._published) == len(published):   # not published meanwhile
                    self._cache[path] = result
        return result

    # -- documents ---------------------------------------------------------------------------

    def _page(self, lang: str, title: str, main: str) -> bytes:
        nav = " ".join(f'<a href="/{code}/">{code.upper()}</a>' for code in self.languages)
        rtl = ' dir="rtl"' if lang == "ar" else ""
        return f"""<!DOCTYPE html>
<html lang="{lang}"{rtl}><head><meta charset="utf-8"><title>{escape(title)}</title>
<link rel="alternate" type="application/rss+xml" href="{self.base}/{lang}/rss.xml">
</head><body>
<header><a href="/">newsmon demo news</a><nav>{nav} <a href="/{lang}/about/">About</a></nav></header>
{main}
<footer><p>All stories on this site are fictional, written for the newsmon demo.</p>
<a href="/{lang}/contact/">Contact</a> <a href="/{lang}/privacy/">Privacy</a></footer>
</body></html>""".encode()

    def _home(self, published: list[Published]) -> bytes:
        rows = "".join(
            f'<li><a href="/{lang}/">{escape(self.outlets[lang])}</a> · <a href="/{lang}/rss.xml">RSS</a> · '
            f'<a href="/{lang}/atom.xml">Atom</a> · <a href="/{lang}/sitemap-news.xml">News sitemap</a></li>'
            for lang in self.languages)
        main = f"<main><h1>newsmon demo news</h1><p>{len(published)} stories published.</p><ul>{rows}</ul></main>"
        return self._page("en", "newsmon demo news", main)

    def _listing(self, lang: str, mine: list[Published]) -> bytes:
        items = "".join(
            f'<li><h2><a href="{p.story.path}">{escape(p.story.title)}</a></h2>'
            f'<time datetime="{p.at.isoformat()}">{p.at.isoformat()}</time>'
            f"<p>{escape(p.story.paragraphs[0][:160])}</p></li>"
            for p in mine)
        outlet = escape(self.outlets[lang])
        return self._page(lang, outlet, f'<main><h1>{outlet}</h1><ul class="stories">{items}</ul></main>')

    def _article(self, p: Published) -> bytes:
        s = p.story
        when = p.at.isoformat()
        paras = "\n".join(f"<p>{escape(text)}</p>" for text in s.paragraphs)
        main = (f'<main><article><h1>{escape(s.title)}</h1><p class="byline">{escape(s.outlet)} · '
                f'<time datetime="{when}">{when}</time></p>\n{paras}\n</article>'
                f'<aside><h2>More</h2><a href="/{s.language}/">{escape(s.outlet)}</a></aside></main>')
        page = self._page(s.language, f"{s.title} | {s.outlet}", main)
        meta = (f'<meta property="article:published_time" content="{when}">'
                f'<link rel="canonical" href="{self.base}{s.path}">')
        return page.replace(b"</head>", meta.encode() + b"</head>", 1)

    def _rss(self, lang: str, mine: list[Published]) -> bytes:
        items = "".join(
            f"<item><title>{escape(p.story.title)}</title><link>{self.base}{p.story.path}</link>"
            f'<guid isPermaLink="true">{self.base}{p.story.path}</guid>'
            f"<pubDate>{format_datetime(p.at)}</pubDate>"
            f"<description>{escape(p.story.paragraphs[0])}</description></item>"
            for p in mine)
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{escape(self.outlets[lang])}</title><link>{self.base}/{lang}/</link>"
            f"<description>newsmon demo news ({lang})</description><language>{lang}</language>"
            f"<ttl>1</ttl>{items}</channel></rss>\n"
        ).encode()

    def _atom(self, lang: str, mine: list[Published]) -> bytes:
        updated = (mine[0].at if mine else datetime(2000, 1, 1, tzinfo=timezone.utc)).isoformat()
        entries = "".join(
            f"<entry><title>{escape(p.story.title)}</title>"
            f'<link rel="alternate" type="text/html" href="{self.base}{p.story.path}"/>'
            f"<id>{self.base}{p.story.path}</id><published>{p.at.isoformat()}</published>"
            f"<updated>{p.at.isoformat()}</updated><summary>{escape(p.story.paragraphs[0])}</summary></entry>"
            for p in mine)
        return (
            f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">'
            f"<title>{escape(self.outlets[lang])}</title><id>{self.base}/{lang}/</id>"
            f'<link rel="self" href="{self.base}/{lang}/atom.xml"/><updated>{updated}</updated>'
            f"<author><name>newsmon demo</name></author>{entries}</feed>\n"
        ).encode()

    def _sitemap(self, items: list[Published]) -> bytes:
        urls = "".join(
            f"<url><loc>{self.base}{p.story.path}</loc><news:news><news:publication>"
            f"<news:name>{escape(p.story.outlet)}</news:name><news:language>{p.story.language}</news:language>"
            f"</news:publication><news:publication_date>{p.at.isoformat()}</news:publication_date>"
            f"<news:title>{escape(p.story.title)}</news:title></news:news></url>"
            for p in items)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + urls + "</urlset>\n"
        ).encode("utf-8")


def _not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str,
                  last_modified: datetime | None) -> bool:
    """RFC 9110: If-None-Match wins when present; else If-Modified-Since against Last-Modified."""
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if if_modified_since and last_modified is not None:
        since = parse_http_date(if_modified_since)
        return since is not None and last_modified <= since
    return False
