"""The article path after extraction: dedupe → classify → cluster → store → outbox, with the real
classifier, a real SQLite store and the real alert engine (console channel, nothing sent here)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.models import Article
from monitor.runtime import Runtime
from tests.conftest import SEEDS

pytestmark = pytest.mark.conformance  # every test here reads the seeds in ../shared

NOW = datetime.now(timezone.utc)


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    (tmp_path / "config.yaml").write_text(
        "store: {path: p.db}\nsources:\n  - {id: s1, type: feed, url: 'https://a.example/feed', tags: [vn]}\n"
        "  - {id: s2, type: feed, url: 'https://b.example/feed', max_age: 1d}\n",
        encoding="utf-8",
    )
    rt = Runtime(load_config(tmp_path / "config.yaml", env={}))
    yield rt
    rt.close()


def seed(name: str, source: str, url: str, language: str, published: datetime | None = NOW) -> Article:
    lines = (SEEDS / name).read_text(encoding="utf-8").splitlines()
    title = next(line for line in lines if line.strip())
    return Article(url=url, source_id=source, title=title, text="\n".join(lines), language=language,
                   published=published, fetched=NOW)


def outbox_items(rt: Runtime) -> list[tuple]:
    return [tuple(r) for r in rt.store.query("SELECT article_id, category FROM alert_items ORDER BY id")]


@pytest.mark.conformance
def test_same_story_in_two_languages_joins_one_story(runtime: Runtime) -> None:
    de = runtime.processor.process(seed("000_924deedb2fb67d44.txt", "s1", "https://a.example/1", "de"), runtime.source("s1"))
    vi = runtime.processor.process(seed("001_61d7468f366b2028.txt", "s2", "https://b.example/2", "vi"), runtime.source("s2"))
    assert (de.status, vi.status) == ("new", "new")
    assert set(de.categories) == set(vi.categories) == {"outage", "rumor"}
    stories = runtime.store.query("SELECT story_id FROM articles ORDER BY id")
    assert stories[0][0] is not None and stories[0][0] == stories[1][0]
    ((count,),) = runtime.store.query("SELECT articles FROM stories")
    assert count == 2


@pytest.mark.conformance
def test_article_and_its_alerts_are_stored_together(runtime: Runtime) -> None:
    out = runtime.processor.process(seed("003_3eac16cddba1072d.txt", "s1", "https://a.example/att", "de"),
                                    runtime.source("s1"))
    assert out.categories == ["outage"] and out.alerts == 1
    assert outbox_items(runtime) == [(out.article_id, "outage")]


@pytest.mark.conformance
def test_old_story_is_stored_but_not_alerted(runtime: Runtime) -> None:
    old = seed("002_542d441121f06b8d.txt", "s2", "https://b.example/old", "ar", published=NOW - timedelta(days=3))
    out = runtime.processor.process(old, runtime.source("s2"))
    assert (out.status, out.fresh, out.categories, out.alerts) == ("new", False, ["fraud"], 0)
    assert outbox_items(runtime) == []
    assert runtime.store.count_articles() == 1


@pytest.mark.conformance
@pytest.mark.parametrize(
    "second_url, expected",
    [("https://a.example/1", "seen"), ("https://mirror.example/syndicated?id=9", "duplicate")],
    ids=["same-url", "same-content-new-url"],
)
def test_a_story_is_never_yielded_twice(runtime: Runtime, second_url: str, expected: str) -> None:
    first = runtime.processor.process(seed("003_3eac16cddba1072d.txt", "s1", "https://a.example/1", "de"), runtime.source("s1"))
    again = runtime.processor.process(seed("003_3eac16cddba1072d.txt", "s1", second_url, "de"), runtime.source("s1"))
    assert (first.status, again.status) == ("new", expected)
    assert runtime.store.count_articles() == 1
    assert len(outbox_items(runtime)) == 1


@pytest.mark.conformance
def test_language_is_detected_when_unknown(runtime: Runtime) -> None:
    art = seed("004_fea7d35032dd25c1.txt", "s1", "https://a.example/zh", "zh")
    art.language = None
    out = runtime.processor.process(art, runtime.source("s1"))
    assert out.categories == ["outage"]
    assert runtime.store.query("SELECT language, entities FROM articles")[0][:] == ("zh", '["China Unicom"]')


@pytest.mark.conformance
def test_the_five_seeds_make_four_stories_and_four_first_alerts(runtime: Runtime) -> None:
    """expected.yaml: 000 (de) and 001 (vi) are one MoMo story — two sources, one first alert; 002, 003 and
    004 are three other stories."""
    names = [("000_924deedb2fb67d44.txt", "de"), ("001_61d7468f366b2028.txt", "vi"), ("002_542d441121f06b8d.txt", "ar"),
             ("003_3eac16cddba1072d.txt", "de"), ("004_fea7d35032dd25c1.txt", "zh")]
    for i, (name, lang) in enumerate(names):
        out = runtime.processor.process(seed(name, "s1" if i % 2 else "s2", f"https://a.example/{i}", lang),
                                        runtime.source("s1" if i % 2 else "s2"))
        assert out.status == "new" and out.copy_of is None, name
    stories = [tuple(r) for r in runtime.store.query(
        "SELECT entities, sources, languages, articles FROM stories ORDER BY id")]
    assert stories == [('["MoMo"]', '["s2", "s1"]', '["de", "vi"]', 2), ('["Ooredoo"]', '["s2"]', '["ar"]', 1),
                       ('["AT&T"]', '["s1"]', '["de"]', 1), ('["China Unicom"]', '["s2"]', '["zh"]', 1)]
    messages = [tuple(r) for r in runtime.store.query(
        "SELECT o.group_key, o.mode, count(m.item_id) FROM alert_outbox o JOIN alert_outbox_items m ON m.outbox_id = o.id"
        " GROUP BY o.id ORDER BY o.id")]
    assert messages == [("story=1", "alert", 4), ("story=2", "alert", 1), ("story=3", "alert", 1), ("story=4", "alert", 1)]
