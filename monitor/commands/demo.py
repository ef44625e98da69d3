"""`newsmon demo [--duration 60s]`: see newsmon work with no internet and no sources of your own.

Starts the demo news site (monitor/demo/site.py) on 127.0.0.1 with a few stories already out, writes a
config into a temporary directory (sources: the site's feeds, sitemap and listing pages in seven
languages, polled every 10s; the store in that directory; alerts to the console; the health/metrics
server on a free loopback port), runs `newsmon run -c that_config` as a subprocess and streams its output,
and publishes another story every few seconds. After --duration it stops publishing and lets the daemon
poll what is out: it stops once every published story is stored and every one that should alert has had
its alert printed, or after two more polling intervals at most, saying which stories were missed. Then (or
at once on Ctrl-C or SIGTERM) it stops the daemon with SIGTERM, then the site, and prints one summary line.
The daemon's own log shows no `matched ...` line for an alert it prints (alerts/console.py).

`--site-only` serves the site alone (and prints a config for it), for trying `newsmon crawl --once`
or your own config against it. Exit 0 when the daemon stopped cleanly; 1 when it failed or exited early.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from monitor.durations import parse_duration

HELP = "run newsmon against a local demo news site (no internet needed) and show the alerts"

# The first line of a console message (alerts/console.py): "=== " and the title, `categories · headline`
# for a story's first alert (`entity · ...` when a watchlist entity is known), `Update N · ...` for an
# update of a story already alerted.
ALERT_PREFIX = "=== "
UPDATE_PREFIX = "=== Update "
STOP_GRACE = 30.0        # seconds the daemon gets to stop after SIGTERM before it is killed

# Which of the site's documents each language is polled through: every kind of source gets exercised.
SOURCE_KINDS = {
    "en": ("feed", "/en/rss.xml"),
    "de": ("feed", "/de/atom.xml"),
    "fr": ("page", "/fr/"),
    "es": ("feed", "/es/atom.xml"),
    "vi": ("sitemap", "/vi/sitemap-news.xml"),
    "zh": ("page", "/zh/"),
    "ar": ("feed", "/ar/rss.xml"),
}


def _duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=_duration, default=60.0, metavar="TIME",
                   help='how long to run, e.g. "60s", "5m" (default: 60s)')
    p.add_argument("--every", type=_duration, default=4.0, metavar="TIME",
                   help="publish a new story this often (default: 4s)")
    p.add_argument("--initial", type=int, default=7, metavar="N",
                   help="stories already published at the start (default: 7, one per language)")
    p.add_argument("--interval", type=_duration, default=10.0, metavar="TIME",
                   help="how often the daemon polls each source (default and minimum: 10s)")
    p.add_argument("--port", type=int, default=0, help="port for the demo site (default: any free port)")
    p.add_argument("--dir", type=Path, metavar="DIR",
                   help="write the config and store here and keep them (default: a temporary directory)")
    p.add_argument("--site-only", action="store_true", help="serve the demo site only, without the daemon")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_config(base: str, *, interval: float, listen: str, store: str = "demo.db") -> str:
    """The daemon's config for the demo: every language of the site, alerts to the console at once."""
    sources = "".join(
        f"  - {{id: demo-{lang}, type: {kind}, url: '{base}{path}', interval: {interval:g}s, language: {lang}}}\n"
        for lang, (kind, path) in SOURCE_KINDS.items())
    return f"""\
# Written by `newsmon demo`: the local demo site, polled every {interval:g}s; alerts print to the console.
store: {{path: {store}}}
crawl: {{delay: 0s, timeout: 10s, retries: 1, concurrency: 16, per_domain: 16, jitter: 0}}
# An explicit console channel so that each story's alert prints as soon as it is found (the implicit
# one waits group_wait: 30s to collect a group).
channels:
  console: {{type: console}}
routes:
  - channels: [console]
    group_by: [story]
    group_wait: 0s
server: {{listen: "{listen}"}}
sources:
{sources}"""


class _Stream(threading.Thread):
    """Copies one of the daemon's output streams to ours, line by line, counting console messages:
    `alerts` all of them, `updates` those that update a story already alerted."""

    def __init__(self, src, dst) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.src, self.dst = src, dst
        self.alerts = 0
        self.updates = 0

    def run(self) -> None:
        for line in self.src:
            if line.startswith(ALERT_PREFIX):
                self.alerts += 1
                self.updates += line.startswith(UPDATE_PREFIX)
            self.dst.write(line)
            self.dst.flush()


def delivered(db: Path, urls: list[str]) -> dict[str, tuple[bool, bool, bool]]:
    """url -> (stored, flagged, alert sent) for each of `urls`, read from the daemon's store (read-only,
    while it runs). A URL not stored yet, or a store not there yet, is (False, False, False)."""
    from monitor.errors import StoreError
    from monitor.store.sqlite import open_readonly

    out = {u: (False, False, False) for u in urls}
    if not db.exists():
        return out
    try:
        conn = open_readonly(db)   # a file: URI built from the path (a '?', '#' or '%' in it is escaped)
    except StoreError:
        return out
    try:
        rows = conn.execute(
            """SELECT a.url, a.categories != '[]',
                      EXISTS(SELECT 1 FROM alert_items i
                               JOIN alert_outbox_items oi ON oi.item_id = i.id
                               JOIN alert_outbox o ON o.id = oi.outbox_id
                              WHERE i.article_id = a.id AND o.status = 'sent')
                 FROM articles a""").fetchall()
    except sqlite3.Error:   # e.g. the schema not created yet
        return out
    finally:
        conn.close()
    for url, flagged, sent in rows:
        if url in out:
            out[url] = (True, bool(flagged), bool(sent))
    return out


def outstanding(site, db: Path) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    """(published stories not stored yet, stored stories that should alert whose alert is not out yet)."""
    published = site.published
    state = delivered(db, [site.url(p.story.path) for p in published])
    unpolled = [p for p in published if not state[site.url(p.story.path)][0]]
    unalerted = [p for p in published if p.story.alerting and state[site.url(p.story.path)][0]
                 and not state[site.url(p.story.path)][2]]
    return unpolled, unalerted


def run(args: argparse.Namespace) -> int:
    from alerts.message import category_label
    from monitor.demo.site import DemoSite, Published

    if args.interval < 10:
        print("newsmon demo: --interval must be at least 10s", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        site = DemoSite(initial=args.initial, port=args.port).start()
    except OSError as exc:
        print(f"newsmon demo: cannot serve on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1

    def announce(p: Published) -> None:
        mark = f"should alert: {category_label(p.story.expect)}" if p.story.alerting else "should not alert"
        print(f"demo: published [{p.story.language}] {p.story.title} ({mark})", flush=True)

    tmp = None if args.dir else tempfile.TemporaryDirectory(prefix="newsmon-demo-")
    workdir = Path(args.dir or tmp.name)  # type: ignore[union-attr]
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "config.yaml"
        listen = f"127.0.0.1:{free_port()}"
        config.write_text(demo_config(site.base, interval=args.interval, listen=listen), encoding="utf-8")
        print(f"demo: news site on {site.base}/ ({len(site.published)} stories out, {site.remaining} to come, "
              f"one every {args.every:g}s)", flush=True)
        for p in site.published:
            announce(p)
        site.on_publish = announce
        if args.site_only:
            print(f"demo: a config for it: {config}", flush=True)
            site.start_timer(args.every)
            stop.wait(args.duration)
            print(f"demo: {len(site.published)} stories published, {site.requests} requests served "
                  f"({site.not_modified} answered 304)", flush=True)
            return 0
        return _run_daemon(args, site, config, listen, stop)
    finally:
        site.stop()
        if tmp is not None:
            tmp.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_daemon(args: argparse.Namespace, site, config: Path, listen: str, stop: threading.Event) -> int:  # type: ignore[no-untyped-def]
    cmd = [sys.executable, "-m", "monitor"] + (["-v"] if args.verbose else []) + ["run", "-c", str(config)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("NEWSMON_CONFIG", None)
    print(f"demo: starting `newsmon run -c {config}` (health and metrics on http://{listen}/)", flush=True)
    # Its own session: a Ctrl-C reaches only this process, which then stops the daemon in order.
    daemon = subprocess.Popen(cmd, cwd=config.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, encoding="utf-8", errors="replace", bufsize=1, start_new_session=True)
    out, err = _Stream(daemon.stdout, sys.stdout), _Stream(daemon.stderr, sys.stderr)
    out.start()
    err.start()
    started = time.monotonic()
    site.start_timer(args.every)
    early = None
    while not stop.is_set() and time.monotonic() - started < args.duration:
        if daemon.poll() is not None:
            early = daemon.returncode
            break
        stop.wait(min(0.2, max(0.0, args.duration - (time.monotonic() - started))))
    site.stop_timer()
    if early is None and not stop.is_set():
        early = _wait_for_the_last_stories(args, site, config.parent / "demo.db", daemon, stop)
    if early is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            print(f"demo: the daemon did not stop within {STOP_GRACE:g}s of SIGTERM; killing it", file=sys.stderr)
            daemon.kill()
            daemon.wait()
    out.join(5)
    err.join(5)
    elapsed = time.monotonic() - started
    published = site.published
    should = sum(1 for p in published if p.story.alerting)
    updates = f" ({out.alerts - out.updates} stories, {out.updates} updates)" if out.updates else ""
    print(f"demo: {len(published)} stories published ({should} should alert), {out.alerts} alerts printed "
          f"by the daemon{updates} in {elapsed:.0f}s; daemon exit code {daemon.returncode}", flush=True)
    if early is not None:
        print(f"demo: the daemon exited early with code {early} (see its messages above)", file=sys.stderr)
        return 1
    return 0 if daemon.returncode == 0 else 1


def _wait_for_the_last_stories(args: argparse.Namespace, site, db: Path, daemon: subprocess.Popen,  # type: ignore[no-untyped-def]
                               stop: threading.Event) -> int | None:
    """After --duration: wait until every published story is stored and every alert it should give is
    printed, for two polling intervals at most; then say plainly which were missed. Returns the daemon's
    exit code if it exited meanwhile, else None."""
    cap = 2 * args.interval
    unpolled, unalerted = outstanding(site, db)
    if unpolled or unalerted:
        n = len(unpolled) + len(unalerted)
        print(f"demo: {args.duration:g}s are up, no more stories; waiting for the daemon to poll and alert the last "
              f"{n} {'story' if n == 1 else 'stories'} (at most {cap:g}s)", flush=True)
    deadline = time.monotonic() + cap
    while (unpolled or unalerted) and not stop.is_set() and time.monotonic() < deadline:
        if daemon.poll() is not None:
            return daemon.returncode
        stop.wait(0.25)
        unpolled, unalerted = outstanding(site, db)
    if stop.is_set():
        return None
    for p in unpolled:
        print(f"demo: missed: [{p.story.language}] {p.story.title} was published but not polled within {cap:g}s "
              "of the end", flush=True)
    for p in unalerted:
        print(f"demo: missed: [{p.story.language}] {p.story.title} should have alerted "
              f"({p.story.expect}) but its alert was not printed within {cap:g}s of the end", flush=True)
    return None
