"""`newsmon stories …` through the real command line (a subprocess), config loader and SQLite store:
listings, a story's reports with a near-copy marked, merging and splitting by hand, and the refusals."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.models import Article, Classification, Match
from monitor.store import open_store
from monitor.story_ops import recompute
from tests.conftest import run_newsmon

# (source, language, fetched this long before the test, title, categories, entities, story, copy of article n)
ARTICLES = [
    ("reuters", "en", timedelta(hours=3), "MoMo accounts targeted in fraud scheme", ["fraud"], ["MoMo"], 1, None),
    ("lemonde-afrique-economie", "fr", timedelta(hours=2), "MoMo : fraude massive et panne du service",
     ["fraud", "outage"], ["MoMo"], 1, None),
    ("allafrica", "en", timedelta(hours=1), "MoMo accounts targeted in fraud scheme", ["fraud"], ["MoMo"], 1, 1),
    ("ghanaweb", "en", timedelta(minutes=30), "MoMo app down for hours", ["outage"], ["MoMo"], 2, None),
    ("punch", "en", timedelta(days=4), "Bank outage in Lagos", ["outage"], [], 3, None),
]
STARTED: list[datetime] = []  # when the running test built its store (the CLI compares with the real clock)


def t(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M")


def reported(n: int) -> datetime:
    """When report n counts for its story: its published time (5 minutes before it was fetched)."""
    return fetched(n) - timedelta(minutes=5)


def fetched(n: int) -> datetime:
    return STARTED[-1] - ARTICLES[n - 1][2]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("store:\n  path: news.db\nstories:\n  window: 48h\n", encoding="utf-8")
    STARTED.append(datetime.now(timezone.utc).replace(second=0, microsecond=0))
    store = open_store(tmp_path / "news.db")
    with store.transaction() as conn:
        for sid in (1, 2, 3):  # aggregates filled in by recompute below
            conn.execute("INSERT INTO stories(id, title, first_seen, last_seen) VALUES (?, '', '', '')", (sid,))
        for n, (source, lang, _, title, cats, ents, story, copy_of) in enumerate(ARTICLES, 1):
            when = fetched(n)
            text = f"{title}. Reported by {source}."
            article = Article(url=f"https://{source}.example/news/{n}", source_id=source, title=title, text=text,
                              language=lang, published=when - timedelta(minutes=5), fetched=when)
            result = Classification(categories=cats, scores={c: 3.0 for c in cats},
                                    matches=[Match(c, "fraude", "fraude", "text", 0, 2.0, lang, actor="MoMo")
                                             for c in cats],
                                    entities=ents, language=lang)
            assert store.add_article(conn, article, result, story) == n
            conn.execute("UPDATE articles SET copy_of = ? WHERE id = ?", (copy_of, n))
        for sid in (1, 2, 3):
            assert recompute(conn, sid)
    store.close()
    return path


def stories(cfg: Path, *args: str) -> tuple[int, str, str]:
    proc = run_newsmon("stories", *args, "-c", str(cfg), cwd=cfg.parent)
    return proc.returncode, proc.stdout, proc.stderr


def db(cfg: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(cfg.parent / "news.db") as conn:
        return [tuple(r) for r in conn.execute(sql, params)]


def dump(cfg: Path) -> list[tuple[object, ...]]:
    return db(cfg, "SELECT * FROM stories ORDER BY id") + db(cfg, "SELECT id, story_id, copy_of FROM articles ORDER BY id")


HEADER = "ID  STATE   FIRST (UTC)       LAST (UTC)        ARTICLES  CATEGORIES     ENTITIES  LANGUAGES  SOURCES"


def test_recompute_builds_the_aggregates_from_the_articles(cfg: Path) -> None:
    row = db(cfg, "SELECT entity, categories, title, first_seen, last_seen, articles, entities, sources, languages,"
                  " merged_into FROM stories WHERE id = 1")[0]
    assert row == ("MoMo", '["fraud", "outage"]', "MoMo accounts targeted in fraud scheme",
                   reported(1).isoformat(), reported(3).isoformat(), 3, '["MoMo"]',
                   '["reuters", "lemonde-afrique-economie", "allafrica"]', '["en", "fr"]', None)
    names = json.loads(db(cfg, "SELECT names FROM stories WHERE id = 1")[0][0])
    assert "n:momo" in names


def test_list_open_since_and_json(cfg: Path) -> None:
    code, out, err = stories(cfg)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{HEADER}                              TITLE",
        f" 2  open    {t(reported(4))}  {t(reported(4))}         1  outage         MoMo      en         1: ghanaweb"
        "                          MoMo app down for hours",
        f" 1  open    {t(reported(1))}  {t(reported(3))}         3  fraud, outage  MoMo      en, fr     3: reuters,"
        " lemonde-afrique-eco… +1  MoMo accounts targeted in fraud scheme",
        f" 3  closed  {t(reported(5))}  {t(reported(5))}         1  outage         -         en         1: punch"
        "                             Bank outage in Lagos",
    ]
    code, out, _ = stories(cfg, "--open")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["ID", "2", "1"]
    code, out, _ = stories(cfg, "--since", "45m")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["ID", "2"]
    code, out, _ = stories(cfg, "--limit", "1")
    assert [line.split()[0] for line in out.splitlines()] == ["ID", "2", "(the"]
    assert out.splitlines()[-1] == "(the latest 1 shown: --limit N for more)"
    code, out, _ = stories(cfg, "--since", "10m")
    assert (code, out) == (0, "no stories\n")

    code, out, _ = stories(cfg, "--open", "--format", "json")
    listed = json.loads(out)["stories"]
    assert [s["id"] for s in listed] == [2, 1]
    assert listed[1] == {
        "id": 1, "state": "open", "open": True, "title": "MoMo accounts targeted in fraud scheme", "entity": "MoMo",
        "categories": ["fraud", "outage"], "entities": ["MoMo"], "languages": ["en", "fr"],
        "sources": ["reuters", "lemonde-afrique-economie", "allafrica"], "articles": 3,
        "first_seen": reported(1).isoformat(), "last_seen": reported(3).isoformat(), "merged_into": None,
    }

    code, _, err = stories(cfg, "--since", "soon")
    assert (code, err) == (2, 'stories: --since: not a duration: "soon" (use e.g. "30s", "5m", "2h", "1d")\n')


def test_show_marks_the_copy(cfg: Path) -> None:
    code, out, err = stories(cfg, "show", "1")
    assert (code, err) == (0, "")
    p = [t(fetched(n) - timedelta(minutes=5)) for n in (1, 2, 3)]
    f = [t(fetched(n)) for n in (1, 2, 3)]
    assert out == (
        "story 1 (open): MoMo accounts targeted in fraud scheme\n"
        "  categories: fraud, outage\n"
        "  entities:   MoMo\n"
        "  languages:  en, fr\n"
        "  sources:    3: reuters, lemonde-afrique-economie, allafrica\n"
        f"  reports:    3 (1 copy), first {p[0]} UTC, last {p[2]} UTC\n"
        "\n"
        "ID  PUBLISHED         FETCHED           SOURCE                    LANG  COPY        TITLE"
        "                                      URL\n"
        f" 1  {p[0]}  {f[0]}  reuters                   en                MoMo accounts targeted in fraud scheme"
        "     https://reuters.example/news/1\n"
        f" 2  {p[1]}  {f[1]}  lemonde-afrique-economie  fr                MoMo : fraude massive et panne du service"
        "  https://lemonde-afrique-economie.example/news/2\n"
        f" 3  {p[2]}  {f[2]}  allafrica                 en    copy of #1  MoMo accounts targeted in fraud scheme"
        "     https://allafrica.example/news/3\n"
    )
    code, out, _ = stories(cfg, "show", "1", "--format", "json")
    shown = json.loads(out)
    assert shown["story"]["id"] == 1 and [a["id"] for a in shown["articles"]] == [1, 2, 3]
    assert shown["articles"][2] == {
        "id": 3, "published": (fetched(3) - timedelta(minutes=5)).isoformat(), "fetched": fetched(3).isoformat(),
        "source": "allafrica", "language": "en", "title": "MoMo accounts targeted in fraud scheme",
        "url": "https://allafrica.example/news/3", "categories": ["fraud"], "copy_of": 1,
    }
    code, out, err = stories(cfg, "show", "99")
    assert (code, out, err) == (2, "", "stories show: no story 99\n")


def test_merge_then_split(cfg: Path) -> None:
    code, out, err = stories(cfg, "merge", "1", "2")
    assert (code, err) == (0, "")
    assert out == ("merged story 2 into story 1: 1 article moved\n"
                   "story 1 (open): 4 articles from 4 sources; fraud, outage\n")
    assert db(cfg, "SELECT id, story_id FROM articles ORDER BY id") == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 3)]
    assert db(cfg, "SELECT id, merged_into FROM stories ORDER BY id") == [(1, None), (2, 1), (3, None)]
    assert db(cfg, "SELECT articles, categories, sources, last_seen FROM stories WHERE id = 1") == [
        (4, '["fraud", "outage"]', '["reuters", "lemonde-afrique-economie", "allafrica", "ghanaweb"]',
         reported(4).isoformat())]
    code, out, _ = stories(cfg)
    assert [line.split()[0] for line in out.splitlines()] == ["ID", "1", "3"]  # 2 is merged away
    code, out, _ = stories(cfg, "show", "2")
    assert (code, out) == (0, "story 2 was merged into story 1: see `newsmon stories show 1`\n")

    # article 1 was not the same event after all: it leaves with its copy, article 3
    code, out, err = stories(cfg, "split", "1", "1")
    assert (code, err) == (0, "")
    assert out == ("split article 1 and 1 copy (3) off story 1 into new story 4\n"
                   "story 1 (open): 2 articles; fraud, outage: MoMo : fraude massive et panne du service\n"
                   "story 4 (open): 2 articles; fraud: MoMo accounts targeted in fraud scheme\n")
    assert db(cfg, "SELECT id, story_id, copy_of FROM articles ORDER BY id") == [
        (1, 4, None), (2, 1, None), (3, 4, 1), (4, 1, None), (5, 3, None)]
    assert db(cfg, "SELECT id, entity, title, articles, categories, sources, languages, first_seen, last_seen,"
                   " merged_into FROM stories WHERE id IN (1, 4) ORDER BY id") == [
        (1, "MoMo", "MoMo : fraude massive et panne du service", 2, '["fraud", "outage"]',
         '["lemonde-afrique-economie", "ghanaweb"]', '["fr", "en"]', reported(2).isoformat(), reported(4).isoformat(),
         None),
        (4, "MoMo", "MoMo accounts targeted in fraud scheme", 2, '["fraud"]', '["reuters", "allafrica"]', '["en"]',
         reported(1).isoformat(), reported(3).isoformat(), None),
    ]


REFUSED = [
    (["merge", "1", "1"], "stories merge: cannot merge story 1 into itself"),
    (["merge", "1", "99"], "stories merge: no story 99"),
    (["merge", "99", "1"], "stories merge: no story 99"),
    (["split", "3", "5"], "stories split: article 5 is story 3's only article: nothing to split"),
    (["split", "1", "5"], "stories split: article 5 is not in story 1 (it is in story 3)"),
    (["split", "1", "77"], "stories split: no article 77"),
    (["split", "77", "1"], "stories split: no story 77"),
]


@pytest.mark.parametrize("argv,message", REFUSED, ids=["merge-self", "merge-unknown-b", "merge-unknown-a",
                                                       "split-only-article", "split-other-story",
                                                       "split-unknown-article", "split-unknown-story"])
def test_refusals_name_the_id_and_change_nothing(cfg: Path, argv: list[str], message: str) -> None:
    before = dump(cfg)
    code, out, err = stories(cfg, *argv)
    assert (code, out, err) == (2, "", message + "\n")
    assert dump(cfg) == before


def test_merged_stories_and_whole_copy_sets_are_refused(cfg: Path) -> None:
    assert stories(cfg, "merge", "1", "2")[0] == 0
    before = dump(cfg)
    for argv, message in [
        (["merge", "1", "2"], "stories merge: story 2 was merged into story 1"),
        (["merge", "2", "3"], "stories merge: story 2 was merged into story 1"),
        (["split", "2", "4"], "stories split: story 2 was merged into story 1"),
    ]:
        assert stories(cfg, *argv) == (2, "", message + "\n")
    assert dump(cfg) == before
    assert stories(cfg, "split", "1", "1")[0] == 0  # story 4: articles 1 and its copy 3
    code, out, err = stories(cfg, "split", "4", "1")
    assert (code, out, err) == (2, "", "stories split: article 1 and its copies are all of story 4's articles:"
                                       " nothing would be left\n")
