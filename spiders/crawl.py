"""`scrapy crawl <spider> [-a source=ID]` for this project (scrapy.cfg → monitor.scrapy_settings →
COMMANDS_MODULE = "spiders.crawl"): Scrapy's own crawl command, with newsmon's checks done before the
crawl starts, so a mistake is one line on stderr and exit 2 instead of a traceback from inside the
reactor:

    newsmon: unknown source "nope" (did you mean "nopa"?; known sources: nopa, smap)
    newsmon: source "smap" is a sitemap, not a feed: use scrapy crawl sitemap -a source=smap
    newsmon: invalid config, refusing to crawl:  (then each problem as file:line key.path: reason)

The command loads the config ($NEWSMON_CONFIG, else ./config.yaml) and the rules once, builds the
runtime, hands it to the spider and closes it when the crawl ends. Spiders that are not newsmon's and
other uses of Scrapy's crawl command (no spider, two spiders) are left to Scrapy."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand


class Command(ScrapyCrawlCommand):
    runtime: Any = None  # built by process_options for a newsmon spider, closed after the crawl

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Runs before Scrapy creates its crawler process (and logs its banner): the checks are done
        here, so a mistake prints nothing but its own lines."""
        super().process_options(args, opts)
        if len(args) != 1 or "runtime" in opts.spargs:
            return  # Scrapy's own usage errors, or a caller that brings its runtime
        from scrapy.spiderloader import get_spider_loader

        from spiders.base import SourceSpider

        assert self.settings is not None
        loader = get_spider_loader(self.settings)
        try:
            spidercls = loader.load(args[0])
        except KeyError:
            self._refuse(f'newsmon: unknown spider "{args[0]}" (spiders: {", ".join(sorted(loader.list()))})')
        if isinstance(spidercls, type) and issubclass(spidercls, SourceSpider):
            self.runtime = self._runtime(spidercls, opts.spargs.get("source"))

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if self.runtime is None:
            return super().run(args, opts)
        assert self.crawler_process is not None
        try:
            self.crawler_process.crawl(self._create_crawler(args[0]), runtime=self.runtime, **opts.spargs)
            self.crawler_process.start()
            if self.crawler_process.bootstrap_failed:
                self.exitcode = 1
        finally:
            self.runtime.close()
        return None

    @staticmethod
    def _refuse(*lines: object) -> None:
        print(*lines, sep="\n", file=sys.stderr)
        raise SystemExit(2)

    def _runtime(self, spidercls: type, source_arg: str | None) -> Any:
        """The runtime for the crawl; exit 2 with the reason when there can be none."""
        from monitor.config import load_config
        from monitor.crawl import SourceChoiceError, parse_source_arg, select_sources
        from monitor.errors import ConfigError, StoreError
        from monitor.runtime import Runtime

        assert self.settings is not None
        path = self.settings.get("NEWSMON_CONFIG") or "config.yaml"
        try:
            config = load_config(path)
            select_sources(config, parse_source_arg(source_arg), spidercls.kinds)  # type: ignore[attr-defined]
            return Runtime(config)  # loads the keyword files: a bad one is a ConfigError too
        except ConfigError as exc:
            self._refuse("newsmon: invalid config, refusing to crawl:", *exc.problems)
        except (SourceChoiceError, StoreError) as exc:
            self._refuse(f"newsmon: {exc}")
        return None
