"""`newsmon stories`: the stories flagged articles were grouped into, and fixing a wrong grouping.

    newsmon stories [--open] [--since 7d] [--limit N] [--format table|json]
                                                                   stories, the latest report first
    newsmon stories show ID [--format table|json]                  a story and its reports
    newsmon stories merge A B                                      B was the same event: into A
    newsmon stories split ID ARTICLE                               ARTICLE (and its copies) was not:
                                                                   it gets a story of its own
A story is open while its last report is less than `stories.window` old (default 48h). Merged stories
are not listed. Reads `store.path` from the config; merge and split are short transactions, safe while
the daemon runs. Exit 2 when a story or article is unknown or the change makes no sense.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import datetime, timedelta

from monitor.durations import parse_duration
from monitor.store.sqlite import from_iso

HELP = "list stories, show one, merge or split them by hand"

TITLE_WIDTH = 60
SOURCES_SHOWN = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")
    p.add_argument("--open", action="store_true", help="only open stories (a report within stories.window)")
    p.add_argument("--since", metavar="DURATION", help='only stories with a report this recent, e.g. "7d"')
    p.add_argument("--limit", type=int, default=100, help="at most this many, the latest first (default 100)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    sub = p.add_subparsers(dest="action", metavar="[ACTION]", help="(none: list the stories)")
    s = sub.add_parser("show", help="a story and its articles")
    s.add_argument("id", metavar="ID", type=int)
    s.add_argument("--format", choices=("table", "json"), default=argparse.SUPPRESS)
    m = sub.add_parser("merge", help="move story B's articles into story A")
    m.add_argument("a", metavar="A", type=int)
    m.add_argument("b", metavar="B", type=int)
    sp = sub.add_parser("split", help="move an article (and its copies) out of its story into a new one")
    sp.add_argument("id", metavar="ID", type=int)
    sp.add_argument("article", metavar="ARTICLE", type=int)
    for x in (s, m, sp):
        x.add_argument("-c", "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)")


def run(args: argparse.Namespace) -> int:
    from alerts.engine import utcnow
    from monitor.config import load_config
    from monitor.errors import StoreError
    from monitor.store import open_store
    from monitor.story_ops import StoryError
    from monitor.views import NotFound, story_window

    action = args.action or "list"
    since = None
    now = utcnow()
    if args.since is not None:
        try:
            since = now - timedelta(seconds=parse_duration(args.since))
        except (ValueError, OverflowError) as exc:
            print(f"stories: --since: {exc}", file=sys.stderr)
            return 2
    config = load_config(args.config)
    window = story_window(config)
    store = open_store(config.store_path)
    try:
        if action == "list":
            return _list(config, store, now, args.open, since, args.format, max(args.limit, 1))
        if action == "show":
            return _show(config, store, now, args.id, args.format)
        if action == "merge":
            return _merge(store, now, window, args.a, args.b)
        return _split(store, now, window, args.id, args.article)
    except (StoryError, NotFound) as exc:
        print(f"stories {action}: {exc}", file=sys.stderr)
        return 2
    except sqlite3.OperationalError as exc:  # locked longer than the busy timeout: the daemon is writing
        raise StoreError(f"store {store.path}: {exc} (try again)") from None
    finally:
        store.close()


# -- output -----------------------------------------------------------------------------------------

def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else "-"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _sources(sources: list[str]) -> str:
    shown = ", ".join(_short(s, 20) for s in sources[:SOURCES_SHOWN])
    more = f" +{len(sources) - SOURCES_SHOWN}" if len(sources) > SOURCES_SHOWN else ""
    return f"{len(sources)}: {shown}{more}" if sources else "0"


def _list(config, store, now, open_only, since, fmt, limit) -> int:  # type: ignore[no-untyped-def]
    from monitor import views

    stories = views.stories(config, store, open_only=open_only, since=since, limit=limit + 1, now=now)
    more = len(stories) > limit
    stories = stories[:limit]
    if fmt == "json":
        print(json.dumps({"stories": stories}, ensure_ascii=False, indent=2))
        return 0
    if not stories:
        print("no open stories" if open_only else "no stories")
        return 0
    from monitor.textutil import table

    rows = [["ID", "STATE", "FIRST (UTC)", "LAST (UTC)", "ARTICLES", "CATEGORIES", "ENTITIES", "LANGUAGES",
             "SOURCES", "TITLE"]]
    for s in stories:
        rows.append([str(s["id"]), s["state"], _when(from_iso(s["first_seen"])), _when(from_iso(s["last_seen"])),
                     str(s["articles"]), ", ".join(s["categories"]) or "-", ", ".join(s["entities"]) or "-",
                     ", ".join(s["languages"]) or "-", _sources(s["sources"]), _short(s["title"], TITLE_WIDTH)])
    print(table(rows, numeric={0, 4}))
    if more:
        print(f"(the latest {limit} shown: --limit N for more)")
    return 0


def _show(config, store, now, story_id, fmt) -> int:  # type: ignore[no-untyped-def]
    from monitor import views

    d = views.story(config, store, story_id, now)
    s, articles = d["story"], d["articles"]
    if fmt == "json":
        print(json.dumps({"story": s, "articles": [{k: v for k, v in a.items() if k != "copy_story"}
                                                   for a in articles]}, ensure_ascii=False, indent=2))
        return 0
    if s["merged_into"] is not None:
        print(f"story {s['id']} was merged into story {s['merged_into']}: see `newsmon stories show {s['merged_into']}`")
        return 0
    print(f"story {s['id']} ({s['state']}): {s['title']}")
    print(f"  categories: {', '.join(s['categories']) or '-'}")
    print(f"  entities:   {', '.join(s['entities']) or '-'}")
    print(f"  languages:  {', '.join(s['languages']) or '-'}")
    print(f"  sources:    {len(s['sources'])}: {', '.join(s['sources'])}")
    n_copies = sum(a["copy_of"] is not None for a in articles)
    copies_text = f" ({n_copies} cop{'ies' if n_copies != 1 else 'y'})" if n_copies else ""
    print(f"  reports:    {s['articles']}{copies_text}, first {_when(from_iso(s['first_seen']))} UTC,"
          f" last {_when(from_iso(s['last_seen']))} UTC")
    if not articles:
        return 0
    from monitor.textutil import table

    copies = n_copies > 0
    rows = [["ID", "PUBLISHED", "FETCHED", "SOURCE", "LANG", *(["COPY"] if copies else []), "TITLE", "URL"]]
    for a in articles:
        mark = ""
        if a["copy_of"] is not None:
            mark = f"copy of #{a['copy_of']}" + (f" (story {a['copy_story']})" if a["copy_story"] is not None else "")
        rows.append([str(a["id"]), _when(from_iso(a["published"])), _when(from_iso(a["fetched"])), a["source"],
                     a["language"] or "-", *([mark] if copies else []), _short(a["title"], TITLE_WIDTH), a["url"]])
    print()
    print(table(rows, numeric={0}))
    return 0


def _merge(store, now, window, a, b) -> int:  # type: ignore[no-untyped-def]
    from monitor.story_ops import merge

    with store.transaction() as conn:
        r = merge(conn, a, b, now, window=window)
    s = r.story
    n = len(r.moved)
    print(f"merged story {b} into story {a}: {n} article{'s' if n != 1 else ''} moved")
    print(f"story {a} ({s.state}): {s.articles} article{'s' if s.articles != 1 else ''} from"
          f" {len(s.sources)} source{'s' if len(s.sources) != 1 else ''}; {', '.join(s.categories) or '-'}")
    return 0


def _split(store, now, window, story_id, article_id) -> int:  # type: ignore[no-untyped-def]
    from monitor.story_ops import split

    with store.transaction() as conn:
        r = split(conn, story_id, article_id, now, window=window)
    copies = [i for i in r.moved if i != article_id]
    also = (f" and {len(copies)} cop{'ies' if len(copies) != 1 else 'y'} ({', '.join(map(str, copies))})"
            if copies else "")
    print(f"split article {article_id}{also} off story {story_id} into new story {r.new.id}")
    for s in (r.story, r.new):
        print(f"story {s.id} ({s.state}): {s.articles} article{'s' if s.articles != 1 else ''}; "
              f"{', '.join(s.categories) or '-'}: {_short(s.title, TITLE_WIDTH)}")
    return 0
