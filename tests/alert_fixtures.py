"""Shared helpers for the alert tests: articles and classifications, an engine on a real SQLite file,
channel configs with recognisable secrets, a controllable clock, and `wait_until`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from alerts.config import ChannelConfig, DeliveryConfig, RouteConfig
from alerts.engine import AlertEngine
from monitor.models import Article, Classification, Match
from monitor.store import SqliteStore, open_store

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
SECRET_TOKEN = "T0KEN-s3cr3t-XYZ"
SECRET_KEY = "hmac-k3y-s3cr3t"
SECRET_PASSWORD = "pa55w0rd-s3cr3t"

FAST = {"backoff_base": 0.05, "backoff_max": 0.2, "timeout": 2, "poll_interval": 0.05, "drain_timeout": 10}

_channels = TypeAdapter(dict[str, ChannelConfig])


def channels(data: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return _channels.validate_python(data)


def routes(*data: dict[str, Any]) -> list[RouteConfig]:
    return [RouteConfig.model_validate(d) for d in data]


def delivery(**kw: Any) -> DeliveryConfig:
    return DeliveryConfig.model_validate({**FAST, **kw})


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def article(
    n: int = 1,
    title: str = "Fraud warning: MoMo accounts targeted",
    text: str = "Police said a large fraud scheme targeted MoMo mobile money accounts this week.",
    source: str = "news-a",
    language: str = "en",
) -> Article:
    return Article(
        url=f"https://news.example/{source}/{n}",
        source_id=source,
        title=title,
        text=text,
        language=language,
        published=T0 - timedelta(minutes=5),
        fetched=T0,
    )


def classification(
    categories: list[str] | None = None, entities: list[str] | None = None, term: str = "fraud", text: str | None = None
) -> Classification:
    categories = categories if categories is not None else ["fraud"]
    body = text if text is not None else "Police said a large fraud scheme targeted MoMo mobile money accounts this week."
    offset = body.find(term)
    matches = [Match(c, term, term, "text", offset, 2.0, "en") for c in categories]
    return Classification(
        categories=categories,
        scores={c: 3.5 for c in categories},
        matches=matches,
        entities=entities if entities is not None else ["MoMo"],
        language="en",
    )


def make_store(tmp_path: Path) -> SqliteStore:
    return open_store(tmp_path / "newsmon.db")


def add(
    engine: AlertEngine,
    store: SqliteStore,
    a: Article,
    c: Classification,
    now: datetime | None = None,
    story_id: int | None = None,
    tags: list[str] | None = None,
) -> int:
    """Store an article and enqueue its alerts in one transaction, as the pipeline does."""
    with store.transaction() as conn:
        article_id = store.add_article(conn, a, c, story_id)
        assert article_id is not None
        return engine.enqueue(
            conn, article_id=article_id, article=a, result=c, source_tags=tags or [], story_id=story_id,
            now=now or engine.clock(),
        )


def wait_until(cond: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Wait on a condition with a deadline (polling the condition, not sleeping a fixed time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def outbox_rows(store: SqliteStore) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query("SELECT * FROM alert_outbox ORDER BY id")]
