"""Why an alert fired, readable in five seconds: the one sentence of the article that decided, with
the deciding terms marked, how clearly the score cleared the threshold, and the terms that counted.

`evidence(article, result, category)` reads the classifier's matches (`Classification.matches`:
field, offset in the original field text, the text as written, weight) and returns an `Evidence`
that `alerts.message.alert_from_article` copies into the Alert:

* `sentence` — the deciding sentence as segments `[[text, marked], ...]` (lists, so that the alert
  round-trips through JSON unchanged). The texts joined are a verbatim span of the article text,
  whitespace runs collapsed to one space: nothing inserted, nothing reordered, except a `["…", False]`
  segment at an end where a long sentence was trimmed. The marked segments are the counted positive
  matches of the category inside the sentence (overlapping ones merged into one mark) and the other
  occurrences there of a counted term's text (a headline term repeated in the lead). No segment is
  empty (one between two marks may be a single space); the first does not start and the last does
  not end with a space. Empty when the category has no positive evidence.

  Which sentence: a text sentence (the headline is shown anyway) — first one in the lead (the
  classifier's first LEAD_SENTENCES sentences) holding medium or strong evidence (weight >=
  POSITION_WEIGHT), else the one holding the heaviest evidence (then the most, then the earliest);
  a sentence that only repeats the headline comes last, and a sentence that starts with the
  headline is shown without it. The headline itself only when no text sentence carries evidence.
  Sentences end after . ! ? … followed by whitespace, after 。！？؟ (and the fullwidth ！？), and at a
  line break — the classifier's rule (`scoring.sentence_starts`), plus line breaks; a match that
  crosses such a border joins the sentences it spans. A sentence longer than MAX_SENTENCE characters
  is trimmed around its marks, at a word boundary (a character boundary in scripts written without
  spaces), never inside a mark.

* `strength` — the score against the category's threshold (`Classification.thresholds`, else the
  rules' default): "strong" at STRONG_RATIO (3x) or more, "clear" at CLEAR_RATIO (1.5x) or more,
  else "borderline". With the shipped threshold 3: a strong term in the headline (3 x 2) and one in
  the text (3) is strong (9); a strong term and a medium one (5) clear; one strong term with a context
  term (4) borderline. (A flagged article sums every distinct term, so scores run high: on the tuning
  sets about three in four flagged articles read strong at 3x, nearly all at 2x.)

* `terms` — the counted positive evidence, strongest first, each text once (case and whitespace
  runs ignored).

* `snippet` — the sentence as plain text with the marked parts in [...], for older renderers; ""
  when there is no sentence (`alert_from_article` then quotes the start of the summary or text).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from monitor.classify.normalize import word_char
from monitor.classify.rules import DEFAULT_THRESHOLD
from monitor.classify.scoring import LEAD_SENTENCES, POSITION_WEIGHT
from monitor.models import Article, Classification, Match

MAX_SENTENCE = 300    # longer sentences are trimmed around their marks to about this many characters
STRONG_RATIO = 3.0    # score >= 3 x threshold: strong
CLEAR_RATIO = 1.5     # score >= 1.5 x threshold: clear; below: borderline
ELLIPSIS = "…"
_SNAP = 40            # how far a trimmed end moves to reach a word boundary

# a sentence ends after . ! ? … followed by whitespace, after 。！？؟ (fullwidth ！？ too), at a line break
_END = re.compile(r"[.!?…](?=\s)|[。！？؟]|[\n\r\x0b\x0c\x85\u2028\u2029]")
_WS = re.compile(r"\s+")
# what a trimmed start skips: punctuation that closes or separates ("…, foo" reads "…foo")
_LEADING_SKIP = frozenset({"Pe", "Pf", "Po", "Pd"})


@dataclass
class Evidence:
    sentence: list[list[Any]] = field(default_factory=list)
    strength: str = ""
    terms: list[str] = field(default_factory=list)
    snippet: str = ""
    field: str = ""                        # where the sentence is from: "text", "title" or "" (none)
    span: tuple[int, int] = (0, 0)         # the verbatim part: field[span[0]:span[1]], whitespace collapsed
    bounds: tuple[int, int] = (0, 0)       # the whole sentence; "…" stands at a side where span is inside it


def strength(score: float | None, threshold: float | None) -> str:
    """"strong", "clear" or "borderline": `score` against `threshold` (see the module docstring)."""
    if score is None:
        return ""
    t = threshold if threshold and threshold > 0 else DEFAULT_THRESHOLD
    if score >= STRONG_RATIO * t:
        return "strong"
    if score >= CLEAR_RATIO * t:
        return "clear"
    return "borderline"


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """The sentences of an original (un-normalised) text as [start, end) spans, whitespace at their
    ends excluded; empty sentences are left out."""
    out: list[tuple[int, int]] = []
    pos = 0
    for m in _END.finditer(text):
        _add_stripped(text, pos, m.end(), out)
        pos = m.end()
    _add_stripped(text, pos, len(text), out)
    return out


def _add_stripped(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append((start, end))


def _located(source: str, m: Match) -> tuple[int, int] | None:
    """Where the match stands in its field: its offset, or (when the text moved) its first occurrence."""
    if not m.text:
        return None
    if source[m.offset : m.offset + len(m.text)] == m.text:
        return m.offset, m.offset + len(m.text)
    i = source.find(m.text)
    return (i, i + len(m.text)) if i >= 0 else None


def _is_rule(m: Match) -> bool:
    """A NEAR/PRE rule's hit: its text is the span between the operands, not a term's text."""
    return " NEAR/" in m.term or " PRE/" in m.term


def _occurrences(source: str, text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Other places in source[lo:hi] where `text` is written (case and whitespace runs aside), on the
    word boundaries a term's hit has."""
    words = text.split()
    if not words:
        return []
    pattern = re.compile(r"\s+".join(map(re.escape, words)), re.IGNORECASE)
    out = []
    for m in pattern.finditer(source, lo, hi):
        s, e = m.span()
        if word_char(source[s]) and s > 0 and word_char(source[s - 1]):
            continue
        if word_char(source[e - 1]) and e < len(source) and word_char(source[e]):
            continue
        out.append((s, e))
    return out


def _headline_prefix(source: str, start: int, end: int, title: str) -> tuple[int, int] | None:
    """For a sentence that starts with the headline: where the headline ends, and where the sentence
    goes on after it (punctuation and spaces skipped; `end` when it is only the headline). None when
    it does not start with it."""
    words = title.split()
    if not words:
        return None
    m = re.compile(r"\s+".join(map(re.escape, words)), re.IGNORECASE).match(source, start, end)
    if m is None:
        return None
    pos = m.end()
    while pos < end and (source[pos].isspace() or unicodedata.category(source[pos]) in _LEADING_SKIP):
        pos += 1
    return m.end(), pos


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _boundary(text: str, i: int) -> bool:
    """Whether a cut at i falls between words (or characters of a script written without spaces)."""
    if i <= 0 or i >= len(text):
        return True
    if _is_mark(text[i]):
        return False
    return not (word_char(text[i - 1]) and word_char(text[i]))


def _cut_start(text: str, lo: int, limit: int) -> int:
    """A trimmed start at or after `lo` (and at most `limit`): at a word boundary when one is near."""
    for i in range(lo, min(limit, lo + _SNAP) + 1):
        if _boundary(text, i):
            lo = i
            break
    else:
        while lo < limit and _is_mark(text[lo]):
            lo += 1
    while lo < limit and (text[lo].isspace() or unicodedata.category(text[lo]) in _LEADING_SKIP):
        lo += 1
    return lo


def _cut_end(text: str, hi: int, limit: int) -> int:
    """A trimmed end at or before `hi` (and at least `limit`): at a word boundary when one is near."""
    for i in range(hi, max(limit, hi - _SNAP) - 1, -1):
        if _boundary(text, i):
            hi = i
            break
    else:   # no boundary near: a character boundary, before a letter that has marks after it
        while hi > limit and hi < len(text) and _is_mark(text[hi]):
            hi -= 1
    while hi > limit and text[hi - 1].isspace():
        hi -= 1
    return hi


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _segments(source: str, lo: int, hi: int, marks: list[tuple[int, int]], anchor: tuple[int, int],
              limit: int) -> tuple[list[list[Any]], int, int]:
    """source[lo:hi] as [[text, marked], ...] with `marks` (merged, inside [lo, hi)) marked; trimmed
    to about `limit` characters around the marks (keeping `anchor`, the strongest) when longer. Also
    the verbatim part's start and end."""
    start, end = lo, hi
    if hi - lo > limit:
        # the marks to keep: the anchor, then the nearest others while they fit
        kept = [m for m in marks if m[0] <= anchor[0] < m[1]] or [anchor]
        c0, c1 = kept[0]
        for s, e in sorted(marks, key=lambda m: abs(m[0] - c0)):
            if min(c0, s) >= lo and max(c1, e) - min(c0, s) <= limit:
                c0, c1 = min(c0, s), max(c1, e)
        dropped = [m for m in marks if not (c0 <= m[0] and m[1] <= c1)]
        marks = [m for m in marks if c0 <= m[0] and m[1] <= c1]
        room = max(0, limit - (c1 - c0))
        left = min(room // 2, c0 - lo)
        right = min(room - left, hi - c1)
        left = min(room - right, c0 - lo)
        start = lo if c0 - left <= lo else _cut_start(source, c0 - left, c0)
        end = hi if c1 + right >= hi else _cut_end(source, c1 + right, c1)
        for s, e in dropped:   # no mark left out is shown in part, unmarked
            if s < c0 and e > start:
                start = _cut_start(source, e, c0)
            elif e > c1 and s < end:
                end = _cut_end(source, s, c1)
    out: list[list[Any]] = []
    pos = start
    for s, e in marks:
        if s > pos:
            out.append([source[pos:s], False])
        out.append([source[s:e], True])
        pos = e
    if end > pos:
        out.append([source[pos:end], False])
    for seg in out:
        seg[0] = _WS.sub(" ", seg[0])
    if out and not out[0][1]:
        out[0][0] = out[0][0].lstrip()
    if out and not out[-1][1]:
        out[-1][0] = out[-1][0].rstrip()
    out = [seg for seg in out if seg[0]]
    if start > lo:
        out.insert(0, [ELLIPSIS, False])
    if end < hi:
        out.append([ELLIPSIS, False])
    return out, start, end


def _choose(article: Article, text_hits: list[tuple[Match, tuple[int, int]]],
            reoccurring: list[tuple[Match, tuple[int, int]]]) -> tuple[int, int, tuple[int, int]] | None:
    """The deciding text sentence: (start, end, the span of its strongest evidence), or None."""
    text = article.text
    bounds = sentence_bounds(text)
    if not bounds:
        return None
    starts = [b[0] for b in bounds]
    ends = [b[1] for b in bounds]

    def index(pos: int) -> int:
        return max(0, bisect_right(starts, pos) - 1)

    hits = text_hits or reoccurring
    # a match that crosses a sentence border joins the sentences it spans
    joined = [False] * len(bounds)
    for _, (s, e) in hits:
        for k in range(index(s), index(e - 1)):
            joined[k] = True
    blocks: list[tuple[int, int]] = []
    k = 0
    while k < len(bounds):
        j = k
        while joined[j]:
            j += 1
        blocks.append((k, j))
        k = j + 1
    block_of = [0] * len(bounds)
    for b, (k, j) in enumerate(blocks):
        for i in range(k, j + 1):
            block_of[i] = b
    per_block: dict[int, list[tuple[Match, tuple[int, int]]]] = {}
    for m, span in hits:
        per_block.setdefault(block_of[index(span[0])], []).append((m, span))
    best = None
    for b, ms in per_block.items():
        lo, hi = starts[blocks[b][0]], ends[blocks[b][1]]
        prefix = _headline_prefix(text, lo, hi, article.title)
        first = min(s for _, (s, _) in ms)
        only_headline = prefix is not None and prefix[1] >= hi and first < prefix[0]
        heaviest = max(m.weight for m, _ in ms)
        told = text_hits and heaviest >= POSITION_WEIGHT and min(m.sentence for m, _ in ms) < LEAD_SENTENCES
        strongest = min(ms, key=lambda x: (-x[0].weight, x[1][0]))[1]
        rank = (not only_headline, bool(told), heaviest, sum(m.weight for m, _ in ms), -lo)
        if prefix is not None and first >= prefix[0]:
            lo = min(prefix[1], first)   # the headline is shown already
        if best is None or rank > best[0]:
            best = (rank, lo, hi, strongest)
    if best is None:
        return None
    return best[1], best[2], best[3]


MAX_TERMS = 8  # terms listed in an alert, strongest first: the rest is in `newsmon check`


def evidence(article: Article, result: Classification, category: str, *, limit: int = MAX_SENTENCE) -> Evidence:
    """The evidence for `category` in `result` (see the module docstring)."""
    positive = [m for m in result.matches if m.category == category and m.weight > 0]
    # what decided are the triggers; context words (customers, app, network) only added weight, and are
    # shown only when they are all there is
    deciding = [m for m in positive if m.kind != "context"]
    positive = deciding or positive
    ordered = sorted(positive, key=lambda m: -m.weight)
    seen: set[str] = set()
    terms = []
    for m in ordered:
        shown = " ".join(m.text.split())
        if shown and shown.casefold() not in seen and len(terms) < MAX_TERMS:
            seen.add(shown.casefold())
            terms.append(shown)

    ev = Evidence(strength=strength(result.scores.get(category), result.thresholds.get(category)), terms=terms)

    located: dict[str, list[tuple[Match, tuple[int, int]]]] = {"title": [], "text": []}
    for m in positive:
        fld = "title" if m.field == "title" else "text"
        span = _located(article.title if fld == "title" else article.text, m)
        if span is not None:
            located[fld].append((m, span))
    # a counted term's text written elsewhere in the text (a headline term repeated in the lead)
    taken = [span for _, span in located["text"]]
    reoccurring: list[tuple[Match, tuple[int, int]]] = []
    for m in ordered:
        if _is_rule(m):
            continue
        for span in _occurrences(article.text, m.text, 0, len(article.text)):
            if not any(s < span[1] and span[0] < e for s, e in taken):
                reoccurring.append((m, span))
                taken.append(span)

    chosen = _choose(article, located["text"], reoccurring) if (located["text"] or reoccurring) else None
    if chosen is not None:
        source, (lo, hi, anchor) = article.text, chosen
        real = [span for _, span in located["text"] if lo <= span[0] and span[1] <= hi]
        extra = [span for _, span in reoccurring if lo <= span[0] and span[1] <= hi]
    elif located["title"]:
        source = article.title
        lo, hi = len(source) - len(source.lstrip()), len(source.rstrip())
        real = [span for _, span in located["title"] if lo <= span[0] and span[1] <= hi]
        extra = []
        anchor = min(located["title"], key=lambda x: (-x[0].weight, x[1][0]))[1]
    else:
        return ev
    marks = _merge(real)
    marks = _merge(marks + [s for s in extra if not any(a < s[1] and s[0] < b for a, b in marks)])
    if not any(s <= anchor[0] < e for s, e in marks):
        anchor = marks[0] if marks else (lo, lo)
    ev.sentence, start, end = _segments(source, lo, hi, marks, anchor, limit)
    ev.field = "text" if chosen is not None else "title"
    ev.span, ev.bounds = (start, end), (lo, hi)
    ev.snippet = "".join(f"[{t}]" if marked else t for t, marked in ev.sentence)
    return ev
