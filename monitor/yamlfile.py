"""Load YAML keeping line numbers, substitute ${ENV_VARS}, and turn pydantic errors into messages that
name the file, the line and the key path: `config.yaml:42 sources[3].url: not an http(s) URL`.

Used for config.yaml and for every other YAML file a user edits (keyword files, watchlists).
Parsing uses libyaml (PyYAML's C parser) and keeps each key's and item's line: ten times faster than a
pure-Python round-trip parser on a config of a thousand sources or the shipped keyword files."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from monitor.errors import ConfigProblem
from monitor.logs import register_secret

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Loc = Sequence[str | int]


class LineCol:
    """Where a mapping's keys and a sequence's items were written (0-based lines and columns)."""

    __slots__ = ("line", "col", "keys", "items")

    def __init__(self, line: int, col: int) -> None:
        self.line = line
        self.col = col
        self.keys: dict[Any, tuple[int, int]] = {}
        self.items: list[tuple[int, int]] = []

    def key(self, key: Any) -> tuple[int, int]:
        return self.keys[key]

    def item(self, index: int) -> tuple[int, int]:
        return self.items[index]


class LineMap(dict):  # type: ignore[type-arg]
    lc: LineCol


class LineSeq(list):  # type: ignore[type-arg]
    lc: LineCol


class YamlSyntaxError(Exception):
    """Unreadable YAML. `path` is set (e.g. "crawl.delay", "" for the root) when the text parses but a
    value is refused (not finite, too deep, too many aliases): it is then not a syntax problem."""

    def __init__(self, line: int | None, reason: str, path: str | None = None) -> None:
        self.line = line
        self.reason = reason
        self.path = path
        super().__init__(reason)


# Bounds on what one file may hold, so a broken or hostile file fails fast, with bounded memory, as a
# ConfigProblem: libyaml's own composer recurses in C and crashes the interpreter on lists nested ~100,000
# deep (so documents are built here from parser events), Python code walking a document recurses too,
# and aliases make a 1 KB file expand to gigabytes ("billion laughs"). A config of 10,000 sources (1 MB,
# 150,000 values) stays well inside them.
MAX_BYTES = 4 * 1024 * 1024   # characters
MAX_DEPTH = 50
MAX_VALUES = 500_000          # keys, items and values, counting what aliases expand to
MAX_ALIASED = 100_000         # values copied by aliases, in total

_SCALAR_TYPES = (str, int, float, bool, type(None), bytes, date, datetime)
_RESOLVER = yaml.resolver.Resolver()


class _Open:
    """A mapping or sequence whose end event has not come yet."""

    __slots__ = ("value", "anchor", "first", "height", "key", "key_mark")

    def __init__(self, value: LineMap | LineSeq, anchor: str | None, first: int) -> None:
        self.value = value
        self.anchor = anchor
        self.first = first             # the value count when it opened: its size is the difference
        self.height = 0                # nesting inside it, for aliases of it
        self.key: Any = _NO_KEY        # a mapping's key waiting for its value
        self.key_mark: tuple[int, int] = (0, 0)


_NO_KEY = object()


def _copy(value: Any) -> Any:
    """An alias's own copy of its anchor (substitute_env edits values in place)."""
    if isinstance(value, LineMap):
        out: LineMap | LineSeq = LineMap((k, _copy(v)) for k, v in value.items())
    elif isinstance(value, LineSeq):
        out = LineSeq(_copy(v) for v in value)
    else:
        return value
    out.lc = LineCol(value.lc.line, value.lc.col)
    out.lc.keys = dict(value.lc.keys)
    out.lc.items = list(value.lc.items)
    return out


def _build(events: Iterable[yaml.Event]) -> Any:
    """Build LineMaps and LineSeqs from parser events, without recursion, within the bounds above."""
    constructor = yaml.constructor.SafeConstructor()
    stack: list[_Open] = []
    anchors: dict[str, tuple[Any, int, int]] = {}   # name -> (value, values in it, nesting inside it)
    count = aliased = documents = 0
    root: Any = None

    def where() -> str:
        return format_path(len(f.value) if isinstance(f.value, LineSeq) else f.key for f in stack
                           if not (isinstance(f.value, LineMap) and f.key is _NO_KEY))

    for event in events:
        line = event.start_mark.line + 1
        pos = (event.start_mark.line, event.start_mark.column)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) >= MAX_DEPTH:
                raise YamlSyntaxError(line, f"nested deeper than {MAX_DEPTH} levels", where())
            container = LineMap() if isinstance(event, yaml.MappingStartEvent) else LineSeq()
            container.lc = LineCol(*pos)
            stack.append(_Open(container, event.anchor, count))
            count += 1
            continue
        if isinstance(event, yaml.ScalarEvent):
            tag = event.tag if event.tag not in (None, "!") else _RESOLVER.resolve(
                yaml.ScalarNode, event.value, event.implicit)
            if tag == "tag:yaml.org,2002:merge":
                raise YamlSyntaxError(line, "merge keys (<<) are not supported", where())
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            try:
                value = constructor.construct_object(node)
            except Exception as exc:  # PyYAML's own: 2024-13-45 is a ValueError, `!!timestamp x` an AttributeError
                reason = getattr(exc, "problem", None) if isinstance(exc, yaml.YAMLError) else None
                raise YamlSyntaxError(line, reason or f"invalid {tag.rpartition(':')[2]}: {event.value}",
                                      where()) from None
            if not isinstance(value, _SCALAR_TYPES):
                raise YamlSyntaxError(line, f"unsupported tag {event.tag}", where())
            if isinstance(value, float) and not math.isfinite(value):
                raise YamlSyntaxError(line, f"not a finite number: {event.value}", where())
            if isinstance(value, str) and "\0" in value:
                raise YamlSyntaxError(line, "contains a NUL character", where())
            anchor, size, height = event.anchor, 1, 0
            count += 1
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            done = stack.pop()
            value, anchor, size, height = done.value, done.anchor, count - done.first, done.height + 1
            pos = (value.lc.line, value.lc.col)
            line = pos[0] + 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                recursive = any(f.anchor == event.anchor for f in stack)
                raise YamlSyntaxError(line, f"{'recursive' if recursive else 'undefined'} alias *{event.anchor}",
                                      where())
            value, size, height = anchors[event.anchor]
            if len(stack) + height > MAX_DEPTH:
                raise YamlSyntaxError(line, f"nested deeper than {MAX_DEPTH} levels (through *{event.anchor})",
                                      where())
            aliased += size
            if aliased > MAX_ALIASED:
                raise YamlSyntaxError(line, f"aliases expand to more than {MAX_ALIASED} values", where())
            value, anchor = _copy(value), None
            count += size
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise YamlSyntaxError(line, "expected a single document in the file")
            continue
        else:
            continue
        if count > MAX_VALUES:
            raise YamlSyntaxError(line, f"more than {MAX_VALUES} values", where())
        if anchor is not None:
            anchors[anchor] = (value, size, height)
        if not stack:
            root = value
            continue
        parent = stack[-1]
        parent.height = max(parent.height, height)
        if isinstance(parent.value, LineSeq):
            parent.value.append(value)
            parent.value.lc.items.append(pos)
        elif parent.key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise YamlSyntaxError(line, "a mapping or list cannot be a key")
            if value in parent.value:
                raise YamlSyntaxError(line, f'found duplicate key "{value}"')
            parent.key, parent.key_mark = value, pos
        else:
            parent.value[parent.key] = value
            parent.value.lc.keys[parent.key] = parent.key_mark
            parent.key = _NO_KEY
    return root


def fast_load(text: str) -> Any:
    """Parse YAML into dicts and lists that remember lines (`.lc`). Raises YamlSyntaxError."""
    if len(text) > MAX_BYTES:
        raise YamlSyntaxError(None, f"larger than {MAX_BYTES // 2**20} MB", "")
    try:
        return _build(yaml.parse(text, Loader=yaml.CSafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = str(exc.problem or exc.context or "invalid YAML")
        if exc.problem and exc.context:
            reason += f" ({exc.context})"
        raise YamlSyntaxError(mark.line + 1 if mark is not None else None, reason) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, str(exc)) from None


class YamlDoc:
    """A parsed YAML document that remembers where each key and item was written."""

    def __init__(self, file: str, root: Any) -> None:
        self.file = file
        self.root = root

    def line_of(self, loc: Loc) -> int | None:
        """1-based line of the deepest node of `loc` that exists in the document."""
        node = self.root
        line: int | None = 1 if node is not None else None
        for key in loc:
            if isinstance(node, LineMap) and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, LineSeq) and isinstance(key, int) and 0 <= key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                continue  # a pydantic-only step (e.g. a union's tag): stay on this node
        return line

    def problem(self, loc: Loc, message: str) -> ConfigProblem:
        return ConfigProblem(self.file, self.line_of(loc), format_path(self._real_loc(loc)), message)

    def _real_loc(self, loc: Loc) -> list[str | int]:
        """Drop loc steps that do not exist in the document (pydantic's union tags, model names)."""
        out: list[str | int] = []
        node = self.root
        for i, key in enumerate(loc):
            if isinstance(node, LineMap) and key in node:
                out.append(key)
                node = node[key]
            elif isinstance(node, LineSeq) and isinstance(key, int):
                out.append(key)
                node = node[key] if 0 <= key < len(node) else None
            elif i == len(loc) - 1 and isinstance(node, LineMap):
                out.append(key)  # a missing or unknown key: name it
        return out


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for key in loc:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += ("." if out else "") + str(key)
    return out


def load_yaml(path: str | Path, display_name: str | None = None) -> tuple[YamlDoc, list[ConfigProblem]]:
    """Parse a YAML file. Returns the document and the problems found (syntax, duplicate keys)."""
    name = display_name or str(path)
    try:
        if Path(path).stat().st_size > MAX_BYTES:
            return YamlDoc(name, None), [ConfigProblem(name, None, "", f"larger than {MAX_BYTES // 2**20} MB")]
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return YamlDoc(name, None), [ConfigProblem(name, None, "", "no such file")]
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        return YamlDoc(name, None), [ConfigProblem(name, line, "", f"not UTF-8 text ({exc.reason})")]
    except OSError as exc:
        return YamlDoc(name, None), [ConfigProblem(name, None, "", exc.strerror or str(exc))]
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> tuple[YamlDoc, list[ConfigProblem]]:
    try:
        root = fast_load(text)
    except YamlSyntaxError as exc:
        if exc.path is not None:
            return YamlDoc(name, None), [ConfigProblem(name, exc.line, exc.path, exc.reason)]
        return YamlDoc(name, None), [ConfigProblem(name, exc.line, "", f"YAML syntax: {exc.reason}")]
    return YamlDoc(name, root), []


def substitute_env(doc: YamlDoc, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    """Replace ${VAR} and ${VAR:-default} in every string value, in place. The values never appear in
    messages: a missing variable is reported by name only, and every value taken from the environment
    is registered with monitor.logs, which masks it in every log line and command output."""
    env = dict(os.environ) if env is None else env
    problems: list[ConfigProblem] = []

    def sub(value: str, loc: list[str | int]) -> str:
        def repl(m: re.Match[str]) -> str:
            var, default = m.group(1), m.group(2)
            if var in env:
                register_secret(env[var])
                return env[var]
            if default is not None:
                return default
            problems.append(doc.problem(loc, f"environment variable {var} is not set"))
            return ""

        return _ENV.sub(repl, value)

    def walk(node: Any, loc: list[str | int]) -> None:
        if isinstance(node, LineMap):
            for k in list(node.keys()):
                v = node[k]
                if isinstance(v, str):
                    node[k] = sub(v, loc + [k])
                else:
                    walk(v, loc + [k])
        elif isinstance(node, LineSeq):
            for i, v in enumerate(node):
                if isinstance(v, str):
                    node[i] = sub(v, loc + [i])
                else:
                    walk(v, loc + [i])

    walk(doc.root, [])
    return problems


def to_plain(node: Any) -> Any:
    """Line-keeping containers -> plain dicts and lists for pydantic."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def validation_problems(doc: YamlDoc, exc: ValidationError, prefix: Loc = ()) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(prefix) + list(err["loc"])
        msg = _MESSAGES.get(err["type"]) or err["msg"]
        for noise in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(noise)
        problems.append(doc.problem(loc, msg))
    return problems


def validate_model(doc: YamlDoc, model: type[BaseModel], context: dict[str, Any] | None = None) -> tuple[
    BaseModel | None, list[ConfigProblem]
]:
    data = to_plain(doc.root)
    if data is None:
        data = {}
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as exc:
        return None, validation_problems(doc, exc)
