"""Small text helpers shared by the pipeline stages."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")


def collapse_ws(text: str) -> str:
    return _WS.sub(" ", text).strip()


def content_hash(title: str, text: str) -> str:
    """A hash of an article's content that ignores case, Unicode form and whitespace, so the same
    story re-published under a new URL (syndication, tracking links) is recognised as seen."""
    norm = unicodedata.normalize("NFKC", f"{title}\n{text}").casefold()
    return hashlib.sha256(collapse_ws(norm).encode("utf-8")).hexdigest()[:32]


def snippet(text: str, start: int, end: int, width: int = 80) -> str:
    """The match text[start:end] with up to `width` characters of context either side, on one line:
    verbatim (whitespace runs collapsed), nothing inserted but a "…" where the text goes on."""
    lo = max(0, start - width)
    hi = min(len(text), end + width)
    return ("…" if lo > 0 else "") + collapse_ws(text[lo:hi]) + ("…" if hi < len(text) else "")


def table(rows: list[list[str]], numeric: set[int] | frozenset[int] = frozenset()) -> str:
    """Rows as aligned columns for a terminal; columns in `numeric` are right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()
        for r in rows
    )
