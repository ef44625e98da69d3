"""A simulator of N news feeds on 127.0.0.1 for the polling benchmarks: one aiohttp server, run in its
own process (`FeedSim` starts it) so it never shares a GIL with the crawler it serves.

    GET  /feed/<i>.xml         RSS 2.0 with full-text items; ETag + If-None-Match -> 304 when unchanged.
                               The first `changing` feeds get a new ordinary story on every request.
    POST /control/inject       JSON {"feed": i, "title": ..., "text": ...} -> {"id": ...}: add a story
    GET  /control/served       {story id: time.time() when a 200 carrying it was first sent}
    GET  /control/stats        requests, 200s, 304s, first and last request times (time.time())
    POST /control/reset        zero the stats

`python -m benchmarks.feedsim --feeds 1000 [--changing 5] [--items 2] [--port 0]` prints
"feedsim listening on http://127.0.0.1:PORT" and serves until killed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from typing import Any

_SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "qui", "bel", "dor", "fen", "gar", "hol", "jun", "lek", "mor",
              "nax", "pil", "rud", "sev", "tor", "ul", "vim", "wex", "yar", "zen", "bri", "cal", "dru", "esk", "fol"]
_FILLER = ("The city council met on Tuesday to discuss the new budget for parks, libraries and public transport. "
           "Residents asked questions about bus routes, opening hours and the schedule for road repairs, and the "
           "mayor promised a public consultation in the spring. Local businesses welcomed the plans for a weekly "
           "market in the old town square, which will open next month with around forty stalls. ")


def word(rng: random.Random, syllables: int = 3) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables))


@dataclass
class Item:
    id: str
    title: str
    text: str
    published: float


@dataclass
class Feed:
    index: int
    items: list[Item] = field(default_factory=list)
    body: bytes = b""
    etag: str = ""
    injected: list[str] = field(default_factory=list)   # ids not yet served in a 200

    def render(self, base: str, max_items: int) -> None:
        self.items = self.items[-max_items:]
        entries = "".join(
            f"<item><title>{escape(it.title)}</title><link>{base}/story/{self.index}/{it.id}.html</link>"
            f"<guid>{base}/story/{self.index}/{it.id}.html</guid><pubDate>{formatdate(it.published, usegmt=True)}"
            f"</pubDate><description>{escape(it.text)}</description></item>"
            for it in reversed(self.items))
        self.body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {self.index}'
                     f"</title><link>{base}/</link><description>simulated</description><language>en</language>"
                     f"{entries}</channel></rss>").encode()
        self.etag = f'"{hashlib.sha1(self.body).hexdigest()[:16]}"'


class Simulator:
    def __init__(self, feeds: int, changing: int, items: int, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.max_items = max(items, 1) + 10
        self.changing = changing
        self.base = ""
        self.feeds = [Feed(i) for i in range(feeds)]
        self._initial = items
        self.served: dict[str, float] = {}
        self.counter = 0
        self.reset()

    def reset(self) -> None:
        self.stats: dict[str, Any] = {"requests": 0, "ok": 0, "not_modified": 0, "first": None, "last": None}

    def populate(self, base: str) -> None:
        self.base = base
        for feed in self.feeds:
            for _ in range(self._initial):
                feed.items.append(self.ordinary())
            feed.render(base, self.max_items)

    def next_id(self) -> str:
        self.counter += 1
        return f"s{self.counter}"

    def ordinary(self) -> Item:
        """A long, full-text, non-alerting local story (no article fetch needed: > min_summary_chars)."""
        name = word(self.rng).capitalize()
        title = f"{name} {word(self.rng, 2)} council approves {word(self.rng, 2)} plan for {word(self.rng)} park"
        return Item(self.next_id(), title, f"{name} {word(self.rng)}. " + _FILLER * 2, time.time())

    def inject(self, index: int, title: str, text: str) -> str:
        feed = self.feeds[index]
        item = Item(self.next_id(), title, text, time.time())
        feed.items.append(item)
        feed.injected.append(item.id)
        feed.render(self.base, self.max_items)
        return item.id

    def serve_feed(self, index: int, if_none_match: str | None) -> tuple[int, bytes, str]:
        now = time.time()
        s = self.stats
        s["requests"] += 1
        s["first"] = s["first"] or now
        feed = self.feeds[index]
        if index < self.changing:
            feed.items.append(self.ordinary())
            feed.render(self.base, self.max_items)
        if if_none_match is not None and if_none_match == feed.etag:
            s["not_modified"] += 1
            s["last"] = time.time()
            return 304, b"", feed.etag
        s["ok"] += 1
        for story in feed.injected:
            self.served.setdefault(story, now)
        feed.injected.clear()
        s["last"] = time.time()
        return 200, feed.body, feed.etag


def serve(feeds: int, changing: int, items: int, port: int) -> None:
    from aiohttp import web

    sim = Simulator(feeds, changing, items)

    async def feed(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not name.isdigit() or int(name) >= len(sim.feeds):
            raise web.HTTPNotFound()
        status, body, etag = sim.serve_feed(int(name), request.headers.get("If-None-Match"))
        if status == 304:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml; charset=utf-8"})

    async def inject(request: web.Request) -> web.Response:
        data = await request.json()
        return web.json_response({"id": sim.inject(int(data["feed"]), data["title"], data["text"])})

    async def served(request: web.Request) -> web.Response:
        return web.json_response(sim.served)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(sim.stats)

    async def reset(request: web.Request) -> web.Response:
        sim.reset()
        return web.json_response(sim.stats)

    async def start() -> None:
        app = web.Application()
        app.add_routes([web.get("/feed/{name}.xml", feed), web.post("/control/inject", inject),
                        web.get("/control/served", served), web.get("/control/stats", stats),
                        web.post("/control/reset", reset)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        sim.populate(f"http://127.0.0.1:{bound}")
        print(f"feedsim listening on http://127.0.0.1:{bound}", flush=True)

    import asyncio

    loop = asyncio.new_event_loop()
    loop.run_until_complete(start())
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass


class FeedSim:
    """`with FeedSim(feeds=1000) as sim: sim.feed_url(0); sim.stats()` — the simulator in a subprocess."""

    def __init__(self, feeds: int, changing: int = 0, items: int = 2, port: int = 0) -> None:
        self.args = ["--feeds", str(feeds), "--changing", str(changing), "--items", str(items), "--port", str(port)]
        self.feeds = feeds
        self.proc: subprocess.Popen[str] | None = None
        self.base = ""

    def __enter__(self) -> FeedSim:
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.feedsim", *self.args],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("feedsim listening on "):
            self.__exit__()
            raise RuntimeError(f"feedsim did not start: {line!r}")
        self.base = line.split()[-1]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def feed_url(self, i: int) -> str:
        return f"{self.base}/feed/{i}.xml"

    def _call(self, path: str, data: dict[str, Any] | None = None) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        method = "POST" if path in ("/control/inject", "/control/reset") else "GET"
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stats(self) -> dict[str, Any]:
        return self._call("/control/stats")

    def reset(self) -> dict[str, Any]:
        return self._call("/control/reset", {})

    def inject(self, feed: int, title: str, text: str) -> str:
        return self._call("/control/inject", {"feed": feed, "title": title, "text": text})["id"]

    def served(self) -> dict[str, float]:
        return self._call("/control/served")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.feedsim", description=__doc__.split("\n\n")[0])
    p.add_argument("--feeds", type=int, default=1000)
    p.add_argument("--changing", type=int, default=0, help="feeds that get a new story on every request")
    p.add_argument("--items", type=int, default=2, help="stories per feed at the start")
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args(argv)
    serve(a.feeds, a.changing, a.items, a.port)


if __name__ == "__main__":
    main()
