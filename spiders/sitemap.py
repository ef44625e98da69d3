"""`scrapy crawl sitemap -a source=ID`: polls sitemaps, sitemap indexes and Google News sitemaps."""

from __future__ import annotations

from spiders.base import SourceSpider


class SitemapSpider(SourceSpider):
    name = "sitemap"
    kinds = ("sitemap",)
