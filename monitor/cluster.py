"""Story clustering: reports of the same event from different outlets (and languages) share a story id,
so alerts can be grouped per story and twenty outlets do not mean twenty pings.

An article joins a recent story (default window 48 h) when it names the same watchlist entity and shares
a flagged category, or, without an entity, when its title is close to the story's (character trigrams,
so it works without word boundaries). Otherwise it starts a new story. Only flagged articles are clustered.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from datetime import datetime, timedelta

from monitor.models import Article, Classification
from monitor.store.sqlite import to_iso

WINDOW = timedelta(hours=48)
TITLE_SIMILARITY = 0.5


def trigrams(title: str) -> set[str]:
    text = "".join(ch for ch in unicodedata.normalize("NFKC", title).casefold() if ch.isalnum() or ch == " ")
    text = " ".join(text.split())
    return {text[i : i + 3] for i in range(max(1, len(text) - 2))}


def similarity(a: str, b: str) -> float:
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def assign_story(conn: sqlite3.Connection, article: Article, result: Classification, now: datetime) -> int:
    """Return the id of the story this article belongs to, creating one if needed (inside `conn`'s
    transaction)."""
    since = to_iso(now - WINDOW)
    rows = conn.execute(
        "SELECT id, entity, categories, title FROM stories WHERE last_seen >= ? ORDER BY last_seen DESC LIMIT 500",
        (since,),
    ).fetchall()
    cats = set(result.categories)
    best: int | None = None
    for row in rows:
        story_cats = set(json.loads(row[2]))
        if result.entities and row[1] in result.entities and cats & story_cats:
            best = row[0]
            break
        if (not result.entities and row[1] is None and cats & story_cats
                and similarity(article.title, row[3]) >= TITLE_SIMILARITY):
            best = row[0]
            break
    if best is not None:
        story_cats = set(json.loads(next(r[2] for r in rows if r[0] == best)))
        conn.execute(
            "UPDATE stories SET last_seen = ?, articles = articles + 1, categories = ? WHERE id = ?",
            (to_iso(now), json.dumps(sorted(story_cats | cats)), best),
        )
        return best
    cur = conn.execute(
        "INSERT INTO stories(entity, categories, title, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
        (
            result.entities[0] if result.entities else None,
            json.dumps(sorted(cats)),
            article.title,
            to_iso(now),
            to_iso(now),
        ),
    )
    return int(cur.lastrowid or 0)
