"""What placing a flagged article in its story costs: MinHash, the LSH band lookup for near-copies, the
open stories compared, the story row updated, the bands stored — on a real SQLite file that already
holds `--stored` flagged reports in `--stories` open stories (only flagged articles are placed).

    python -m benchmarks.bench_stories [--stored 5000] [--stories 500] [--n 500]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from monitor.models import Article, Classification, Match
from monitor.store import open_store
from monitor.stories import place, remember, report_time

WORDS = ["network", "outage", "customers", "service", "bank", "app", "payment", "card", "mobile", "data", "engineers", "restored", "failure", "update", "transfers", "hours", "morning", "company", "statement", "users", "region", "internet", "calls", "phishing", "police", "warning", "scam", "messages", "fraud", "account", "login", "website", "provider", "operator"]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def report(rng: random.Random, n: int, stories: int) -> tuple[Article, Classification]:
    company = f"Company{n % stories}"
    text = " ".join(rng.choice(WORDS) for _ in range(250)) + f". {company} said {rng.randint(10, 99999)} users."
    at = NOW - timedelta(minutes=rng.randint(0, 47 * 60))
    article = Article(url=f"https://s{n % 40}.example/{n}", source_id=f"s{n % 40}", title=f"{company} outage",
                      text=text, language="en", published=at, fetched=at)
    result = Classification(categories=["outage"], scores={"outage": 6.0},
                            matches=[Match("outage", "outage", "outage", "text", 0, 3.0, "en")],
                            entities=[company] if n % 3 else [], language="en")
    return article, result


def add(store, article: Article, result: Classification) -> None:
    with store.transaction() as conn:
        article_id = store.add_article(conn, article, result, None)
        placement, hashes = place(conn, article, result, NOW, window=48 * 3600, copy_similarity=0.75,
                                  similar_text=0.3, denial=frozenset({"rumor"}))
        conn.execute("UPDATE articles SET story_id = ?, copy_of = ? WHERE id = ?",
                     (placement.story.id, placement.copy_of, article_id))
        remember(conn, article_id, hashes, 0.75, report_time(article, NOW))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stored", type=int, default=5000)
    ap.add_argument("--stories", type=int, default=500)
    ap.add_argument("--n", type=int, default=500)
    args = ap.parse_args(argv)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "bench.db")
        for i in range(args.stored):
            add(store, *report(rng, i, args.stories))
        batch = [report(rng, args.stored + i, args.stories) for i in range(args.n)]
        start = time.perf_counter()
        for a, r in batch:
            add(store, a, r)
        elapsed = time.perf_counter() - start
        stories = store.query("SELECT count(*) FROM stories")[0][0]
        store.close()
    print(f"stories: {args.n} flagged articles placed in {elapsed:.2f}s = {1000 * elapsed / args.n:.2f} ms each "
          f"(store, place, remember; {args.stored} stored before, {stories} stories)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
