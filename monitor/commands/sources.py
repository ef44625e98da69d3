"""`newsmon sources list|export|import|test`: the configured sources, and OPML in and out.

- `sources list [--format json]`: id, type, URL, interval, enabled and tags of every source.
- `sources export [-o FILE]`: OPML 2.0 of the sources (see monitor/opml.py for what is kept how); a
  note on stderr for what other feed readers will not see (sitemap and page sources, headers).
- `sources import FILE.opml [--write] [--interval 10m] [--tag T]`: the feeds of an OPML file as new
  `sources:` entries, printed as YAML; ids from their titles (unique against the configured ones),
  feeds already configured (same canonical URL) and entries that are not usable (no http(s) URL, a
  `${VAR}` in a value) skipped with one `FILE:LINE: reason` line each on stderr. `--write` appends them
  to the config's `sources:` list, changing nothing else in the file (line endings, a BOM, its owner
  and mode; a symlinked config is written through the link), after checking the result brings no new
  problem; a config file that does not exist yet is created. Exit 2 for an unreadable OPML file.
- list, export and import read only the sources: a `${VAR}` used elsewhere in the file (a channel's
  secret, which an admin shell often lacks) need not be set (`_read_sources`). `sources test` polls
  for real and needs the whole config.
- `sources test ID`: poll that one source now, on a throwaway copy of the store, and show what it yields
  and what would alert; nothing is stored or sent (monitor.commands.crawl.dry_run).
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

HELP = "list the sources, import or export them as OPML, or test one now"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def config_arg(q: argparse.ArgumentParser) -> None:
        q.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")

    q = sub.add_parser("list", help="id, type, URL, interval, enabled and tags of each source",
                       description="id, type, URL, interval, enabled and tags of each source")
    config_arg(q)
    q.add_argument("--format", choices=["text", "json"], default="text")

    q = sub.add_parser("export", help="write the sources as OPML 2.0", description="write the sources as OPML 2.0 "
                       "(feeds for any feed reader; sitemap and page sources in newsmon's own attributes)")
    config_arg(q)
    q.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")

    q = sub.add_parser("import", help="add the feeds of an OPML file (printed; --write adds them to the config)",
                       description="read an OPML subscription list and print the new sources: entries; "
                       "--write appends them to the config file, leaving the rest of it as it is")
    q.add_argument("file", metavar="FILE.opml", help="OPML file exported by a feed reader")
    config_arg(q)
    q.add_argument("--write", action="store_true", help="append the new sources to the config file")
    q.add_argument("--interval", metavar="DURATION", help='poll interval of the new sources (default: the config default, 10m)')
    q.add_argument("--tag", action="append", default=[], metavar="T", help="add this tag to every new source (repeatable)")

    q = sub.add_parser("test", help="poll one source now and show what it yields and would alert; stores nothing",
                       description="poll one source now, on a throwaway copy of the store, and show what it "
                       "yields and what would alert; nothing is stored or sent")
    q.add_argument("id", metavar="ID", help="source id")
    config_arg(q)


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "export": _export, "import": _import, "test": _test}[args.action](args)


def _raw_sources(path: str | Path) -> list[Any]:
    """The sources as written in the file, before ${VAR} substitution."""
    from monitor.yamlfile import load_yaml, to_plain

    doc, _ = load_yaml(path)
    root = to_plain(doc.root) if isinstance(doc.root, dict) else {}
    raw = root.get("sources")
    return raw if isinstance(raw, list) else []


def _unset_outside_sources(path: str | Path) -> set[str]:
    """Key paths (as ConfigProblem.path) of the values outside `sources:` that use a ${VAR} (without a
    :-default) not set in the environment."""
    from monitor.yamlfile import format_path, load_yaml

    doc, _ = load_yaml(path)
    found: set[str] = set()

    def walk(node: Any, loc: list[str | int]) -> None:
        if isinstance(node, dict):
            children: list[tuple[Any, Any]] = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        else:
            if isinstance(node, str) and any(default is None and var not in os.environ
                                             for var, default in _unset_vars(node)):
                found.add(format_path(loc))
            return
        for key, value in children:
            if not loc and key == "sources":
                continue
            walk(value, [*loc, key])

    walk(doc.root, [])
    return found


def _unset_vars(value: str) -> list[tuple[str, str | None]]:
    """(name, default or None) of each ${VAR} in `value`, found as the config loader finds them."""
    from monitor.yamlfile import _ENV

    return [(m.group(1), m.group(2)) for m in _ENV.finditer(value)]


def _read_sources(path: str | Path) -> list[Any]:
    """The configured sources, validated as load_config validates them, without requiring the
    environment variables used outside `sources:` (channel secrets, server.token: a shell that lists
    or imports sources often has none of them). Raises ConfigError for any other problem, including
    an unset variable in a source."""
    from monitor.config import Config, SourceConfig, _register_secrets, check_config
    from monitor.errors import ConfigError

    config, problems, parts = check_config(path)
    if config is not None:
        _register_secrets(config)
        return list(config.sources)
    tolerated = _unset_outside_sources(path) if parts is not None else set()
    blocking = [p for p in problems if p.path not in tolerated]
    sources = None
    if not blocking and parts is not None:
        if parts.raw("sources") is None:
            sources = []
        else:
            sources = next((v for loc, v in parts.validated(list[SourceConfig], ["sources"]) if loc == ["sources"]),
                           None)
    if sources is None:
        raise ConfigError(blocking or problems)
    _register_secrets(Config.model_construct(sources=sources))
    return list(sources)


def _list(args: argparse.Namespace) -> int:
    from monitor.durations import format_duration
    from monitor.logs import redact
    from monitor.textutil import table

    sources = _read_sources(args.config)
    if args.format == "json":
        rows = [{"id": s.id, "type": s.type, "url": redact(s.url), "interval": s.interval, "cron": s.cron,
                 "enabled": s.enabled, "tags": s.tags, "language": s.language} for s in sources]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not sources:
        print(f"{args.config}: no sources")
        return 0
    rows = [["ID", "TYPE", "URL", "INTERVAL", "ENABLED", "TAGS"]]
    for s in sources:
        rows.append([s.id, s.type, redact(s.url), f"cron {s.cron}" if s.cron else format_duration(s.interval),
                     "yes" if s.enabled else "no", ",".join(s.tags)])
    print(table(rows))
    return 0


def _export(args: argparse.Namespace) -> int:
    from monitor.opml import export_opml

    sources = _read_sources(args.config)
    data, notes = export_opml(sources, _raw_sources(args.config))
    for note in notes:
        print(f"newsmon sources export: {note}", file=sys.stderr)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"{args.output}: {len(sources)} source(s)", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data) if hasattr(sys.stdout, "buffer") else sys.stdout.write(data.decode())
        sys.stdout.flush()
    return 0


def _import(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from monitor.config import SourceConfig
    from monitor.durations import parse_duration
    from monitor.opml import MAX_BYTES, CannotEdit, OpmlError, add_sources, derive_id, entries_yaml, parse_opml
    from monitor.urls import canonical_url

    err = sys.stderr
    if args.interval is not None:
        try:
            if parse_duration(args.interval) < 1:
                raise ValueError("at least 1s")
        except ValueError as exc:
            print(f"newsmon sources import: --interval: {exc}", file=err)
            return 2
    try:
        path = Path(args.file)
        if path.stat().st_size > MAX_BYTES:
            raise OpmlError(args.file, None, f"larger than {MAX_BYTES // 2**20} MB")
        opml = parse_opml(path.read_bytes(), args.file)
    except FileNotFoundError:
        print(f"{args.file}: no such file", file=err)
        return 2
    except OSError as exc:
        print(f"{args.file}: {exc.strerror or exc}", file=err)
        return 2
    except OpmlError as exc:
        print(exc, file=err)
        return 2

    config_path = Path(args.config)
    exists = config_path.exists()
    sources = _read_sources(config_path) if exists else []
    taken = {s.id for s in sources}
    known = {canonical_url(s.url): s.id for s in sources}
    seen: dict[str, int] = {}
    entries: list[dict[str, Any]] = []
    notes = list(opml.notes)
    skipped = 0
    for feed in opml.feeds:
        where = f"{args.file}:{feed.line}"
        label = f'"{feed.title}" ' if feed.title else ""
        values = [feed.url, *feed.tags, *(v for v in feed.extra.values() if isinstance(v, str))]
        if any("${" in v for v in values):
            notes.append(f"{where}: {label}contains ${{...}}, which the config would read as an environment variable: skipped")
            skipped += 1
            continue
        canon = canonical_url(feed.url)
        if canon in seen:
            notes.append(f"{where}: {label}{feed.url} is listed before, at line {seen[canon]}: skipped")
            skipped += 1
            continue
        if canon in known:
            notes.append(f"{where}: {label}{feed.url} is already configured as {known[canon]}: skipped")
            skipped += 1
            continue
        entry: dict[str, Any] = {"id": "", "type": feed.type, "url": feed.url}
        if "interval" in feed.extra:
            entry["interval"] = feed.extra["interval"]
        elif args.interval is not None:
            entry["interval"] = args.interval
        if feed.language:
            entry["language"] = feed.language
        tags = list(dict.fromkeys(feed.tags + list(args.tag)))
        if tags:
            entry["tags"] = tags
        for key in ("cron", "max_age", "timezone"):
            if key in feed.extra:
                entry[key] = feed.extra[key]
        for key in ("fetch_articles", "enabled"):
            if key in feed.extra:
                value = feed.extra[key].strip().lower()
                if value not in ("true", "false"):
                    notes.append(f"{where}: newsmon:{key}=\"{feed.extra[key]}\" is not true or false: ignored")
                    continue
                entry[key] = value == "true"
        if "selectors" in feed.extra:
            try:
                selectors = json.loads(feed.extra["selectors"])
                assert isinstance(selectors, list) and all(isinstance(x, str) for x in selectors)
                entry["selectors"] = selectors
            except (ValueError, AssertionError):
                notes.append(f"{where}: newsmon:selectors is not a JSON list of strings: ignored")
        entry["id"] = derive_id(feed, set(taken))
        try:
            SourceConfig.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            key = ".".join(str(x) for x in first["loc"]) or "source"
            reason = first["msg"].removeprefix("Value error, ")
            notes.append(f"{where}: {label}{key}: {reason} ({feed.url}): skipped")
            skipped += 1
            continue
        taken.add(entry["id"])
        seen[canon] = feed.line
        entries.append(entry)
    for note in notes:
        print(note, file=err)
    summary = (f"{args.file}: {len(opml.feeds)} feed(s), {len(entries)} new"
               + (f", {skipped} skipped" if skipped else ""))
    if not entries:
        print(f"{summary}: nothing to add", file=err)
        return 0
    sys.stdout.write(entries_yaml(entries))
    if not args.write:
        print(f"{summary} (add them with --write, or paste them into {args.config})", file=err)
        return 0

    # the file the config path names (through a symlink): replaced by a temporary file next to it
    target = config_path.resolve()
    try:
        raw = target.read_bytes() if exists else b""
    except OSError as exc:
        print(f"newsmon sources import: cannot read {args.config}: {exc.strerror or exc}; nothing written", file=err)
        return 2
    bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
    text = raw[len(bom):].decode("utf-8")  # it loaded, so it is UTF-8; line endings stay as written
    try:
        new_text = add_sources(text, entries)
    except CannotEdit as exc:
        print(f"newsmon sources import: cannot add to {args.config}: {exc}; nothing written (paste the entries above by hand)", file=err)
        return 2
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(bom + new_text.encode("utf-8"))
        if exists:
            st = target.stat()
            _chown_like(tmp, st)
            os.chmod(tmp, st.st_mode & 0o7777)
        # the edited file must bring no new problem (one already there, e.g. a ${VAR} this shell lacks,
        # is the admin's business, not a reason to refuse)
        new = _new_problems(target if exists else None, tmp)
        if new:
            for problem in new:
                print(str(problem).replace(tmp, str(args.config)), file=err)
            print(f"newsmon sources import: {args.config} would not load with the new sources; nothing written", file=err)
            return 2
        os.replace(tmp, target)
    except OSError as exc:
        print(f"newsmon sources import: cannot write {target}: {exc.strerror or exc}; nothing written", file=err)
        return 2
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    print(f"{summary}: added to {args.config} ({', '.join(e['id'] for e in entries)})", file=err)
    return 0


def _new_problems(before: Path | None, after: str | Path) -> list[Any]:
    """The problems of the config file `after` that `before` did not have (compared without their line
    numbers, which the insertion moves)."""
    from monitor.config import check_config

    old = Counter((p.path, p.message) for p in check_config(before)[1]) if before is not None else Counter()
    new = []
    for problem in check_config(after)[1]:
        key = (problem.path, problem.message)
        if old[key] > 0:
            old[key] -= 1
        else:
            new.append(problem)
    return new


def _chown_like(path: str, st: os.stat_result) -> None:
    """Give `path` the owner and group of the file it replaces, as far as this user may."""
    if not hasattr(os, "chown"):
        return
    try:
        os.chown(path, st.st_uid, st.st_gid)
    except PermissionError:
        try:
            os.chown(path, -1, st.st_gid)  # not root: keep at least the group, when we are in it
        except PermissionError:
            pass


def _test(args: argparse.Namespace) -> int:
    from monitor.classify.rules import did_you_mean
    from monitor.config import load_config
    from monitor.logs import setup_logging

    config = load_config(args.config)
    setup_logging(config.log.format, config.log.level, verbose=args.verbose)
    ids = [s.id for s in config.sources]
    if args.id not in ids:
        print(f'newsmon sources test: unknown source "{args.id}"{did_you_mean(args.id, ids)} '
              f'(known: {", ".join(ids) or "none"})', file=sys.stderr)
        return 2
    from monitor.commands import crawl

    dry_run = getattr(crawl, "dry_run", None)
    if dry_run is None:
        print("newsmon sources test: this newsmon has no dry run (monitor.commands.crawl.dry_run)", file=sys.stderr)
        return 2
    return int(dry_run(config, [args.id], out=sys.stdout, verbose=True) or 0)
