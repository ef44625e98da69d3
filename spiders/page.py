"""`scrapy crawl page -a source=ID`: polls HTML listing pages (news sections, press-release pages)."""

from __future__ import annotations

from spiders.base import SourceSpider


class PageSpider(SourceSpider):
    name = "page"
    kinds = ("page",)
