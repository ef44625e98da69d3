"""Stories: the reports of one event, across outlets and languages, so twenty outlets make one alert
that grows instead of twenty pings.

Only flagged articles join stories. `place()` runs inside the transaction that stores the article:

1. **Near-copies** (a wire story on several sites, a re-publication under a new URL, small edits) are
   found by content similarity: a MinHash (datasketch) of the body's shingles (outlets rewrite headlines) — word 3-grams, or
   character 4-grams in scripts written without spaces — looked up through LSH bands kept in the
   store (`article_bands`), so every process sharing the store finds them. A copy (estimated Jaccard
   at least `stories.copy_similarity`) joins its original's story, is stored with `copy_of`, counts as
   a source of the story and never alerts.
2. Otherwise the article joins an **open story** (one that had a report within `stories.window`):
   - sharing a watchlist entity (an alias in any script counts: entities are canonical names), when they
     share a category, or one of them is a denial (the company now denies rumors about its outage);
   - sharing no entity — neither has one, or only one of them does — when the names and numbers they
     mention agree (organisations by their shape and the actors tied to the evidence, figures), or, in
     a shared language, when the texts are similar; and they share a category.
   Two stories naming different watchlist entities never join: two companies down the same day are
   two stories, and a report a week later (after the window) opens a new one.
3. Otherwise it opens a new story.

What the article added (a new category, source, language) is returned with the story as it stands, so
the alert can say it. Pure store work, no I/O besides the caller's connection.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from monitor.classify.scoring import NOT_ORGANISATIONS
from monitor.models import Article, Classification
from monitor.store.sqlite import to_iso

NUM_PERM = 128
CANDIDATES = 500          # open stories looked at, newest first
NAMES_KEPT = 200          # a story's signature keeps at most this many names and numbers
NAMES_AGREE = 2           # names and numbers two reports must share (at least one a name) ...
NAMES_OVERLAP = 0.5       # ... and that share of the smaller signature
UNSPACED = frozenset({"zh", "ja", "th", "lo", "km", "my"})


@dataclass
class Story:
    id: int
    categories: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    articles: int = 0
    title: str = ""


@dataclass
class Placement:
    story: Story                 # the story as it stands with this article
    created: bool                # this article opened it
    copy_of: int | None          # the article this one is a near-copy of (it does not alert)
    new_categories: list[str]    # categories this report added to an older story
    new_sources: list[str]       # its source, when the story had no report from it yet
    new_languages: list[str]     # its language, likewise
    why: str                     # one line: how it was placed (logs, `newsmon stories show`)


# -- signatures -----------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def shingles(text: str, language: str | None) -> list[bytes]:
    """Word 3-grams (character 4-grams for scripts without spaces), as bytes for MinHash."""
    words = _WORD.findall(_norm(text))
    if language in UNSPACED or (words and sum(len(w) for w in words) / len(words) > 12):
        chars = "".join(words)
        grams = {chars[i:i + 4] for i in range(max(1, len(chars) - 3))}
    else:
        grams = {" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))}
    return [g.encode("utf-8") for g in grams if g]


def minhash(text: str, language: str | None) -> np.ndarray:
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=1)
    m.update_batch(shingles(text, language))
    return m.hashvalues.astype(np.uint64)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the shingle sets two MinHashes were made from."""
    return float(np.count_nonzero(a == b)) / len(a)


@lru_cache(maxsize=8)
def _bands_for(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) that make a pair at `threshold` a candidate, datasketch's optimum."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return lsh.b, lsh.r


def band_keys(hashes: np.ndarray, threshold: float) -> list[int]:
    b, r = _bands_for(threshold)
    keys = []
    for i in range(b):
        digest = hashlib.blake2b(hashes[i * r:(i + 1) * r].tobytes(), digest_size=7, person=bytes([i])).digest()
        keys.append(int.from_bytes(digest, "big"))  # 56 bits: fits SQLite's and PostgreSQL's signed 64
    return keys


# Organisations by their shape (an acronym, a capital inside: MoMo, HSBC, WhatsApp, ВКонтакте), and
# figures of two digits or more (amounts, counts, dates): scripts and languages share them.
_NAME = re.compile(r"\b(?:[A-ZÀ-ÖØ-ÞА-ЯЁ][a-zß-öø-ÿа-яё]*[A-ZÀ-ÖØ-ÞА-ЯЁ]\w*|[A-ZА-ЯЁ]{2,})\b")
_NUMBER = re.compile(r"\d[\d.,]*\d")
# Wire agencies, place acronyms and units (the classifier's list), and acronyms every story of a kind
# shares, say nothing about which organisation a report is about.
_NOT_NAMES = frozenset(n.upper() for n in NOT_ORGANISATIONS) | frozenset({
    "UAE", "CEO", "CFO", "CTO", "PDF", "TV", "ID", "OK", "AM", "PM", "UTC", "GMT", "SMS", "MMS", "PIN",
    "TAN", "OTP", "ATM", "SIM", "ESIM", "IT", "API", "APP", "USSD", "QR", "NFC", "VPN", "DNS", "IP", "LTE", "WIFI",
    "GPS", "AI", "FAQ", "HTTP", "HTTPS", "URL", "WWW", "SOS", "NGO", "GDP", "IBAN", "CVV", "CVC", "KYC", "DDOS",
    "FBI", "IMEI", "VIP", "PR", "HR", "BBC", "CNN", "ISP", "ISPS", "SMSS", "СМС", "ПИН", "МВД"})


def names(article: Article, result: Classification) -> set[str]:
    """The story signature of one report: names ("n:…") and numbers ("#:…")."""
    text = f"{article.title}\n{article.text}"
    # (the actors tied to the evidence are often generic words — bank, police, customers — so not them)
    out = {f"n:{_norm(e)}" for e in result.entities}
    out |= {f"n:{_norm(w)}" for w in _NAME.findall(text) if w.upper() not in _NOT_NAMES}
    for n in _NUMBER.findall(text):
        digits = re.sub(r"[.,]", "", n)
        if len(digits) >= 2:
            out.add(f"#:{digits}")
    return out


def names_agree(a: set[str], b: set[str]) -> bool:
    shared = a & b
    return (len(shared) >= NAMES_AGREE and any(s.startswith("n:") for s in shared)
            and len(shared) >= NAMES_OVERLAP * min(len(a), len(b)))


# -- placing an article ---------------------------------------------------------------------------

def _story(row: sqlite3.Row) -> Story:
    return Story(id=row["id"], categories=json.loads(row["categories"]), entities=json.loads(row["entities"]),
                 sources=json.loads(row["sources"]), languages=json.loads(row["languages"]),
                 names=json.loads(row["names"]), articles=row["articles"], title=row["title"])


def _live(conn: sqlite3.Connection, story_id: int) -> int:
    """The story a (possibly merged) story lives on in."""
    for _ in range(64):
        row = conn.execute("SELECT merged_into FROM stories WHERE id = ?", (story_id,)).fetchone()
        if row is None or row[0] is None:
            return story_id
        story_id = int(row[0])
    return story_id


def find_copy(conn: sqlite3.Connection, hashes: np.ndarray, threshold: float, since: datetime,
              until: datetime) -> int | None:
    """The stored (flagged) article, reported between `since` and `until`, this MinHash is a near-copy of."""
    keys = band_keys(hashes, threshold)
    rows = conn.execute(
        f"SELECT DISTINCT b.article_id, m.minhash FROM article_bands b JOIN article_minhash m USING (article_id)"
        f" WHERE b.band IN ({','.join('?' * len(keys))}) AND b.created >= ? AND b.created <= ?",
        (*keys, to_iso(since), to_iso(until)),
    ).fetchall()
    best, best_sim = None, threshold
    for article_id, blob in rows:
        sim = similarity(hashes, np.frombuffer(blob, dtype=np.uint64))
        if sim >= best_sim:
            best, best_sim = int(article_id), sim
    if best is None:
        return None
    row = conn.execute("SELECT copy_of FROM articles WHERE id = ?", (best,)).fetchone()
    return int(row[0]) if row and row[0] is not None else best


def _similar_text(conn: sqlite3.Connection, story_id: int, language: str | None, hashes: np.ndarray,
                  threshold: float) -> bool:
    rows = conn.execute(
        "SELECT m.minhash FROM articles a JOIN article_minhash m ON m.article_id = a.id"
        " WHERE a.story_id = ? AND a.language IS ? ORDER BY a.id LIMIT 20", (story_id, language)).fetchall()
    return any(similarity(hashes, np.frombuffer(r[0], dtype=np.uint64)) >= threshold for r in rows)


def place(conn: sqlite3.Connection, article: Article, result: Classification, now: datetime, *,
          window: float, copy_similarity: float, similar_text: float,
          denial: frozenset[str] = frozenset()) -> tuple[Placement, np.ndarray]:
    """Choose the story of a flagged article and update it (inside `conn`'s transaction). Returns the
    placement and the article's MinHash, which `remember()` stores once the article has its id."""
    # A report counts at the time it was published (a backlog read late still falls in its own week), never
    # later than now: a date in the future is a mistake of the page.
    at = report_time(article, now)
    since, until = at - timedelta(seconds=window), at + timedelta(seconds=window)
    hashes = minhash(body(article), article.language)
    cats = list(dict.fromkeys(result.categories))
    signature = names(article, result)

    story_id: int | None = None
    copy_of = find_copy(conn, hashes, copy_similarity, since, until)
    why = ""
    if copy_of is not None:
        row = conn.execute("SELECT story_id FROM articles WHERE id = ?", (copy_of,)).fetchone()
        if row and row[0] is not None:
            story_id = _live(conn, int(row[0]))
            why = f"near-copy of article {copy_of}"
        else:
            copy_of = None
    if story_id is None:
        rows = conn.execute(
            "SELECT * FROM stories WHERE last_seen >= ? AND first_seen <= ? AND merged_into IS NULL"
            " ORDER BY last_seen DESC LIMIT ?", (to_iso(since), to_iso(until), CANDIDATES)).fetchall()
        for row in rows:
            s = _story(row)
            shared_cats = set(cats) & set(s.categories)
            # a denial joins the company's open story; an event joins a story that so far is only a denial
            denies = bool(set(cats) & denial) or (bool(s.categories) and set(s.categories) <= denial)
            shared_entities = set(result.entities) & set(s.entities)
            if shared_entities:
                if shared_cats or denies:
                    story_id, why = s.id, f"same entity ({', '.join(sorted(shared_entities))})"
                    break
                continue
            if result.entities and s.entities:
                continue  # two different companies
            if not shared_cats:
                continue
            if names_agree(signature, set(s.names)):
                story_id, why = s.id, "the names and numbers agree"
                break
            if article.language in s.languages and _similar_text(conn, s.id, article.language, hashes, similar_text):
                story_id, why = s.id, "similar text"
                break

    if story_id is None:
        story = Story(id=0, categories=cats, entities=list(result.entities), sources=[article.source_id],
                      languages=[article.language] if article.language else [],
                      names=sorted(signature)[:NAMES_KEPT], articles=1, title=article.title)
        cur = conn.execute(
            "INSERT INTO stories(entity, categories, title, first_seen, last_seen, articles, entities, sources,"
            " languages, names) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
            (story.entities[0] if story.entities else None, json.dumps(story.categories), article.title,
             to_iso(at), to_iso(at), _dump(story.entities), _dump(story.sources), _dump(story.languages),
             _dump(story.names)))
        story.id = int(cur.lastrowid or 0)
        return Placement(story, True, None, [], list(story.sources), list(story.languages), "a new story"), hashes

    row = conn.execute("SELECT * FROM stories WHERE id = ?", (story_id,)).fetchone()
    story = _story(row)
    added = [c for c in cats if c not in story.categories]
    story.categories += added
    story.entities += [e for e in result.entities if e not in story.entities]
    new_sources = [article.source_id] if article.source_id not in story.sources else []
    new_languages = [article.language] if article.language and article.language not in story.languages else []
    story.sources += new_sources
    story.languages += new_languages
    story.names = sorted(set(story.names) | signature)[:NAMES_KEPT]
    story.articles += 1
    conn.execute(
        "UPDATE stories SET categories = ?, entities = ?, entity = COALESCE(entity, ?), sources = ?, languages = ?,"
        " names = ?, articles = ?, first_seen = min(first_seen, ?), last_seen = max(last_seen, ?) WHERE id = ?",
        (json.dumps(story.categories), _dump(story.entities), story.entities[0] if story.entities else None,
         _dump(story.sources), _dump(story.languages), _dump(story.names), story.articles, to_iso(at), to_iso(at),
         story.id))
    return Placement(story, False, copy_of, added, new_sources, new_languages, why), hashes


def body(article: Article) -> str:
    """What near-copies are compared on: outlets that run a wire story give it their own headline, so the
    body without it (extracted pages often start with the headline)."""
    text = article.text
    first, _, rest = text.partition("\n")
    if article.title and first.strip() == article.title.strip():
        text = rest
    return text if len(text) >= 200 else f"{article.title}\n{article.text}"


def report_time(article: Article, now: datetime) -> datetime:
    return min(article.published, now) if article.published else now


def remember(conn: sqlite3.Connection, article_id: int, hashes: np.ndarray, copy_similarity: float,
             now: datetime) -> None:
    """Keep the article's MinHash and LSH bands (under its report time, `now`), so later copies of it
    are found."""
    conn.execute("INSERT OR REPLACE INTO article_minhash(article_id, minhash) VALUES (?, ?)",
                 (article_id, hashes.tobytes()))
    conn.executemany("INSERT OR IGNORE INTO article_bands(band, article_id, created) VALUES (?, ?, ?)",
                     [(k, article_id, to_iso(now)) for k in band_keys(hashes, copy_similarity)])


def forget_before(conn: sqlite3.Connection, before: datetime) -> int:
    """Drop LSH bands older than `before` (no copy is looked for that far back). Returns rows removed."""
    return conn.execute("DELETE FROM article_bands WHERE created < ?", (to_iso(before),)).rowcount


def _dump(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)
