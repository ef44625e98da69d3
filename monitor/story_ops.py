"""Stories by hand: list them, look inside one, and fix a wrong grouping (`newsmon stories`).

Pure store work inside the caller's sqlite3 connection (and, for `merge` and `split`, its write
transaction): no I/O, no commit. The story engine (monitor/stories.py) calls `recompute` too.

- `recompute` rebuilds a story's aggregates from its articles: categories, entities, sources and
  languages in first-report order, the article count (copies included), first and last report (the
  articles' `fetched`), the title (the first report's) and the entity (the first one), and the
  names-and-numbers signature.
- A story is open while its last report is less than `window` old; a merged story (`merged_into`
  set) is hidden from listings and takes no new reports.
- `merge(a, b)` moves b's articles to a and marks b merged into a; `split(story, article)` moves the
  article and its near-copies to a new story. Both refuse what makes no sense with a `StoryError`
  naming the id.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from monitor.store.sqlite import from_iso, to_iso

WINDOW = 48 * 3600.0  # seconds; config `stories.window`


class StoryError(Exception):
    """A story operation refused: an unknown or merged story, an article not in the story..."""


@dataclass
class StorySummary:
    id: int
    title: str
    entity: str | None
    categories: list[str]
    entities: list[str]
    sources: list[str]
    languages: list[str]
    articles: int
    first_seen: datetime
    last_seen: datetime
    open: bool
    merged_into: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "state": self.state, "open": self.open, "title": self.title, "entity": self.entity,
            "categories": self.categories, "entities": self.entities, "languages": self.languages,
            "sources": self.sources, "articles": self.articles,
            "first_seen": to_iso(self.first_seen), "last_seen": to_iso(self.last_seen),
            "merged_into": self.merged_into,
        }

    @property
    def state(self) -> str:
        if self.merged_into is not None:
            return "merged"
        return "open" if self.open else "closed"


@dataclass
class StoryArticle:
    id: int
    url: str
    source: str
    language: str | None
    title: str
    published: datetime | None
    fetched: datetime
    categories: list[str]
    copy_of: int | None          # the article this one is a near-copy of
    copy_story: int | None       # that article's story, when it is not this one

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "published": to_iso(self.published), "fetched": to_iso(self.fetched),
            "source": self.source, "language": self.language, "title": self.title, "url": self.url,
            "categories": self.categories, "copy_of": self.copy_of,
        }


@dataclass
class StoryDetail:
    story: StorySummary
    articles: list[StoryArticle] = field(default_factory=list)


@dataclass
class MergeResult:
    story: StorySummary          # a, as it stands now
    merged: int                  # b
    moved: list[int]             # the article ids that moved from b to a


@dataclass
class SplitResult:
    story: StorySummary          # the story split, as it stands now
    new: StorySummary            # the new story
    moved: list[int]             # the article and its copies


# -- reading ----------------------------------------------------------------------------------------

def _summary(row: sqlite3.Row, now: datetime | None, window: float) -> StorySummary:
    last = from_iso(row["last_seen"])
    assert last is not None
    first = from_iso(row["first_seen"]) or last
    return StorySummary(
        id=int(row["id"]), title=row["title"], entity=row["entity"],
        categories=json.loads(row["categories"] or "[]"), entities=json.loads(row["entities"] or "[]"),
        sources=json.loads(row["sources"] or "[]"), languages=json.loads(row["languages"] or "[]"),
        articles=int(row["articles"]), first_seen=first, last_seen=last,
        open=row["merged_into"] is None and (now is None or last >= now - timedelta(seconds=window)),
        merged_into=row["merged_into"],
    )


def _row(conn: sqlite3.Connection, story_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM stories WHERE id = ?", (story_id,)).fetchone()
    if row is None:
        raise StoryError(f"no story {story_id}")
    return row


def _live_row(conn: sqlite3.Connection, story_id: int, role: str = "story") -> sqlite3.Row:
    row = _row(conn, story_id)
    if row["merged_into"] is not None:
        raise StoryError(f"{role} {story_id} was merged into story {row['merged_into']}")
    return row


def list_stories(conn: sqlite3.Connection, now: datetime, open_only: bool = False, since: datetime | None = None,
                 *, window: float = WINDOW, limit: int | None = None) -> list[StorySummary]:
    """Stories not merged away, the most recent report first. `open_only`: a report within `window`;
    `since`: a report since then."""
    where, params = ["merged_into IS NULL"], []
    if open_only:
        where.append("last_seen >= ?")
        params.append(to_iso(now - timedelta(seconds=window)))
    if since is not None:
        where.append("last_seen >= ?")
        params.append(to_iso(since))
    sql = f"SELECT * FROM stories WHERE {' AND '.join(where)} ORDER BY last_seen DESC, id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_summary(r, now, window) for r in conn.execute(sql, params).fetchall()]


def _articles(conn: sqlite3.Connection, story_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT a.id, a.url, a.source_id, a.language, a.title, a.published, a.fetched, a.categories,"
        " a.entities, a.copy_of, a.text, a.matches, c.story_id AS copy_story"
        " FROM articles a LEFT JOIN articles c ON c.id = a.copy_of"
        " WHERE a.story_id = ? ORDER BY a.fetched, a.id",
        (story_id,),
    ).fetchall()


def story_detail(conn: sqlite3.Connection, story_id: int, now: datetime | None = None,
                 *, window: float = WINDOW) -> StoryDetail:
    """A story (merged ones too: their `merged_into` says where the articles went) and its articles in
    the order they were reported."""
    story = _summary(_row(conn, story_id), now, window)
    articles = []
    for r in _articles(conn, story_id):
        fetched = from_iso(r["fetched"])
        assert fetched is not None
        copy_story = r["copy_story"] if r["copy_of"] is not None and r["copy_story"] != story_id else None
        articles.append(StoryArticle(
            id=int(r["id"]), url=r["url"], source=r["source_id"], language=r["language"], title=r["title"],
            published=from_iso(r["published"]), fetched=fetched, categories=json.loads(r["categories"] or "[]"),
            copy_of=r["copy_of"], copy_story=copy_story))
    return StoryDetail(story, articles)


# -- aggregates -------------------------------------------------------------------------------------

def _signature(rows: list[sqlite3.Row]) -> list[str] | None:
    """The story's names-and-numbers signature, rebuilt from its reports (None: keep the stored one)."""
    try:
        from monitor.stories import NAMES_KEPT, names
    except ImportError:  # the story engine is not importable here: leave the signature alone
        return None
    out: set[str] = set()
    for r in rows:
        matches = [SimpleNamespace(actor=m.get("actor", "")) for m in json.loads(r["matches"] or "[]")
                   if isinstance(m, dict)]
        article = SimpleNamespace(title=r["title"], text=r["text"])
        result = SimpleNamespace(matches=matches, entities=json.loads(r["entities"] or "[]"))
        out |= names(article, result)  # type: ignore[arg-type]
    return sorted(out)[:NAMES_KEPT]


def recompute(conn: sqlite3.Connection, story_id: int, *, signature: bool = True) -> bool:
    """Rebuild a story's aggregates from its articles (inside the caller's transaction). A story with
    no articles is left as it is; returns whether it had any. `signature=False` keeps the stored
    names-and-numbers signature (rebuilding it reads every report's text)."""
    rows = _articles(conn, story_id)
    if not rows:
        return False
    categories: dict[str, None] = {}
    entities: dict[str, None] = {}
    sources: dict[str, None] = {}
    languages: dict[str, None] = {}
    for r in rows:
        categories.update(dict.fromkeys(json.loads(r["categories"] or "[]")))
        entities.update(dict.fromkeys(json.loads(r["entities"] or "[]")))
        sources[r["source_id"]] = None
        if r["language"]:
            languages[r["language"]] = None
    # a report counts when it was published, never later than it was fetched (as monitor.stories does)
    fetched = [min(r["published"], r["fetched"]) if r["published"] else r["fetched"] for r in rows]
    sets = ["entity = ?", "categories = ?", "entities = ?", "sources = ?", "languages = ?", "articles = ?",
            "title = ?", "first_seen = ?", "last_seen = ?"]
    params: list[object] = [
        next(iter(entities), None), _dump(list(categories)), _dump(list(entities)), _dump(list(sources)),
        _dump(list(languages)), len(rows), rows[0]["title"], min(fetched), max(fetched),
    ]
    rebuilt = _signature(rows) if signature else None
    if rebuilt is not None:
        sets.append("names = ?")
        params.append(_dump(rebuilt))
    conn.execute(f"UPDATE stories SET {', '.join(sets)} WHERE id = ?", (*params, story_id))
    return True


def _dump(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


# -- fixing by hand ---------------------------------------------------------------------------------

def merge(conn: sqlite3.Connection, a: int, b: int, now: datetime, *, window: float = WINDOW) -> MergeResult:
    """Story b was the same event as story a: b's articles move to a, b is marked merged into a."""
    if a == b:
        raise StoryError(f"cannot merge story {a} into itself")
    _live_row(conn, a)
    _live_row(conn, b)
    moved = [int(r[0]) for r in conn.execute("SELECT id FROM articles WHERE story_id = ? ORDER BY id", (b,))]
    conn.execute("UPDATE articles SET story_id = ? WHERE story_id = ?", (a, b))
    conn.execute("UPDATE stories SET merged_into = ? WHERE id = ?", (a, b))
    # stories merged into b earlier now point at a directly
    conn.execute("UPDATE stories SET merged_into = ? WHERE merged_into = ?", (a, b))
    recompute(conn, a)
    return MergeResult(_summary(_row(conn, a), now, window), b, moved)


def split(conn: sqlite3.Connection, story_id: int, article_id: int, now: datetime, *,
          window: float = WINDOW) -> SplitResult:
    """An article did not belong in its story: it and its near-copies move to a new story."""
    _live_row(conn, story_id)
    row = conn.execute("SELECT story_id FROM articles WHERE id = ?", (article_id,)).fetchone()
    if row is None:
        raise StoryError(f"no article {article_id}")
    if row[0] != story_id:
        where = f"story {row[0]}" if row[0] is not None else "no story"
        raise StoryError(f"article {article_id} is not in story {story_id} (it is in {where})")
    members = {int(r[0]): r[1] for r in conn.execute("SELECT id, copy_of FROM articles WHERE story_id = ?",
                                                      (story_id,))}
    if len(members) == 1:
        raise StoryError(f"article {article_id} is story {story_id}'s only article: nothing to split")
    moving = {article_id}
    grew = True
    while grew:  # its copies, and copies of those
        more = {aid for aid, copy_of in members.items() if copy_of in moving and aid not in moving}
        moving |= more
        grew = bool(more)
    if len(moving) == len(members):
        raise StoryError(f"article {article_id} and its copies are all of story {story_id}'s articles:"
                         " nothing would be left")
    ids = sorted(moving)
    marks = ",".join("?" * len(ids))
    first = conn.execute(f"SELECT min(fetched) FROM articles WHERE id IN ({marks})", ids).fetchone()[0]
    cur = conn.execute(
        "INSERT INTO stories(title, first_seen, last_seen, articles) VALUES ('', ?, ?, 0)", (first, first))
    new_id = int(cur.lastrowid or 0)
    conn.execute(f"UPDATE articles SET story_id = ? WHERE id IN ({marks})", (new_id, *ids))
    recompute(conn, story_id)
    recompute(conn, new_id)
    return SplitResult(_summary(_row(conn, story_id), now, window), _summary(_row(conn, new_id), now, window), ids)
