"""Load YAML keeping line numbers, substitute ${ENV_VARS}, and turn pydantic errors into messages that
name the file, the line and the key path: `config.yaml:42 sources[3].url: not an http(s) URL`.

Used for config.yaml and for every other YAML file a user edits (keyword files, watchlists).
Parsing uses libyaml (PyYAML's C parser) and keeps each key's and item's line: ten times faster than a
pure-Python round-trip parser on a config of a thousand sources or the shipped keyword files."""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

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
        return _data_loc(self.root, loc)


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


# -- pydantic's errors in plain words -----------------------------------------------------------------

_NOT_IN_DOC = object()
_SECRETISH = re.compile(r"pass|token|secret|key|auth|cookie|credential|signature|session|url|header", re.I)


def describe(value: Any) -> str:
    """What a value is, in words ("a list", "a number"): for messages that must not echo it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "empty text" if not value.strip() else "text"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (date, datetime)):
        return "a date"
    if isinstance(value, bytes):
        return "binary data"
    return type(value).__name__


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 4] + "…" + text[-3:]


def format_number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return _shorten(str(value))


def _format_seconds(seconds: float) -> str:
    from monitor.durations import format_duration

    if 0 < seconds < 1:
        return f"{format_number(round(seconds * 1000, 3))}ms"
    return format_duration(seconds) if float(seconds).is_integer() else f"{format_number(seconds)}s"


def _shown(value: Any, loc: Loc, duration: bool = False) -> str:
    """The value as written, short, for "(got …)"; only its kind when the key may hold a secret."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if duration and math.isfinite(value):
            return _format_seconds(value)
        return format_number(value)
    if isinstance(value, str) and value.strip() and not any(_SECRETISH.search(str(k)) for k in loc):
        return f'"{_shorten(value)}"'
    return describe(value)


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """(the type, its Annotated metadata), with Optional[X] read as X."""
    import types
    import typing

    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            args = typing.get_args(tp)
            tp, metadata = args[0], metadata + list(args[1:])
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, metadata
            tp = args[0]
        else:
            return tp, metadata


@functools.lru_cache(maxsize=1024)
def _field_type(model: type[BaseModel], key: Any) -> Any:
    """A model field's declared type (constraints included), by name or alias; cached, so that each
    field has one TypeAdapter."""
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return _NOT_IN_DOC


def _union_members(tp: Any, metadata: list[Any]) -> tuple[str, dict[str, type[BaseModel]]] | None:
    """A tagged union's discriminator and its members by tag."""
    import typing

    disc = next((getattr(m, "discriminator", None) for m in metadata if getattr(m, "discriminator", None)), None)
    if not isinstance(disc, str):
        return None
    members = {}
    for member in typing.get_args(tp):
        if isinstance(member, type) and issubclass(member, BaseModel) and disc in member.model_fields:
            for tag in typing.get_args(_unwrap(member.model_fields[disc].annotation)[0]):
                members[str(tag)] = member
    return disc, members


def type_at(tp: Any, loc: Loc) -> Any:
    """The declared type at a pydantic error location (union tags included), or _NOT_IN_DOC."""
    import typing

    for step in loc:
        tp, metadata = _unwrap(tp)
        union = _union_members(tp, metadata)
        if union is not None:
            tp = union[1].get(str(step), _NOT_IN_DOC)
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = _field_type(tp, step)
        elif typing.get_origin(tp) in (list, tuple, set) and isinstance(step, int):
            tp = (typing.get_args(tp) or (Any,))[0]
        elif typing.get_origin(tp) is dict:
            args = typing.get_args(tp) or (Any, Any)
            tp = args[0] if step == "[key]" else args[1]
        else:
            return _NOT_IN_DOC
        if tp is _NOT_IN_DOC:
            return tp
    return tp


def _is_duration(tp: Any) -> bool:
    from monitor.durations import parse_duration

    return any(getattr(m, "func", None) is parse_duration for m in _unwrap(tp)[1])


def _non_finite(value: Any) -> bool:
    """nan or inf, also written as text ("nan", "-Infinity"), which pydantic reads as a float."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return isinstance(value, float) and not math.isfinite(value)


def _quoted_list(text: str) -> list[str]:
    """"'feed', 'sitemap' or 'page'" -> ["feed", "sitemap", "page"]."""
    return re.findall(r"'((?:[^'\\]|\\.)*)'", text)


_TYPE_NOUNS = {
    "string_type": "text", "list_type": "a list", "tuple_type": "a list", "set_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "date_type": "a date", "date_parsing": "a date",
    "datetime_type": "a date and time", "datetime_parsing": "a date and time",
}


def explain(err: Any, model: Any = None) -> tuple[list[str | int], str]:
    """One pydantic error -> (location, reason in plain words). `model` (the validated type) gives the
    known keys behind "did you mean" and which values are durations."""
    from monitor.classify.rules import closest, did_you_mean

    loc: list[str | int] = list(err["loc"])
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    tp = type_at(model, loc) if model is not None else _NOT_IN_DOC
    duration = _is_duration(tp)

    def got() -> str:
        return f" (got {_shown(value, loc, duration)})"

    def bound(name: str) -> str:
        b = ctx.get(name)
        return _format_seconds(b) if duration and isinstance(b, (int, float)) else format_number(b) \
            if isinstance(b, (int, float)) else str(b)

    key_error = bool(loc) and loc[-1] == "[key]"
    if key_error:
        loc = loc[:-1]
    if kind == "missing":
        return loc, "required key is missing"
    if kind == "extra_forbidden":
        parent = type_at(model, loc[:-1]) if model is not None else _NOT_IN_DOC
        parent = _unwrap(parent)[0]
        known = [f.alias or n for n, f in parent.model_fields.items() if not f.exclude] \
            if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        return loc, "unknown key" + (did_you_mean(str(loc[-1]), known) if loc and known else "")
    if _non_finite(value) and kind in (
            "greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"):
        return loc, "not a finite number"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than", "multiple_of"):
        words = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
                 "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt"),
                 "multiple_of": ("a multiple of", "multiple_of")}[kind]
        return loc, f"must be {words[0]} {bound(words[1])}{got()}"
    if kind == "finite_number":
        return loc, "not a finite number"
    if kind == "literal_error":
        expected = _quoted_list(str(ctx.get("expected", "")))
        if not expected:
            return loc, f"must be {ctx.get('expected')}{got()}"
        hint = ""
        if isinstance(value, str) and (close := closest(value, expected)):
            hint = f'; did you mean "{close}"?'
        return loc, f"must be one of {', '.join(expected)} (got {_shown(value, loc)}{hint})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", "type")).strip("'")
        expected = _quoted_list(str(ctx.get("expected_tags", "")))
        if not expected:
            union = _union_members(*_unwrap(tp)) if tp is not _NOT_IN_DOC else None
            expected = list(union[1]) if union else []
        section = str(loc[-2]) if len(loc) >= 2 and isinstance(loc[-2], str) else ""
        noun = (section[:-1] + " " if section.endswith("s") else "") + disc
        choices = f"one of {', '.join(expected)}" if expected else ""
        if kind == "union_tag_not_found":
            return [*loc, disc], "required key is missing" + (f" ({choices})" if choices else "")
        tag = str(ctx.get("tag", value))
        close = closest(tag, expected) if expected else None
        hint = "; ".join(x for x in (f'did you mean "{close}"?' if close else "", choices) if x)
        return [*loc, disc], f'unknown {noun} "{_shorten(tag)}"' + (f" ({hint})" if hint else "")
    if kind in ("string_too_short", "string_too_long", "too_short", "too_long"):
        n = ctx.get("min_length", ctx.get("max_length"))
        least = "at least" if kind.endswith("short") else "at most"
        if kind.startswith("string"):
            if kind == "string_too_short" and n == 1:
                return loc, "must not be empty"
            return loc, f"must be {least} {n} character{'s' if n != 1 else ''} long"
        if kind == "too_short" and n == 1:
            return loc, "must list at least one item"
        return loc, f"must have {least} {n} item{'s' if n != 1 else ''} (got {ctx.get('actual_length', '?')})"
    if kind == "int_parsing_size":
        return loc, "number too large"
    if kind in _TYPE_NOUNS:
        noun = _TYPE_NOUNS[kind]
        if key_error:
            return loc, f"key {_shown(value, ['key'])} must be {noun}"
        return loc, f"must be {noun}{got()}"
    msg = str(err.get("msg", "invalid value"))
    for noise in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(noise)
    if kind in ("value_error", "assertion_error"):
        return loc, msg
    # anything else pydantic may say, without its phrasing
    msg = re.sub(r"^Input should be ", "must be ", msg)
    msg = re.sub(r"^Input ", "value ", msg)
    msg = re.sub(r"\binput\b", "value", msg, flags=re.I)
    if msg.startswith("must be"):
        msg += got()
    return loc, msg


def validation_problems(doc: YamlDoc, exc: ValidationError, prefix: Loc = (),
                        model: Any = None) -> list[ConfigProblem]:
    """Every error of `exc` as a ConfigProblem in plain words (see explain). A problem with a mapping's
    key (pydantic's "[key]" step) names the mapping and points at the key's line."""
    problems = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        loc, message = explain(err, model)
        loc = list(prefix) + loc
        problem = doc.problem(loc, message)
        if err["loc"] and err["loc"][-1] == "[key]":
            problem = ConfigProblem(doc.file, doc.line_of(loc), format_path(doc._real_loc(loc[:-1])), message)
        if (problem.path, problem.message) not in seen:  # a union's members may say the same twice
            seen.add((problem.path, problem.message))
            problems.append(problem)
    return problems


def error_locs(doc: YamlDoc, exc: ValidationError, prefix: Loc = ()) -> list[tuple[str | int, ...]]:
    """Where each error is, as steps in the document (union tags and "[key]" dropped)."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        steps = [s for s in err["loc"] if s != "[key]"]
        out.append(tuple(_data_loc(doc.root, list(prefix) + steps)))
    return out


def _data_loc(root: Any, loc: Loc) -> list[str | int]:
    """`loc` without the steps that do not exist in the data (pydantic's union tags, model names); a
    missing or unknown last key is kept, to name it. `root` is a parsed document (LineMap/LineSeq) or
    plain dicts and lists."""
    out: list[str | int] = []
    node = root
    for i, key in enumerate(loc):
        if isinstance(node, dict) and key in node:
            out.append(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int):
            out.append(key)
            node = node[key] if 0 <= key < len(node) else None
        elif i == len(loc) - 1 and isinstance(node, dict):
            out.append(key)
    return out


class Parts:
    """A document checked against a model: the values that can be used although the whole did not
    validate, so that cross-checks still run on every part that parsed. A value is usable when no
    problem is at it, inside it or at one of its ancestors (the schema validated it as written)."""

    def __init__(self, doc: YamlDoc, bad: Iterable[tuple[str | int, ...]] = ()) -> None:
        self.doc = doc
        self.bad = set(bad)

    def spoil(self, loc: Loc) -> None:
        """Mark a value as unusable (e.g. an unset ${VAR})."""
        self.bad.add(tuple(loc))

    def raw(self, *loc: str | int) -> Any:
        """The value written at loc (line-keeping containers), None when absent."""
        node = self.doc.root
        for key in loc:
            if isinstance(node, dict) and key in node or isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                node = node[key]
            else:
                return None
        return node

    def usable(self, *loc: str | int) -> bool:
        n = len(loc)
        return not any(b[:n] == loc or loc[:len(b)] == b for b in self.bad)

    def get(self, *loc: str | int) -> Any:
        """The value at loc when it is there and usable, else None."""
        return self.raw(*loc) if self.usable(*loc) else None

    def items(self, *loc: str | int) -> list[tuple[Any, Any]]:
        """(index or key, value) of the list or mapping at loc, whatever their problems."""
        node = self.raw(*loc)
        if isinstance(node, list):
            return list(enumerate(node))
        if isinstance(node, dict):
            return list(node.items())
        return []

    def validated(self, tp: Any, loc: Loc = ()) -> Iterator[tuple[list[str | int], Any]]:
        """(loc, value validated as `tp`) for the largest usable parts of the document under loc."""
        import typing

        raw = self.raw(*loc)
        if raw is None and loc and not self._present(loc):
            return
        if self.usable(*loc):
            try:
                yield list(loc), _adapter(tp).validate_python(to_plain(raw))
            except (ValidationError, TypeError):
                pass
            return
        inner, metadata = _unwrap(tp)
        union = _union_members(inner, metadata)
        if union is not None:
            if isinstance(raw, dict) and str(raw.get(union[0])) in union[1] and self.usable(*loc, union[0]):
                yield from self.validated(union[1][str(raw[union[0]])], loc)
        elif isinstance(inner, type) and issubclass(inner, BaseModel) and isinstance(raw, dict):
            for key in raw:
                field_tp = _field_type(inner, key)
                if field_tp is not _NOT_IN_DOC:
                    yield from self.validated(field_tp, [*loc, key])
        elif typing.get_origin(inner) is list and isinstance(raw, list):
            for i in range(len(raw)):
                yield from self.validated(typing.get_args(inner)[0], [*loc, i])
        elif typing.get_origin(inner) is dict and isinstance(raw, dict):
            for key in raw:
                yield from self.validated(typing.get_args(inner)[1], [*loc, key])

    def _present(self, loc: Loc) -> bool:
        parent = self.raw(*loc[:-1])
        return (isinstance(parent, dict) and loc[-1] in parent) or (
            isinstance(parent, list) and isinstance(loc[-1], int) and 0 <= loc[-1] < len(parent))


_ADAPTERS: dict[int, Any] = {}


def _adapter(tp: Any) -> Any:
    from pydantic import TypeAdapter

    hit = _ADAPTERS.get(id(tp))
    if hit is None or hit[0] is not tp:
        hit = _ADAPTERS[id(tp)] = (tp, TypeAdapter(tp))
    return hit[1]


def validate_model(doc: YamlDoc, model: type[BaseModel], context: dict[str, Any] | None = None) -> tuple[
    BaseModel | None, list[ConfigProblem]
]:
    result, problems, _ = validate_parts(doc, model, context)
    return result, problems


def validate_parts(doc: YamlDoc, model: type[BaseModel], context: dict[str, Any] | None = None) -> tuple[
    BaseModel | None, list[ConfigProblem], Parts
]:
    """Validate the whole document; on failure, every problem in plain words and the usable Parts."""
    data = to_plain(doc.root)
    if data is None:
        data = {}
    try:
        return model.model_validate(data, context=context), [], Parts(doc)
    except ValidationError as exc:
        return None, validation_problems(doc, exc, model=model), Parts(doc, error_locs(doc, exc))
