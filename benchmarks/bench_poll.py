"""Polling at scale: `python -m benchmarks.bench_poll [--feeds 1000]` (or `main()`).

Against benchmarks/feedsim.py (N feeds on 127.0.0.1, in its own process):
  (a) a full poll cycle of N unchanged feeds by `newsmon crawl --once` (a subprocess, as users run it),
      after a warm-up poll that stores every feed's articles and ETag, so the measured poll is all 304s.
      Reported: crawl-only rate (first request to last response, from the simulator's clock) and
      whole-process rate (interpreter start to exit). Targets: >= 600 sources/s crawl-only.
  (b) the peak RSS of that crawl process (ru_maxrss from wait4).
With `--daemon` (needs `newsmon run`), against the daemon instead:
  (c) poll-to-alert latency: a matching story is injected into a feed; measured from the moment the
      simulator sends the response carrying it to the moment a local webhook receiver gets the POST;
      p50/p95 over --stories stories (target p95 <= 2 s);
  (d) the daemon's RSS sampled every poll cycle (10 s intervals) over --cycles cycles (target <= 200 MB,
      no growth).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.feedsim import FeedSim, word

ROOT = Path(__file__).resolve().parents[1]


def write_config(path: Path, sim: FeedSim, feeds: int, *, interval: str, concurrency: int, extra: str = "") -> Path:
    sources = "".join(f"  - {{id: f{i}, type: feed, url: '{sim.feed_url(i)}', interval: {interval}}}\n"
                      for i in range(feeds))
    path.write_text(
        "store: {path: bench.db}\n"
        f"crawl: {{obey_robots: false, delay: 0s, timeout: 30s, retries: 0, concurrency: {concurrency}, "
        f"per_domain: {min(concurrency, 64)}, jitter: 0}}\n"
        + extra + "sources:\n" + sources, encoding="utf-8")
    return path


def newsmon(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", *args]


def run_measured(cmd: list[str], cwd: Path) -> tuple[int, float, int, str]:
    """Run a command; (exit code, wall seconds, peak RSS in KiB, stdout)."""
    start = time.monotonic()
    env = dict(os.environ)
    env.pop("NEWSMON_CONFIG", None)
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.DEVNULL, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        out.seek(0)
        return proc.returncode, wall, usage.ru_maxrss, out.read()


def bench_cycle(feeds: int, concurrency: int) -> dict[str, float]:
    with FeedSim(feeds=feeds) as sim, tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        cfg = write_config(Path(tmp) / "config.yaml", sim, feeds, interval="10m", concurrency=concurrency)
        code, warm, _, out = run_measured(newsmon("crawl", "--once", "--no-alerts", "-c", str(cfg)), Path(tmp))
        if code != 0:
            raise RuntimeError(f"warm-up crawl failed with exit code {code}:\n{out[-2000:]}")
        warm_stats = sim.stats()
        sim.reset()
        code, wall, rss_kib, out = run_measured(newsmon("crawl", "--once", "--no-alerts", "-c", str(cfg)), Path(tmp))
        s = sim.stats()
        if code != 0 or s["not_modified"] != feeds or s["ok"] != 0:
            raise RuntimeError(f"measured crawl: exit {code}, {s['not_modified']} 304s and {s['ok']} 200s "
                               f"for {feeds} feeds:\n{out[-2000:]}")
        crawl = s["last"] - s["first"]
        return {"feeds": feeds, "warmup_s": warm, "warmup_ok": warm_stats["ok"], "crawl_s": crawl,
                "crawl_rate": feeds / crawl, "wall_s": wall, "wall_rate": feeds / wall, "rss_mib": rss_kib / 1024}


# -- daemon mode --------------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on 127.0.0.1 recording when each POST arrives and what it carried."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, dict]] = []
        self.cond = threading.Condition()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {}
                with rec.cond:
                    rec.posts.append((at, payload))
                    rec.cond.notify_all()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def arrival_of(self, marker: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, payload in self.posts:
                    if marker in json.dumps(payload, ensure_ascii=False):
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def matching_story(rng: random.Random) -> tuple[str, str, str]:
    """(marker, title, text): an outage story whose title is mostly random words, so it shares few
    trigrams with any other and is its own story (and its own alert group: no group_interval wait)."""
    marker = word(rng, 4).capitalize()
    title = f"{marker} {word(rng, 4)} {word(rng, 4)} {word(rng, 3)} {word(rng, 3)} outage"
    text = (f"Customers of {marker} were unable to make calls or use mobile data on Monday after a nationwide "
            "network outage. The operator said a software glitch in its core network caused the service "
            "disruption and that engineers restored services after three hours. " * 2)
    return marker, title, text


def bench_daemon(feeds: int, stories: int, cycles: int, changing: int, interval: float = 10.0) -> dict[str, object]:
    rng = random.Random(7)
    receiver = Receiver()
    result: dict[str, object] = {}
    with FeedSim(feeds=feeds, changing=changing) as sim, tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp:
        extra = (f"channels:\n  bench: {{type: webhook, url: '{receiver.url}'}}\n"
                 "routes:\n  - channels: [bench]\n    group_by: [story]\n    group_wait: 0s\n"
                 f"server: {{listen: '127.0.0.1:{free_port()}'}}\n")
        cfg = write_config(Path(tmp) / "config.yaml", sim, feeds, interval=f"{interval:g}s", concurrency=64, extra=extra)
        # warm up: store every feed's articles once, so the daemon's cycles are steady-state
        code, _, _, out = run_measured(newsmon("crawl", "--once", "--no-alerts", "-c", str(cfg)), Path(tmp))
        if code != 0:
            raise RuntimeError(f"warm-up crawl failed with exit code {code}:\n{out[-2000:]}")
        log = open(Path(tmp) / "daemon.log", "w+")  # noqa: SIM115 (closed in the finally below)
        daemon = subprocess.Popen(newsmon("run", "-c", str(cfg)), cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
        try:
            latencies: list[float] = []
            missed = 0
            time.sleep(2)  # let it start and begin its first cycle
            for _k in range(stories):
                marker, title, text = matching_story(rng)
                story = sim.inject(rng.randrange(changing, feeds), title, text)
                arrived = receiver.arrival_of(marker, timeout=40)
                served = sim.served().get(story)
                if arrived is None or served is None:
                    missed += 1
                    continue
                latencies.append(arrived - served)
                time.sleep(rng.uniform(0, 2))  # spread injections over the poll cycle
            samples = []
            for _ in range(cycles):
                samples.append(rss_mib(daemon.pid))
                time.sleep(interval)
            samples.append(rss_mib(daemon.pid))
            result = {"latencies": latencies, "missed": missed, "rss": samples}
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                result["exit"] = daemon.wait(60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                result["exit"] = daemon.wait()
            log.seek(0)
            result["log_tail"] = log.read()[-1500:]
            log.close()
            receiver.close()
    return result


def daemon_available() -> bool:
    return (ROOT / "monitor" / "commands" / "run.py").exists()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_poll", description=__doc__.split("\n\n")[0])
    p.add_argument("--feeds", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=64, help="crawl.concurrency (and per_domain, at most 64)")
    p.add_argument("--daemon", action="store_true", help="also measure (c) latency and (d) RSS with `newsmon run`")
    p.add_argument("--stories", type=int, default=20, help="daemon mode: injected stories for the latency")
    p.add_argument("--cycles", type=int, default=30, help="daemon mode: poll cycles to sample RSS over")
    p.add_argument("--changing", type=int, default=5, help="daemon mode: feeds with a new story every poll")
    p.add_argument("--interval", type=float, default=10.0, help="daemon mode: every source's poll interval, seconds")
    a = p.parse_args(argv if argv is not None else [])   # from `python -m benchmarks`: the defaults

    print(f"bench_poll: (a) poll cycle of {a.feeds} unchanged feeds with `newsmon crawl --once` "
          f"(concurrency {a.concurrency}, feedsim in its own process)", flush=True)
    r = bench_cycle(a.feeds, a.concurrency)
    print(f"  warm-up poll: {r['warmup_s']:.1f}s for {r['warmup_ok']:.0f} feeds with {r['feeds'] * 2:.0f} articles")
    print(f"  crawl-only:   {r['crawl_s']:.2f}s  ->  {r['crawl_rate']:.0f} sources/s   (target >= 600/s) "
          f"[{'ok' if r['crawl_rate'] >= 600 else 'BELOW TARGET'}]")
    print(f"  whole process: {r['wall_s']:.2f}s  ->  {r['wall_rate']:.0f} sources/s (interpreter start to exit)")
    print(f"  (b) peak RSS of the crawl process: {r['rss_mib']:.0f} MiB")

    if a.daemon:
        if not daemon_available():
            print("  (c)/(d) need `newsmon run` (monitor/commands/run.py), which is not there yet")
            return 1
        print(f"bench_poll: (c)/(d) `newsmon run` against {a.feeds} feeds every {a.interval:g}s ({a.changing} changing), "
              f"{a.stories} injected stories, RSS over {a.cycles} cycles", flush=True)
        d = bench_daemon(a.feeds, a.stories, a.cycles, a.changing, a.interval)
        lat = sorted(d["latencies"])  # type: ignore[arg-type]
        if lat:
            p50 = statistics.median(lat)
            p95 = lat[min(len(lat) - 1, max(0, round(0.95 * len(lat)) - 1))]
            print(f"  (c) poll-to-alert latency over {len(lat)} stories: p50 {p50:.2f}s, p95 {p95:.2f}s, "
                  f"max {lat[-1]:.2f}s (target p95 <= 2s) [{'ok' if p95 <= 2 else 'ABOVE TARGET'}]"
                  + (f"; {d['missed']} never alerted within 40s" if d["missed"] else ""))
        else:
            print(f"  (c) no alert arrived for any of {d['missed']} stories; daemon log:\n{d['log_tail']}")
        rss = d["rss"]  # type: ignore[assignment]
        print(f"  (d) daemon RSS over {len(rss) - 1} cycles: first {rss[0]:.0f} MiB, last {rss[-1]:.0f} MiB, "
              f"max {max(rss):.0f} MiB (target <= 200 MB, no growth) "
              f"[{'ok' if max(rss) <= 200 * 1e6 / 2**20 else 'ABOVE TARGET'}]")
        print(f"  daemon exit code after SIGTERM: {d['exit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
