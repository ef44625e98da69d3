"""What a running newsmon holds: the config, the store, the rules in force, the alert engine, and the
per-source poll reports. Built once per process (crawl --once, the daemon, or `scrapy crawl`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config import Config, SourceConfig, load_config
from monitor.errors import ConfigError
from monitor.pipeline import Processor
from monitor.store.base import StoreHealth

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    """What one poll of one source did, for the summary line and for metrics."""

    source_id: str
    new: int = 0
    seen: int = 0
    old: int = 0             # stored, older than max_age: not alerted
    matched: int = 0
    alerts: int = 0
    not_modified: bool = False
    errors: list[str] = field(default_factory=list)
    article_errors: int = 0


class RuleHolder:
    """The RuleSet in force. A reload that fails keeps the last good rules."""

    def __init__(self, config: Config) -> None:
        self._lock = threading.Lock()
        self.rules = self._load(config)

    @staticmethod
    def _load(config: Config):  # -> RuleSet
        from monitor.classify import load_ruleset

        return load_ruleset(config.classify, config.base_dir)

    def __call__(self):  # -> RuleSet
        return self.rules

    def reload(self, config: Config) -> None:
        """Raises KeywordError (and keeps the old rules) when the new files are invalid."""
        rules = self._load(config)
        with self._lock:
            self.rules = rules

    @property
    def files(self) -> list[Path]:
        return [Path(p) for p in getattr(self.rules, "files", [])]


class Runtime:
    def __init__(self, config: Config, *, with_alerts: bool = True) -> None:
        from monitor.store import open_store

        self.config = config
        self.store = open_store(config.store_path)
        self.rules = RuleHolder(config)
        self.engine = None
        if with_alerts:
            from alerts import AlertEngine

            self.engine = AlertEngine.from_config(config, self.store)
        self.processor = Processor(config, self.store, self.rules, self.engine)
        self.reports: dict[str, PollReport] = {}
        self.metrics = None  # monitor.metrics.Metrics, set by the daemon
        # Called by the StorePipeline with (article, source, outcome) after each article is processed
        # (`newsmon crawl --dry-run` lists what a source yielded with it).
        self.on_processed: Callable[[Any, SourceConfig, Any], None] | None = None

    @classmethod
    def from_path(cls, path: str | Path) -> Runtime:
        return cls(load_config(path))

    @property
    def store_health(self) -> StoreHealth:
        return self.store.health

    def source(self, source_id: str) -> SourceConfig:
        return self.config.source(source_id)

    def report(self, source_id: str) -> PollReport:
        rep = self.reports.get(source_id)
        if rep is None:
            rep = self.reports[source_id] = PollReport(source_id)
        return rep

    def close(self) -> None:
        self.store.close()


__all__ = ["ConfigError", "PollReport", "RuleHolder", "Runtime", "StoreHealth"]
