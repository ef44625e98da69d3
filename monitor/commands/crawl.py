"""`newsmon crawl --once [-c config.yaml] [--source ID] [--no-alerts | --dry-run]`: poll the sources once,
store new articles, classify them, deliver the alerts, print a per-source summary and what became of
this run's messages per channel, and exit.

Exit 0 when every source was polled and every message this run queued was delivered; 1 when a source
failed, the store failed, or a message of this run is still pending or dead; 2 for a bad config or an
unknown source.

`--dry-run` (also `dry_run()`, for other commands such as `newsmon sources test`) runs the same crawl on
a temporary copy of the store, prints what would alert instead of sending it, and deletes the copy: the
store and the channels see nothing. The copy is as large as the store and goes to $NEWSMON_TMPDIR
(default: $TMPDIR, else /tmp); when it cannot be made there (a full disk), one line names the store, the
directory and the size needed, exit 2 (StoreError)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from monitor.errors import StoreError
from monitor.logs import redact
from monitor.textutil import table

HELP = "poll the sources once, store and classify new articles, deliver alerts, and exit"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")
    p.add_argument("--once", action="store_true", required=True, help="poll once and exit (the daemon is `newsmon run`)")
    p.add_argument("--source", action="append", metavar="ID", help="poll only this source (repeatable)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--no-alerts", action="store_true",
                      help="store and classify, but queue no alerts: the new articles are stored and marked as "
                           "seen, so no later run alerts on them (to look without storing, use --dry-run)")
    mode.add_argument("--dry-run", action="store_true",
                      help="fetch and classify as a real run would and print what would alert, storing and "
                           "sending nothing: the crawl runs on a temporary copy of the store, as large as the "
                           "store itself, in $NEWSMON_TMPDIR (default: $TMPDIR, else /tmp), deleted afterwards")


def run(args: argparse.Namespace) -> int:
    from monitor.config import load_config
    from monitor.crawl import SourceChoiceError, crawl_once, select_sources
    from monitor.logs import setup_logging
    from monitor.runtime import Runtime

    config = load_config(args.config)
    setup_logging(config.log.format, config.log.level, verbose=args.verbose)
    try:
        select_sources(config, args.source)
    except SourceChoiceError as exc:
        print(f"newsmon crawl: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        return dry_run(config, args.source, verbose=args.verbose)
    runtime = Runtime(config, with_alerts=not args.no_alerts)
    undelivered = False
    try:
        mark = outbox_mark(runtime.store) if runtime.engine is not None else None
        crawl_once(runtime, args.source)
        if runtime.engine is not None:
            runtime.engine.drain(config.delivery.drain_timeout)
        print_summary(runtime, args.source)
        if mark is not None:
            undelivered = not print_deliveries(runtime, mark)
    finally:
        runtime.close()
    return 1 if failed(runtime) or undelivered else 0


def failed(runtime: Any) -> bool:
    """A source failed, or a store write did."""
    return any(r.errors for r in runtime.reports.values()) or bool(runtime.store_health.total)


def print_summary(runtime: Any, source_ids: list[str] | None, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    ids = source_ids or [s.id for s in runtime.config.sources if s.enabled]
    rows = [["SOURCE", "NEW", "SEEN", "MATCHED", "ALERTS", "ERRORS", "NOTE"]]
    for sid in ids:
        r = runtime.report(sid)
        note = r.errors[-1] if r.errors else ("not modified (304)" if r.not_modified else "")
        if r.article_errors:
            note = (note + "; " if note else "") + f"{r.article_errors} article fetches failed"
        if r.old:
            note = (note + "; " if note else "") + f"{r.old} older than max_age (not alerted)"
        rows.append([sid, str(r.new), str(r.seen), str(r.matched), str(r.alerts), str(len(r.errors)), redact(note)])
    print(table(rows, numeric={1, 2, 3, 4, 5}), file=out)
    if runtime.store_health.total:
        print(f"store: {runtime.store_health.total} writes failed ({runtime.store_health.error or 'since recovered'}): "
              "what they held is polled again next time", file=out)


# -- what became of this run's messages ------------------------------------------------------------


def outbox_mark(store: Any) -> tuple[int, int]:
    """The last outbox row and the last alert item before this run: what comes after is this run's."""
    (row,) = store.query("SELECT (SELECT COALESCE(MAX(id), 0) FROM alert_outbox),"
                         " (SELECT COALESCE(MAX(id), 0) FROM alert_items)")
    return int(row[0]), int(row[1])


_THIS_RUN = "(o.id > ? OR o.id IN (SELECT outbox_id FROM alert_outbox_items WHERE item_id > ?))"


def _when(text: str | None) -> str:
    if not text:
        return "now"
    return datetime.fromisoformat(text).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _reasons(errors: list[str | None]) -> str:
    counts = Counter(redact(e or "no reason recorded") for e in errors)
    if len(counts) == 1:
        return next(iter(counts))
    return "; ".join(f"{n}x {reason}" for reason, n in counts.most_common())


def print_deliveries(runtime: Any, mark: tuple[int, int], out: IO[str] | None = None) -> bool:
    """Per channel, the messages this run queued (a new outbox row, or an alert of this run joining a
    row): sent, still pending (retrying when, with the last error) or dead (why); then a line for older
    dead letters and older messages still pending. True when every message of this run was delivered."""
    out = out or sys.stdout
    store = runtime.store
    rows = store.query(f"SELECT o.channel, o.status, o.attempts, o.next_attempt_at, o.lease_until, o.last_error"
                       f" FROM alert_outbox o WHERE {_THIS_RUN} ORDER BY o.id", mark)
    by_channel: dict[str, list[sqlite3.Row]] = {}
    for r in rows:
        by_channel.setdefault(r["channel"], []).append(r)
    order = [c for c in runtime.engine.channels if c in by_channel] + [c for c in by_channel
                                                                        if c not in runtime.engine.channels]
    total = len(rows)
    undelivered = sum(r["status"] != "sent" for r in rows)
    if not total:
        print("alerts: none queued by this run", file=out)
    elif not undelivered:
        per = ", ".join(f"{c} {len(by_channel[c])}" for c in order)
        print(f"alerts: all delivered ({total} message{'s' if total != 1 else ''}"
              + (f": {per}" if len(order) > 1 else f" to {order[0]}") + ")", file=out)
    else:
        for channel in order:
            rs = by_channel[channel]
            parts = [f"{sum(r['status'] == 'sent' for r in rs)} sent"]
            pending = [r for r in rs if r["status"] == "pending"]
            if pending:
                tried = [r for r in pending if r["attempts"]]
                if tried:
                    nxt = min(r["next_attempt_at"] or r["lease_until"] or "" for r in tried) or None
                    what = f"retrying from {_when(nxt)}: {_reasons([r['last_error'] for r in tried])}"
                    if len(tried) < len(pending):
                        what += f"; {len(pending) - len(tried)} not tried yet"
                else:
                    what = "not tried yet: drain_timeout reached"
                parts.append(f"{len(pending)} pending ({what})")
            dead = [r for r in rs if r["status"] == "dead"]
            if dead:
                parts.append(f"{len(dead)} dead ({_reasons([r['last_error'] for r in dead])})")
            print(f"alerts: {channel} " + ", ".join(parts), file=out)
        hints = []
        if any(r["status"] == "dead" for r in rows):
            hints.append("dead letters: newsmon alerts list --dead, then newsmon alerts retry --all-dead")
        if any(r["status"] == "pending" for r in rows):
            hints.append("pending ones are sent by newsmon run or the next crawl --once")
        print(f"alerts: {undelivered} of {total} message{'s' if total != 1 else ''} not delivered ({'; '.join(hints)})",
              file=out)
    # not monitor.views.outbox(): it counts the whole store, this run's rows included; subtracting this
    # run's counts taken earlier goes wrong when a delivery still in flight after drain_timeout lands between
    (old,) = store.query(f"SELECT COALESCE(SUM(o.status = 'dead'), 0), COALESCE(SUM(o.status = 'pending'), 0)"
                         f" FROM alert_outbox o WHERE NOT {_THIS_RUN}", mark)
    older = []
    if old[0]:
        older.append(f"{old[0]} older dead letter{'s' if old[0] != 1 else ''}: newsmon alerts list --dead")
    if old[1]:
        older.append(f"{old[1]} older message{'s' if old[1] != 1 else ''} still pending: newsmon alerts list --pending")
    if older:
        print("alerts: " + "; ".join(older), file=out)
    return undelivered == 0


# -- dry run -----------------------------------------------------------------------------------------


class _NotSent:
    """Stands in for every channel during a dry run: nothing is delivered (the outbox is never drained,
    and a send would be refused here anyway)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: Any) -> None:
        raise RuntimeError(f"dry run: nothing is sent to {self.name}")


def copy_store(source: Path, target: Path) -> bool:
    """Copy the store at `source` to `target` with SQLite's backup API, reading `source` read-only (it
    may be in use by the daemon). False when there is no store yet: `target` starts empty."""
    from monitor.store.sqlite import open_readonly

    if not source.exists():
        return False
    src = open_readonly(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return True


def store_size(path: Path) -> int:
    """Bytes the copy of the store at `path` may take: the database and its write-ahead log."""
    total = 0
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total


def _size(n: int) -> str:
    for unit, factor in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"


def dry_run_dir() -> str | None:
    """Where the throwaway copy goes: $NEWSMON_TMPDIR, else Python's default ($TMPDIR, else /tmp)."""
    return os.environ.get("NEWSMON_TMPDIR") or None


def _copy_failed(store: Path, where: Any, exc: BaseException) -> StoreError:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return StoreError(f"store {store}: cannot copy it to {where} for the dry run (the copy needs "
                      f"{_size(store_size(store))}): {reason}; make room there or set NEWSMON_TMPDIR "
                      "to a directory with enough space")


def dry_run(config: Any, source_ids: list[str] | None, out: IO[str] | None = None, verbose: bool = False) -> int:
    """Poll `source_ids` (default: every enabled source) once, fetching and classifying exactly as
    `crawl --once` does, on a temporary copy of the store, so dedupe against stored articles, stories
    and conditional-GET state is that of a real run; print what would alert (the console rendering of
    each article's alert, with the channels it would go to), then the per-source summary. With
    `verbose`, first every article each source yielded: headline, language, published, categories or
    "no match" with the top reason. Nothing is stored and nothing is sent; the copy is deleted.

    Returns the exit code: 0, 1 when a source (or a write to the copy) failed, 2 for an unknown source.
    Raises StoreError (one line: the store, the directory, the size needed) when the copy cannot be made.
    Runs a Scrapy crawl in this process: call it once per process (a Twisted reactor cannot restart)."""
    from monitor.crawl import SourceChoiceError, crawl_once, select_sources
    from monitor.runtime import Runtime

    out = out or sys.stdout
    try:
        select_sources(config, source_ids)
    except SourceChoiceError as exc:
        print(f"newsmon crawl: {exc}", file=sys.stderr)
        return 2
    store_path = Path(config.store_path)
    try:
        tmpdir = Path(tempfile.mkdtemp(prefix="newsmon-dry-run-", dir=dry_run_dir()))
    except OSError as exc:
        raise _copy_failed(store_path, dry_run_dir() or tempfile.gettempdir(), exc) from None
    try:
        copy = tmpdir / "store.db"
        try:
            had_store = copy_store(store_path, copy)
        except (sqlite3.Error, OSError) as exc:
            raise _copy_failed(store_path, tmpdir.parent, exc) from None
        dry_config = config.model_copy(update={"store": config.store.model_copy(update={"path": str(copy)})})
        runtime = Runtime(dry_config)
        runtime.engine.senders = {name: _NotSent(name) for name in runtime.engine.channels}
        yielded: list[tuple[Any, str, Any]] = []
        runtime.on_processed = lambda article, source, outcome: yielded.append((article, source.id, outcome))
        try:
            mark = outbox_mark(runtime.store)
            crawl_once(runtime, source_ids)
            if verbose:
                print_yielded(runtime, source_ids, yielded, out)
            would = print_would_alert(runtime, mark, out)
            print_summary(runtime, source_ids, out)
        finally:
            runtime.close()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    where = f"a temporary copy of {config.store_path}" if had_store else "a temporary empty store (none exists yet)"
    print(f"dry run: {would} article{'s' if would != 1 else ''} would alert; nothing stored, nothing sent "
          f"(ran on {where}, now deleted)", file=out)
    return 1 if failed(runtime) else 0


def print_would_alert(runtime: Any, mark: tuple[int, int], out: IO[str]) -> int:
    """Each article (or source-health event) this run alerted on in the copy, rendered as the console
    renders it, under the channels it would go to; silenced or unrouted ones in one line. Returns how
    many would alert."""
    from alerts.console import render_console
    from alerts.message import Alert, Notification

    items = runtime.store.query(
        "SELECT i.id, i.article_id, i.payload, i.silenced_by, group_concat(DISTINCT o.channel) AS channels"
        " FROM alert_items i LEFT JOIN alert_outbox_items m ON m.item_id = i.id"
        " LEFT JOIN alert_outbox o ON o.id = m.outbox_id WHERE i.id > ? GROUP BY i.id ORDER BY i.id", (mark[1],))
    groups: dict[Any, list[sqlite3.Row]] = {}
    for r in items:
        groups.setdefault(r["article_id"] if r["article_id"] is not None else f"item{r['id']}", []).append(r)
    would = 0
    for rs in groups.values():
        alerts = [Alert.from_json(json.loads(r["payload"])) for r in rs]
        channels = sorted({c for r in rs if r["channels"] for c in r["channels"].split(",")})
        lead = alerts[0]
        if not channels:
            silenced = next((r["silenced_by"] for r in rs if r["silenced_by"] is not None), None)
            why = f"silenced by #{silenced}" if silenced is not None else "matched no route"
            print(f"not alerted ({why}): {lead.source}: {lead.headline} {lead.url}", file=out)
            continue
        would += 1
        n = Notification(channel=channels[0], alerts=alerts, idempotency_key="dry-run")
        print(f"would alert on {', '.join(channels)}:", file=out)
        out.write(render_console(n))
    return would


def _top_reason(runtime: Any, article: Any) -> str:
    """Why the classifier flagged nothing: the reason of the category that came closest."""
    from monitor.classify import classify

    result = classify(article.title, article.text, article.language, runtime.rules())
    if not result.scores:
        return next(iter(result.reasons.values()), "no keyword matched") if result.reasons else "no keyword matched"
    best = max(result.scores, key=lambda c: result.scores[c] - result.thresholds.get(c, 0))
    return f"{best}: {result.reasons.get(best) or f'score {result.scores[best]:g}'}"


def print_yielded(runtime: Any, source_ids: list[str] | None, yielded: list[tuple[Any, str, Any]],
                  out: IO[str]) -> None:
    """Every article each source yielded, with what the run made of it."""
    ids = source_ids or [s.id for s in runtime.config.sources if s.enabled]
    for sid in ids:
        mine = [(a, o) for a, s, o in yielded if s == sid]
        seen = runtime.report(sid).seen
        print(f"source {sid}: {len(mine)} article{'s' if len(mine) != 1 else ''} yielded"
              + (f", {seen} already seen" if seen else ""), file=out)
        for article, outcome in mine:
            published = (article.published.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                         if article.published else "no date")
            if outcome.status != "new":
                verdict = {"seen": "already stored", "duplicate": "duplicate of a stored article",
                           "empty": "no text"}.get(outcome.status, outcome.status)
            elif outcome.categories:
                verdict = ", ".join(outcome.categories)
                if outcome.copy_of:
                    verdict += f" (a near-copy of article {outcome.copy_of}: not alerted)"
                elif not outcome.fresh:
                    verdict += " (older than max_age: not alerted)"
                elif not outcome.alerts:
                    verdict += " (no channel: silenced or no route)"
                else:
                    verdict += " (would alert)"
            else:
                verdict = f"no match ({_top_reason(runtime, article)})"
            title = " ".join((article.title or "").split()) or "(no title)"
            print(f"  [{article.language or '?'}] {published}  {title}", file=out)
            print(f"      {verdict}", file=out)
            print(f"      {article.url}", file=out)
