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


MAX_HITS_PER_PATTERN = 3   # scoring counts each term once; a few occurrences are enough to explain it


def find_hits(text: str, automaton: Any) -> list[tuple[int, int, Term]]:
    """(start, end, term) hits in the folded `text`, end exclusive; at most MAX_HITS_PER_PATTERN
    accepted occurrences of each pattern. One pass of the automaton; the boundary test reads the
    per-character cache and runs only on the two characters around a hit."""
    n = len(text)
    out: list[tuple[int, int, Term]] = []
    seen: dict[int, int] = {}
    cache = WORD_CHARS
    for last, (length, group) in automaton.iter(text):
        key = id(group)
        count = seen.get(key, 0)
        if count >= MAX_HITS_PER_PATTERN:
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
        accepted = False
        for term in group:
            if (before and term.left) or (after and term.right):
                continue
            accepted = True
            out.append((start, end, term))
        if accepted:
            seen[key] = count + 1
    return out
