"""Multi-pattern matching: every rule term compiled into one Aho-Corasick automaton per language.

`build_automata(terms, languages)` returns {language: automaton, None: automaton-with-every-rule};
each automaton maps a folded pattern to the tuple of Terms that share it. `find_hits(folded, automaton)`
scans a folded text once and yields (start, end, term) for each hit whose word boundaries hold
(boundaries are Unicode-aware: letters, digits and marks of any script continue a word; CJK does not).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import ahocorasick

from monitor.classify.normalize import WORD_CHARS, word_char
from monitor.classify.rules import Term
from monitor.classify.stem import stemmer


def _build(terms: Iterable[Term]) -> Any:
    by_pattern: dict[str, list[Term]] = defaultdict(list)
    for t in terms:
        by_pattern[t.pattern].append(t)
    automaton = ahocorasick.Automaton()
    for pattern, group in by_pattern.items():
        automaton.add_word(pattern, (len(pattern), tuple(group)))
    if not by_pattern:
        automaton.add_word("\x00\x00", (2, ()))  # an automaton needs one word to be built
    automaton.make_automaton()
    return automaton


def build_automata(terms: tuple[Term, ...], languages: frozenset[str]) -> dict[str | None, Any]:
    automata: dict[str | None, Any] = {None: _build(terms)}
    for lang in languages:
        automata[lang] = _build(t for t in terms if t.language in (lang, "*"))
    return automata


def _stemmed_end(text: str, start: int, term: Term) -> int:
    """Where a stemmed term's hit at `start` ends: each word of the text, separated by spaces only,
    has the stem of the term's word there (or is that word, where the term word is matched as
    written); -1 when it is not a hit."""
    stem = stemmer(term.language)
    if stem is None:
        return -1
    cache = WORD_CHARS
    n = len(text)
    pos = start
    for k, (word, st) in enumerate(term.words):
        if k:
            if pos >= n or text[pos] != " ":
                return -1
            while pos < n and text[pos] == " ":
                pos += 1
        end = pos
        while end < n:
            w = cache.get(text[end])
            if w is None:
                w = word_char(text[end])
            if not w:
                break
            end += 1
        if end == pos:
            return -1
        found = text[pos:end]
        if (st is None and found != word) or (st is not None and stem(found) != st):
            return -1
        pos = end
    return pos


MAX_HITS_PER_PATTERN = 3   # scoring counts each term once; a few occurrences are enough to explain it


def find_hits(text: str, automaton: Any) -> list[tuple[int, int, Term]]:
    """(start, end, term) hits in the folded `text`, end exclusive; at most MAX_HITS_PER_PATTERN
    accepted occurrences of each term. One pass of the automaton; the boundary test reads the
    per-character cache and runs only on the two characters around a hit."""
    n = len(text)
    out: list[tuple[int, int, Term]] = []
    seen: dict[int, int] = {}
    cache = WORD_CHARS
    limit = MAX_HITS_PER_PATTERN
    for last, (length, group) in automaton.iter(text):
        if len(group) == 1 and seen.get(id(group[0]), 0) >= limit:
            continue
        start = last - length + 1
        end = last + 1
        if start > 0:
            ch = text[start - 1]
            before = cache.get(ch)
            if before is None:
                before = word_char(ch)
        else:
            before = False
        if end < n:
            ch = text[end]
            after = cache.get(ch)
            if after is None:
                after = word_char(ch)
        else:
            after = False
        for term in group:
            if (before and term.left) or (after and term.right):
                continue
            key = id(term)
            count = seen.get(key, 0)
            if count >= limit:
                continue
            if term.words:
                stop = _stemmed_end(text, start, term)
                if stop < 0:
                    continue
                out.append((start, stop, term))
            else:
                out.append((start, end, term))
            seen[key] = count + 1
    return out
