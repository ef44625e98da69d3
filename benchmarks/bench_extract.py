"""Throughput of the parsing layer over the shared corpus: feeds/s, sitemaps/s, pages/s.

Run: `python -m benchmarks.bench_extract` (from the checkout; the corpus sits beside it in ../shared).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from monitor.extract import extract_page
from monitor.feeds import parse_feed
from monitor.sitemaps import parse_sitemap

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def _files(folder: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((CORPUS / folder).rglob("*"))
            if p.is_file() and p.name not in ("LICENSE", "README.txt") and not p.name.endswith(".json")]


def _rate(label: str, items: list[bytes], fn, rounds: int) -> None:  # type: ignore[no-untyped-def]
    fn(items[0])  # warm imports and caches
    start = time.perf_counter()
    for _ in range(rounds):
        for body in items:
            fn(body)
    elapsed = time.perf_counter() - start
    n = len(items) * rounds
    print(f"{label:10s} {n / elapsed:8.1f}/s  ({n} in {elapsed:.2f}s)")


def main() -> None:
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    _rate("feeds", _files("feeds"), lambda b: parse_feed(b, "http://example.com/feed"), 3)
    _rate("sitemaps", _files("sitemaps"), lambda b: parse_sitemap(b, "http://example.com/s", now=now, max_age=None), 5)
    pages = _files("pages/trafilatura") + _files("pages/newspaper4k/html") + _files("pages/newspaper-legacy/html")
    _rate("pages", pages, lambda b: extract_page(b, "http://example.com/a"), 1)


if __name__ == "__main__":
    main()
