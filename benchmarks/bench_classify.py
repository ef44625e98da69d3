"""Classifier throughput: `python -m benchmarks.bench_classify` (or `main()`).

Two sets of 5 KB articles (5,000 bytes of UTF-8, title + text), one per dev-set story (tests/data/devset, 93 stories in 10
languages):

* representative: the story (title + text, which carries the keyword hits) followed by neutral
  filler paragraphs of ordinary news prose in the same language (benchmarks/data/filler_<lang>.txt,
  written for this benchmark; the classifier finds no category and no keyword in them), so an
  article has the handful of hits a real news article has;
* keyword-dense (worst case): the story padded with other dev-set stories of the same language, so
  nearly every sentence carries hits (hundreds per article).

For each set it measures, on one core:
  1. classify() with the language known (folding, automaton matching, scoring);
  2. classify() with language detection (py3langid on the first 1,000 characters);
  3. the same rules as one compiled regular expression per keyword (with Unicode boundaries),
     over the same folded texts, side by side in the same run: the design the automaton replaces.
Targets (issue 3): >= 3,000 articles/s known language, >= 600/s with detection, >= 10x the regex
baseline, on the representative set. The dense figures are reported so that nobody is fooled
either way.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.classify import ClassifyConfig, RuleSet, classify, load_ruleset
from monitor.classify.matcher import find_hits
from monitor.classify.normalize import fold

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT / "tests" / "data" / "devset"
FILLER = Path(__file__).resolve().parent / "data"
SIZE = 5000   # bytes of title + text per article, UTF-8: a 5 KB article (~4,900 characters of Latin
              # script, ~2,700 of Arabic or Cyrillic, ~1,700 of Chinese)

Article = tuple[str, str, str]   # title, text, language


def _records() -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted(DEVSET.glob("*.jsonl")) for line in f.open(encoding="utf-8")
            if line.strip()]


def filler_paragraphs(language: str) -> list[str]:
    text = (FILLER / f"filler_{language}.txt").read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def build_articles(dense: bool = False) -> list[Article]:
    """One article per dev-set story, SIZE bytes of UTF-8 (title + text, cut at a character
    boundary). `dense`: pad with other stories of the same language (keyword-dense worst case);
    otherwise with neutral filler paragraphs."""
    records = _records()
    pools: dict[str, list[str]] = {}
    for r in records:
        pools.setdefault(r["language"], []).append(r["text"])
    articles: list[Article] = []
    for n, r in enumerate(records):
        title, lang = r.get("title", ""), r["language"]
        pool = pools[lang] if dense else filler_paragraphs(lang)
        body, i = r["text"], 0 if dense else n
        room = SIZE - len(title.encode("utf-8"))
        while len(body.encode("utf-8")) < room:
            body += ("\n" if dense else "\n\n") + pool[i % len(pool)]
            i += 1
        articles.append((title, body.encode("utf-8")[:room].decode("utf-8", "ignore"), lang))
    return articles


def hits_per_article(articles: list[Article], rules: RuleSet) -> float:
    """Mean keyword hits per article accepted by the matcher (after boundary checks), title + text."""
    total = 0
    for title, text, lang in articles:
        automaton = rules.automaton(lang)
        total += sum(1 for _ in find_hits(fold(title).text, automaton))
        total += sum(1 for _ in find_hits(fold(text).text, automaton))
    return total / len(articles)


def _rate(fn: Callable[[Article], object], items: list[Article], min_seconds: float = 1.5) -> float:
    count, start = 0, time.perf_counter()
    while True:
        for item in items:
            fn(item)
        count += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return count / elapsed


def regex_baseline(rules: RuleSet) -> Callable[[Article], int]:
    """The same rules as one regular expression per keyword of the article's language."""
    per_lang: dict[str, list[re.Pattern[str]]] = {}
    for lang in rules.languages:
        pats = []
        for t in rules.terms:
            if t.language in (lang, "*"):
                left = r"(?<![^\W_])" if t.left else ""
                right = r"(?![^\W_])" if t.right else ""
                pats.append(re.compile(left + re.escape(t.pattern) + right))
        per_lang[lang] = pats

    def regex_classify(a: Article) -> int:
        title, text = fold(a[0]).text, fold(a[1]).text
        return sum(1 for p in per_lang[a[2]] if p.search(title) or p.search(text))

    return regex_classify


def measure(articles: list[Article], rules: RuleSet, baseline: Callable[[Article], int]) -> dict[str, float]:
    for a in articles:
        classify(a[0], a[1], None, rules)  # warm up caches and the langid model
    known = _rate(lambda a: classify(a[0], a[1], a[2], rules), articles)
    detect = _rate(lambda a: classify(a[0], a[1], None, rules), articles)
    regex = _rate(baseline, articles[:: max(1, len(articles) // 20)])
    return {"known": known, "detect": detect, "regex": regex,
            "hits": hits_per_article(articles, rules)}


def main() -> int:
    rules = load_ruleset(ClassifyConfig(), Path.cwd())
    baseline = regex_baseline(rules)
    sets = [("representative (story + neutral filler)", build_articles(dense=False)),
            ("keyword-dense worst case (stories padded with stories)", build_articles(dense=True))]
    n = len(sets[0][1])
    chars = sum(len(t) + len(x) for t, x, _ in sets[0][1]) / n
    print(f"articles: {n} x {SIZE} bytes of UTF-8 (title + text; {chars:.0f} characters on average), "
          "one per dev-set story; "
          f"rules: {len(rules.terms)} terms, {len(rules.languages)} languages; one core")
    results = {}
    for label, articles in sets:
        r = results[label] = measure(articles, rules, baseline)
        print(f"\n{label}: {r['hits']:.1f} keyword hits/article")
        print(f"  classify, language known:    {r['known']:8.0f} articles/s   (target >= 3000)")
        print(f"  classify, language detected: {r['detect']:8.0f} articles/s   (target >= 600)")
        print(f"  one regex per keyword:       {r['regex']:8.0f} articles/s")
        print(f"  automaton speed-up over regex-per-keyword: {r['known'] / r['regex']:.1f}x   (target >= 10x)")
    rep = results[sets[0][0]]
    met = rep["known"] >= 3000 and rep["detect"] >= 600 and rep["known"] >= 10 * rep["regex"]
    print(f"\ntargets on the representative set: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
