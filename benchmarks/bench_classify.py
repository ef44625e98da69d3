"""Classifier throughput: `python -m benchmarks.bench_classify` (or `main()`).

Articles are built from the dev set texts (tests/data/devset), padded to ~5 KB with other dev-set
texts of the same language. Measures, on one core:
  1. classify() with the language known (folding, automaton matching, scoring);
  2. classify() with language detection;
  3. the same rules as one compiled regular expression per keyword (with Unicode boundaries),
     over the same folded texts, side by side — the design the automaton replaces.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from monitor.classify import ClassifyConfig, classify, load_ruleset
from monitor.classify.normalize import fold

DEVSET = Path(__file__).resolve().parents[1] / "tests" / "data" / "devset"
SIZE = 5000


def build_articles() -> list[tuple[str, str, str]]:
    records = [json.loads(line) for f in sorted(DEVSET.glob("*.jsonl")) for line in f.open(encoding="utf-8")
               if line.strip()]
    by_lang: dict[str, list[str]] = {}
    for r in records:
        by_lang.setdefault(r["language"], []).append(r["text"])
    articles = []
    for r in records:
        pool = by_lang[r["language"]]
        body, i = r["text"], 0
        while len(body) < SIZE:
            body += "\n" + pool[i % len(pool)]
            i += 1
        articles.append((r.get("title", ""), body[:SIZE], r["language"]))
    return articles


def _rate(fn, items, min_seconds: float = 1.5) -> float:  # type: ignore[no-untyped-def]
    count, start = 0, time.perf_counter()
    while True:
        for item in items:
            fn(item)
        count += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return count / elapsed


def main() -> int:
    rules = load_ruleset(ClassifyConfig(), Path.cwd())
    articles = build_articles()
    for a in articles[:5]:
        classify(a[0], a[1], None, rules)  # warm up caches and the langid model
    known = _rate(lambda a: classify(a[0], a[1], a[2], rules), articles)
    detect = _rate(lambda a: classify(a[0], a[1], None, rules), articles)

    # baseline: one regex per keyword of the article's language, over the same folded text
    per_lang: dict[str, list[re.Pattern[str]]] = {}
    for lang in rules.languages:
        pats = []
        for t in rules.terms:
            if t.language in (lang, "*"):
                left = r"(?<![^\W_])" if t.left else ""
                right = r"(?![^\W_])" if t.right else ""
                pats.append(re.compile(left + re.escape(t.pattern) + right))
        per_lang[lang] = pats

    def regex_classify(a: tuple[str, str, str]) -> int:
        text = fold(a[1]).text
        return sum(1 for p in per_lang[a[2]] if p.search(text))

    regex = _rate(regex_classify, articles[:: max(1, len(articles) // 20)])
    n_terms = len(rules.terms)
    print(f"articles: {len(articles)} x {SIZE} chars from the dev set; rules: {n_terms} terms, "
          f"{len(rules.languages)} languages")
    print(f"classify, language known:    {known:8.0f} articles/s   (target >= 3000)")
    print(f"classify, language detected: {detect:8.0f} articles/s   (target >= 600)")
    print(f"one regex per keyword:       {regex:8.0f} articles/s")
    print(f"automaton speed-up over regex-per-keyword: {known / regex:.1f}x   (target >= 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
