"""Fast paths of the classifier give the same answers as the straightforward ones, and the benchmark's
neutral filler is neutral."""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import pytest

from monitor.classify import ClassifyConfig, classify, load_ruleset, normalize
from monitor.classify.matcher import find_hits
from monitor.classify.normalize import Folded, fold
from tests.conftest import SEEDS

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT / "tests" / "data" / "devset"
LANGUAGES = ["en", "de", "fr", "es", "pt", "vi", "id", "ar", "zh", "ru"]
FILLER = ROOT / "benchmarks" / "data"
RULES = load_ruleset(ClassifyConfig(), Path.cwd())


def filler(lang: str) -> str:
    """The neutral paragraphs benchmarks/bench_classify.py pads its representative articles with."""
    return (FILLER / f"filler_{lang}.txt").read_text(encoding="utf-8")

# characters that exercise every branch of the fold: case, sharp s, dotted I, ligatures, fullwidth,
# Traditional Chinese, Arabic letters, harakat and tatweel, combining marks, Cyrillic yo, final sigma,
# zero-width and soft hyphen, whitespace and dashes, NUL, a lone surrogate, astral characters, jamo
ALPHABET = ("aZ ßİﬁﬀＡ１，、。中國臺灣電訊網絡أإآةىیکـًٌّ\u0670\u0301\u0303e\u0323ЁёΣςΑ\u200b\u200c\u00ad\u2060"
            "\n\t\r -–—_’`\x00\ud800😀𠀀\u1100\u1161ǅﬃ\u0958K")


def reference_fold(text: str) -> Folded:
    """The fold as specified: one `str.translate` with the per-character table; characters that do not
    fold one-to-one folded run by run, with the full offset map built as it goes."""
    if text.isascii():
        return Folded(text.lower().translate(normalize._ASCII_TABLE), None)
    quick = text.translate(normalize._TABLE)
    if "\x00" not in quick:
        return Folded(quick, None)
    parts: list[str] = []
    offsets: list[int] = []
    pos, n = 0, len(text)
    i = quick.find("\x00")
    while i != -1:
        start = i
        if start > pos and unicodedata.combining(text[start]) and quick[start - 1] != "\x00":
            start -= 1
        end = i + 1
        while end < n and quick[end] == "\x00":
            end += 1
        if start > pos:
            parts.append(quick[pos:start])
            offsets.extend(range(pos, start))
        piece = normalize.fold_piece(text[start:end])
        parts.append(piece)
        width = end - start
        if len(piece) == width:
            offsets.extend(range(start, end))
        else:
            offsets.extend(start + min(k, width - 1) for k in range(len(piece)))
        pos = end
        i = quick.find("\x00", end)
    if pos < n:
        parts.append(quick[pos:])
        offsets.extend(range(pos, n))
    offsets.append(n)
    return Folded("".join(parts), offsets)


def _assert_same(text: str) -> None:
    got, want = fold(text), reference_fold(text)
    assert got.text == want.text, repr(text)
    size = len(got.text)   # spans first: through the pieces, before `offsets` builds the full map
    for start in range(0, size + 1, max(1, size // 40)):
        for end in (start, min(size, start + 1), min(size, start + 5)):
            assert got.original_span(start, end) == want.original_span(start, end), (repr(text), start, end)
    assert got.offsets == want.offsets, repr(text)


def _corpus() -> list[str]:
    texts = []
    for f in sorted(DEVSET.glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            if line.strip():
                r = json.loads(line)
                texts += [r.get("title", ""), r["text"], unicodedata.normalize("NFD", r["text"]), r["text"].upper()]
    texts += [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    texts += [filler(lang) for lang in LANGUAGES]
    return texts


@pytest.mark.conformance
def test_fold_equals_reference_on_corpus() -> None:
    for text in _corpus():
        _assert_same(text)


def test_fold_equals_reference_on_random_text() -> None:
    rnd = random.Random(20240611)
    for _ in range(5000):
        text = "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 16)))
        _assert_same(text)
    latin1 = "aZ éÉßµª¹¼ÿ\xa0\xad-_`\t\n\x00" + "".join(map(chr, range(0xC0, 0x100)))
    for alphabet in (ALPHABET, latin1, latin1 + "ŒœĀ"):   # long text: the vectorised paths
        for _ in range(200):
            _assert_same("".join(rnd.choice(alphabet) for _ in range(rnd.randint(128, 400))))
    for _ in range(300):   # random code points, any plane
        text = "".join(chr(rnd.randrange(0x20, 0x110000)) for _ in range(rnd.randint(1, 8)))
        _assert_same(text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_benchmark_filler_is_neutral(lang: str) -> None:
    text = filler(lang)
    assert len(text) >= 800 and text.count("\n\n") >= 5
    result = classify("", text, lang, RULES)
    assert result.categories == [] and result.matches == [] and result.language == lang
    # actors and genre markers occur in ordinary prose; no category term may be tied to one there
    evidence = [t.term for _, _, t in find_hits(fold(text).text, RULES.automaton(lang))
                if t.kind in ("strong", "trigger") and t.category in result.scores]
    assert evidence == [] or all(result.scores[c] == 0 for c in result.scores), evidence
    assert classify("", text, None, RULES).language == lang
