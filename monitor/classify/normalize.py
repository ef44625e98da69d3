"""Language-aware text folding with an offset map back to the original text.

`fold(text)` returns a `Folded` text in which:

* Unicode is NFKC-normalised and case-folded (so fullwidth "ＡＴ＆Ｔ" is "at&t", "Störung" is "störung");
* Vietnamese (and any Latin text) written with decomposed diacritics equals the precomposed form;
* Arabic diacritics (harakat, superscript alef) and tatweel are dropped, alef forms (أ إ آ ٱ) fold to ا,
  alef maqsura ى to ي, ta marbuta ة to ه, Persian ک/ی to ك/ي;
* Traditional Chinese characters are folded to Simplified (OpenCC `t2s`, character by character);
* every whitespace character is a plain space, hyphens and dashes inside words are spaces
  ("Fake-News" is "fake news"), zero-width characters and soft hyphens are dropped.

`Folded.offsets` maps each folded character (and the end position) to its index in the original
text, so a hit found in the folded text is reported where it stands in the original.
Offsets are None when the folding was one-to-one (the common, fast case).

Pure functions; the fold table is built lazily, one character at a time, and cached for the process.

Speed: ASCII text is folded with `str.lower` and an ASCII `str.translate` table. Other text is folded
through a code-point lookup array (numpy, filled lazily from the same per-character fold table):
encode to UTF-32, one vectorised lookup, decode, about 20x cheaper than `str.translate` with a dict
for non-Latin-1 text. Text with a character that does not fold one-to-one (combining marks, Arabic
diacritics, "ß", ligatures...) takes the slow path, which also builds the offset map.
"""

from __future__ import annotations

import threading
import unicodedata
from bisect import bisect_right

import numpy as np  # a dependency of py3langid, which newsmon already requires

_SPECIAL = "\x00"  # marks a character whose fold is not exactly one character

# Characters removed entirely.
_DROP = set(
    [chr(c) for c in range(0x064B, 0x0660)]      # Arabic harakat, shadda, sukun, maddah above...
    + ["\u0670", "\u0640", "\u06E1"]             # superscript alef, tatweel, small high dotless head
    + ["\u200B", "\u200C", "\u200D", "\u2060", "\uFEFF", "\u00AD"]
)
# One-to-one letter foldings applied after NFKC + casefold.
_LETTERS = {
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا",
    "ى": "ي", "ی": "ي", "ئ": "ي", "ة": "ه", "ک": "ك", "ۀ": "ه",
    "ё": "е",                                    # Russian ё is written е in most news text
    "-": " ", "\u2010": " ", "\u2011": " ", "\u2012": " ", "\u2013": " ", "\u2014": " ",
    "_": " ", "’": "'", "‘": "'", "ʼ": "'", "`": "'", "\x00": " ",
}

_t2s_lock = threading.Lock()
_t2s_converter = None


def _t2s(ch: str) -> str:
    global _t2s_converter
    if _t2s_converter is None:
        with _t2s_lock:
            if _t2s_converter is None:
                import opencc

                _t2s_converter = opencc.OpenCC("t2s")
    out = _t2s_converter.convert(ch)
    if len(out) != 1:
        return ch
    if out != ch:   # t2s is not always idempotent: 薴 -> 苧 -> 苎
        again = _t2s_converter.convert(out)
        out = again if len(again) == 1 else out
    return out


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x3FFFF


def fold_piece(piece: str) -> str:
    """Fold a short piece of text character by character (no offsets). Used for keyword terms and
    for the rare characters that do not fold one-to-one."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", piece).casefold():
        if ch in _DROP:
            continue
        ch = _LETTERS.get(ch, ch)
        if ch.isspace():
            ch = " "
        elif _is_cjk(ch):
            ch = _t2s(ch)
        out.append(ch)
    return "".join(out)


class _FoldTable(dict):
    """str.translate table: char -> its one-character fold, or _SPECIAL when it needs the slow path."""

    def __missing__(self, key: int) -> str:
        ch = chr(key)
        if ch in _DROP or unicodedata.combining(ch) or ch == _SPECIAL:
            value = _SPECIAL
        else:
            folded = fold_piece(ch)
            value = folded if len(folded) == 1 else _SPECIAL
        self[key] = value
        return value


_TABLE = _FoldTable()
# the same fold for ASCII, applied after str.lower: dashes, "_", "`", every whitespace character, NUL
_ASCII_TABLE = str.maketrans({chr(c): fold_piece(chr(c)) for c in range(128) if fold_piece(chr(c)) != chr(c).lower()})


class Folded:
    """A folded text and the way back to the original.

    `offsets` maps each folded character (and the end position) to its index in the original text,
    or is None when the folding was one-to-one (the common case). When it was not, the map is kept
    as the few pieces that changed length (`pieces`: folded start, original start, folded length,
    original length), `original_span` maps a hit through them, and the full list is built only if
    `offsets` is asked for.
    """

    __slots__ = ("text", "_offsets", "_pieces", "_starts", "_n")

    def __init__(self, text: str, offsets: list[int] | None = None,
                 pieces: list[tuple[int, int, int, int]] | None = None, n: int = 0) -> None:
        self.text = text
        self._offsets = offsets
        self._pieces = pieces
        self._starts = [p[0] for p in pieces] if pieces is not None else None
        self._n = n

    @property
    def offsets(self) -> list[int] | None:
        if self._offsets is None and self._pieces is not None:
            self._offsets = [self._original(i) for i in range(len(self.text) + 1)]
        return self._offsets

    def _original(self, i: int) -> int:
        """Original index of folded index i (0 <= i <= len(text))."""
        if self._offsets is not None:
            return self._offsets[i]
        assert self._pieces is not None and self._starts is not None
        k = bisect_right(self._starts, i) - 1
        if k < 0:
            return i
        fstart, ostart, flen, width = self._pieces[k]
        if i < fstart + flen:
            j = i - fstart
            return ostart + (j if flen == width else min(j, width - 1))
        return i - fstart - flen + ostart + width

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the folded text to the original text."""
        if self._offsets is None and self._pieces is None:
            return start, end
        lo = self._original(start)
        # the end is where the next folded character starts, so that combining marks and dropped
        # characters (Arabic diacritics) that belong to the last letter are included
        hi = max(self._original(end), self._original(end - 1) + 1) if end > start else lo
        return lo, hi

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Folded):
            return NotImplemented
        return self.text == other.text and self.offsets == other.offsets

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Folded(text={self.text!r}, offsets={self.offsets!r})"


def fold(text: str) -> Folded:
    """Fold `text` for matching; see the module docstring."""
    if text.isascii():
        return Folded(text.lower().translate(_ASCII_TABLE), None)
    # short text (titles): the dict-table translate is cheaper than the vectorised one's set-up
    quick = text.translate(_TABLE) if len(text) < _SHORT else _translate_latin1(text) or _translate(text)
    if _SPECIAL not in quick:
        return Folded(quick, None)
    return _fold_slow(text, quick)


_SHORT = 128
_latin1: tuple[bytes, str] | None = None   # bytes.translate table for U+0000-U+00FF, escapes


def _translate_latin1(text: str) -> str | None:
    """`text.translate(_TABLE)` for Latin-1 text (German, French, Spanish, Portuguese...) with one
    bytes.translate; None when the text is not Latin-1 or holds a character whose fold is not."""
    global _latin1
    if _latin1 is None:
        table, escapes = bytearray(256), []
        for b in range(256):
            folded = _TABLE[b]
            if len(folded) == 1 and ord(folded) < 256:
                table[b] = ord(folded)      # _SPECIAL stays "\x00"
            else:
                escapes.append(chr(b))      # e.g. "µ" folds to Greek "μ"
        _latin1 = (bytes(table), "".join(escapes))
    table, escapes = _latin1
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return None
    if any(ch in text for ch in escapes):
        return None
    return raw.translate(table).decode("latin-1")

_CP_UNKNOWN = 0xFFFFFFFF        # code point not looked up yet
_CP_SPECIAL = 0xFFFFFFFE        # folds to more or less than one character: slow path
_CP_MARKERS = 0xFFFFFFFE        # values >= this are not code points
_cp_table: np.ndarray | None = None
_cp_lock = threading.Lock()


def _translate(text: str) -> str:
    """`text.translate(_TABLE)`, vectorised: each character replaced by its one-character fold, or by
    _SPECIAL when it needs the slow path."""
    global _cp_table
    table = _cp_table
    if table is None:
        with _cp_lock:
            if _cp_table is None:
                _cp_table = np.full(0x110000, _CP_UNKNOWN, dtype="<u4")
            table = _cp_table
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    out = table[cps]
    if out.max() >= _CP_MARKERS:
        unknown = out == _CP_UNKNOWN
        if unknown.any():
            for cp in np.unique(cps[unknown]).tolist():
                folded = _TABLE[cp]
                # filled once per character for the process; concurrent writers write the same value
                table[cp] = _CP_SPECIAL if folded == _SPECIAL else ord(folded)
            out = table[cps]
        if out.max() >= _CP_MARKERS:
            out[out == _CP_SPECIAL] = 0   # _SPECIAL is "\x00"
    return out.tobytes().decode("utf-32-le", "surrogatepass")


_PIECES: dict[str, str] = {}   # fold_piece cache for the slow path ("ß", "ﬁ", letter + marks...)


def _fold_slow(text: str, quick: str) -> Folded:
    """Fold the characters marked _SPECIAL in `quick` (runs of them, with the letter a combining
    mark belongs to) piece by piece, and record where the pieces are for the offset map."""
    parts: list[str] = []
    pieces: list[tuple[int, int, int, int]] = []
    pos = 0
    fpos = 0       # length of the folded text so far
    n = len(text)
    i = quick.find(_SPECIAL)
    while i != -1:
        start = i
        # a combining mark folds together with the letter before it (NFKC composes them)
        if start > pos and unicodedata.combining(text[start]) and quick[start - 1] != _SPECIAL:
            start -= 1
        end = i + 1
        while end < n and quick[end] == _SPECIAL:
            end += 1
        if start > pos:
            parts.append(quick[pos:start])
            fpos += start - pos
        raw = text[start:end]
        piece = _PIECES.get(raw)
        if piece is None:
            if len(_PIECES) >= 4096:
                _PIECES.clear()
            piece = _PIECES[raw] = fold_piece(raw)
        parts.append(piece)
        pieces.append((fpos, start, len(piece), end - start))
        fpos += len(piece)
        pos = end
        i = quick.find(_SPECIAL, end)
    if pos < n:
        parts.append(quick[pos:])
    return Folded("".join(parts), None, pieces, n)


def is_word_char(ch: str) -> bool:
    """True for characters that continue a word (letters, digits, marks) in any script, except CJK
    ideographs and kana, which are written without word boundaries."""
    if ch.isalnum():
        return not _is_cjk(ch) and not ("\u3040" <= ch <= "\u30ff")
    return unicodedata.category(ch).startswith("M") if ord(ch) > 127 else False


WORD_CHARS: dict[str, bool] = {}   # is_word_char, cached per character for the process


def word_char(ch: str) -> bool:
    """`is_word_char(ch)`, through the WORD_CHARS cache (read it directly on hot paths)."""
    v = WORD_CHARS.get(ch)
    if v is None:
        v = WORD_CHARS[ch] = is_word_char(ch)
    return v


def is_unbounded_script(ch: str) -> bool:
    """Scripts written without spaces between words: a term starting or ending with one of these
    characters needs no word boundary on that side."""
    return _is_cjk(ch) or "\u3040" <= ch <= "\u30ff" or "\u0e00" <= ch <= "\u0e7f"
