"""The records that flow through the pipeline: fetch → extract → detect language and date → dedupe →
classify → cluster → store → outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property


@dataclass
class Article:
    """One article, as extracted from a feed entry, a sitemap entry or a page.

    `published` and `fetched` are timezone-aware. `language` is an ISO 639-1 code or None.
    `language_source` says where the language came from: "declared" (page or feed) or "detected".
    """

    url: str                      # canonical URL (tracking parameters and fragment stripped)
    source_id: str
    title: str
    text: str                     # main text, boilerplate removed
    language: str | None
    published: datetime | None
    fetched: datetime
    language_source: str = "detected"
    summary: str = ""
    tags: list[str] = field(default_factory=list)
    queued_url: str | None = None  # the poll queue's key for this entry (the URL before any rel=canonical)

    @cached_property
    def content_hash(self) -> str:
        """Computed once, on first use (dedupe, then storing): set the final text before asking."""
        from monitor.textutil import content_hash

        return content_hash(self.title, self.text)


@dataclass
class Match:
    """One keyword hit that contributed to a category's score."""

    category: str
    term: str          # the rule term as written in the keyword file, e.g. "*ausfall"
    text: str          # the text it matched, as it appears in the article, e.g. "Netzausfall"
    field: str         # "title" or "text"
    offset: int        # character offset of the match in that field's original (un-normalised) text
    weight: float
    language: str      # language of the rule set that produced the hit ("*" for language-neutral rules)
    actor: str = ""    # the organisation or service the evidence is tied to (same sentence), as written
    sentence: int = 0  # which sentence of the field it stands in (0: the first; the title is one sentence)
    kind: str = ""     # the rule's kind: "strong", "trigger", "context", "negative" ("" when not known)


@dataclass
class Classification:
    """What the classifier concluded about one article, with the evidence."""

    categories: list[str]                       # flagged: score >= threshold, not vetoed, entity rule met
    scores: dict[str, float]                    # every category that had any hit, flagged or not
    matches: list[Match]
    entities: list[str]                         # canonical watchlist names found (e.g. "China Unicom")
    language: str | None                        # the language the rules were applied for
    vetoed: dict[str, list[str]] = field(default_factory=dict)  # category -> negative terms that vetoed it
    reasons: dict[str, str] = field(default_factory=dict)       # category -> why it fired, or did not
    genre: dict[str, list[str]] = field(default_factory=dict)   # genre gate that held -> the terms seen
    thresholds: dict[str, float] = field(default_factory=dict)  # category -> its threshold (as `scores`)
