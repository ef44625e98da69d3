"""The records that flow through the pipeline: fetch → extract → detect language and date → dedupe →
classify → cluster → store → outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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

    @property
    def content_hash(self) -> str:
        from monitor.textutil import content_hash

        return content_hash(self.title, self.text)
