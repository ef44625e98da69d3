"""`scrapy crawl feed -a source=ID`: polls RSS, Atom, RDF and JSON Feed sources."""

from __future__ import annotations

from spiders.base import SourceSpider


class FeedSpider(SourceSpider):
    name = "feed"
    kinds = ("feed",)
