"""Word stems for inflected languages (Snowball, through PyStemmer's C implementation).

A rule term in one of STEM_LANGUAGES matches every form of its words that has the same Snowball stem:
"сбой" matches "сбоя", "сбоем"; "interrompido" matches "interrompidos"; "Störung" matches
"Störungen". Terms with a `*` wildcard are matched literally, as written.

`stemmer(language)` returns a cached `stem(word) -> str` for a folded word, or None for a language
without stemming. Stems are cached per language (bounded), since news text repeats its words.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable

STEM_LANGUAGES = {
    "de": "german", "en": "english", "es": "spanish", "fr": "french", "pt": "portuguese", "ru": "russian",
    "id": "indonesian",
}
CACHE_MAX = 200_000   # words per language; the cache is emptied when it grows past this
MIN_PREFIX = 3        # a term word whose stem shares fewer leading characters with it is matched as written

_lock = threading.Lock()
_stemmers: dict[str, Callable[[str], str]] = {}


def stemmer(language: str | None) -> Callable[[str], str] | None:
    """The cached stem function for `language` (ISO 639-1), or None when it has no stemmer."""
    name = STEM_LANGUAGES.get(language or "")
    if name is None:
        return None
    fn = _stemmers.get(name)
    if fn is not None:
        return fn
    with _lock:
        if name not in _stemmers:
            import Stemmer

            snowball = Stemmer.Stemmer(name)
            stem_word = snowball.stemWord
            cache: dict[str, str] = {}

            def stem(word: str) -> str:
                s = cache.get(word)
                if s is None:
                    if len(cache) >= CACHE_MAX:
                        cache.clear()
                    s = cache[word] = stem_word(word)
                return s

            _stemmers[name] = stem
    return _stemmers[name]


def match_prefix(word: str, stem: str) -> str:
    """What the automaton looks for to find the forms of `word`: the characters it shares with its
    stem ("happy"/"happi" -> "happ"), compared without diacritics since some stemmers drop them
    ("störung"/"storung" -> "störung"); "" when that is too short to stem safely."""
    n = 0
    for a, b in zip(word, stem, strict=False):
        if a != b and unicodedata.normalize("NFD", a)[0] != b:
            break
        n += 1
    return word[:n] if n >= MIN_PREFIX else ""


def lookup_prefix(prefix: str) -> str:
    """The part of a stem prefix the automaton looks for: up to its first letter with a diacritic,
    when enough is left, since inflection can move an accent ("versión", "versiones")."""
    for i, ch in enumerate(prefix):
        if len(unicodedata.normalize("NFD", ch)) > 1:
            return prefix[:i] if i >= MIN_PREFIX else prefix
    return prefix
