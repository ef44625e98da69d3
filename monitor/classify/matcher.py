"""Multi-pattern matching: every rule term compiled into one Aho-Corasick automaton per language.

`build_automata(terms, languages)` returns {language: automaton, None: automaton-with-every-rule};
each automaton maps a folded pattern to the tuple of Terms that share it. `find_hits(folded, automaton)`
scans a folded text once and yields (start, end, term) for each hit whose word boundaries hold
(boundaries are Unicode-aware: letters, digits and marks of any script continue a word; CJK does not).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
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
        plain = tuple(t for t in group if not t.words)
        stemmed: dict[tuple[str, str], list[Term]] = defaultdict(list)
        for t in group:
            if t.words:
                word, st = t.words[t.anchor]
                stemmed[(t.language, st) if st is not None else ("", word)].append(t)
        langs = tuple((lang, fn) for lang in sorted({lang for lang, _ in stemmed if lang})
                      if (fn := stemmer(lang)) is not None)
        automaton.add_word(pattern, (len(pattern), plain, {k: tuple(v) for k, v in stemmed.items()}, langs))
    if not by_pattern:
        automaton.add_word("\x00\x00", (2, (), {}, ()))  # an automaton needs one word to be built
    automaton.make_automaton()
    return automaton


def build_automata(terms: tuple[Term, ...], languages: frozenset[str]) -> dict[str | None, Any]:
    automata: dict[str | None, Any] = {None: _build(terms)}
    for lang in languages:
        automata[lang] = _build(t for t in terms if t.language in (lang, "*"))
    return automata


_WORD = re.compile(r"\w+")


def _rest_end(text: str, pos: int, words: tuple[tuple[str, str | None], ...], stem: Callable[[str], str]) -> int:
    """Where the words after a stemmed term's first word end (each preceded by spaces and having the
    stem of the term's word there, or being that word); -1 when they do not follow."""
    n = len(text)
    for word, st in words:
        if pos >= n or text[pos] != " ":
            return -1
        while pos < n and text[pos] == " ":
            pos += 1
        if st is None:   # as written, possibly with an apostrophe ("l'action")
            end = pos + len(word)
            if not text.startswith(word, pos) or (end < n and word_char(text[end])):
                return -1
            pos = end
            continue
        m = _WORD.match(text, pos)
        if m is None or stem(m.group()) != st:
            return -1
        pos = m.end()
    return pos


def _rest_start(text: str, pos: int, words: tuple[tuple[str, str | None], ...], stem: Callable[[str], str]) -> int:
    """Where the words before a stemmed term's anchor word start (the mirror of _rest_end): each
    followed by spaces only; -1 when they do not precede it, or the first one does not start a word."""
    for word, st in reversed(words):
        if pos <= 0 or text[pos - 1] != " ":
            return -1
        while pos > 0 and text[pos - 1] == " ":
            pos -= 1
        end = pos
        if st is None:   # as written, possibly with an apostrophe
            pos = end - len(word)
            if pos < 0 or text[pos:end] != word or (pos > 0 and word_char(text[pos - 1])):
                return -1
            continue
        while pos > 0 and word_char(text[pos - 1]):
            pos -= 1
        found = text[pos:end]
        if not found or stem(found) != st:
            return -1
    return pos


MAX_HITS_PER_PATTERN = 3
ACTOR_LIMIT = 200            # actors and entities bind evidence sentence by sentence: keep them all
_EVERY_SENTENCE = frozenset({"actor", "entity"})   # scoring counts each term once; a few occurrences are enough to explain it


def find_hits(text: str, automaton: Any) -> list[tuple[int, int, Term]]:
    """(start, end, term) hits in the folded `text`, end exclusive; at most MAX_HITS_PER_PATTERN
    accepted occurrences of each term. One pass of the automaton; the boundary test reads the
    per-character cache and runs only on the two characters around a hit. A stemmed term's first
    word is stemmed once per hit and looks up the terms that start with that stem."""
    n = len(text)
    out: list[tuple[int, int, Term]] = []
    seen: dict[int, int] = {}
    cache = WORD_CHARS
    limit = MAX_HITS_PER_PATTERN
    for last, (length, plain, stemmed, langs) in automaton.iter(text):
        start = last - length + 1
        end = last + 1
        if start > 0:
            ch = text[start - 1]
            before = cache.get(ch)
            if before is None:
                before = word_char(ch)
        else:
            before = False
        if plain:
            after = False
            if end < n:
                ch = text[end]
                after = cache.get(ch)
                if after is None:
                    after = word_char(ch)
        for term in plain:
            if (before and term.left) or (after and term.right):
                continue
            key = id(term)
            count = seen.get(key, 0)
            if count < limit or (count < ACTOR_LIMIT and term.kind in _EVERY_SENTENCE):
                out.append((start, end, term))
                seen[key] = count + 1
        if not stemmed or before:
            continue   # stemmed terms start at a word boundary
        m = _WORD.match(text, start)
        if m is None:
            continue
        word, wend = m.group(), m.end()
        found = stemmed.get(("", word))
        buckets = [found] if found else []
        for lang, fn in langs:
            found = stemmed.get((lang, fn(word)))
            if found:
                buckets.append(found)
        for bucket in buckets:
            for term in bucket:
                key = id(term)
                count = seen.get(key, 0)
                if count >= limit and (count >= ACTOR_LIMIT or term.kind not in _EVERY_SENTENCE):
                    continue
                first, stop = start, wend
                if len(term.words) > 1:
                    fn = stemmer(term.language)
                    if fn is None:   # a stemmed term always has its language's stemmer
                        continue
                    k = term.anchor
                    if k + 1 < len(term.words):
                        stop = _rest_end(text, wend, term.words[k + 1:], fn)
                        if stop < 0:
                            continue
                    if k:
                        first = _rest_start(text, start, term.words[:k], fn)
                        if first < 0:
                            continue
                out.append((first, stop, term))
                seen[key] = count + 1
    return out
