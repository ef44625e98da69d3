"""Load YAML keeping line numbers, substitute ${ENV_VARS}, and turn pydantic errors into messages that
name the file, the line and the key path: `config.yaml:42 sources[3].url: not an http(s) URL`.

Used for config.yaml and for every other YAML file a user edits (keyword files, watchlists).
Parsing uses libyaml (PyYAML's C parser) and keeps each key's and item's line: ten times faster than a
pure-Python round-trip parser on a config of a thousand sources or the shipped keyword files."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from monitor.errors import ConfigProblem

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
    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(reason)


_SCALARS = yaml.constructor.SafeConstructor()


def _build(node: yaml.Node) -> Any:
    mark = node.start_mark
    if isinstance(node, yaml.MappingNode):
        out = LineMap()
        out.lc = LineCol(mark.line, mark.column)
        for key_node, value_node in node.value:
            key = _build(key_node)
            if isinstance(key, (dict, list)):
                raise YamlSyntaxError(key_node.start_mark.line + 1, "a mapping or list cannot be a key")
            if key in out:
                raise YamlSyntaxError(key_node.start_mark.line + 1, f'found duplicate key "{key}"')
            out[key] = _build(value_node)
            out.lc.keys[key] = (key_node.start_mark.line, key_node.start_mark.column)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LineSeq()
        seq.lc = LineCol(mark.line, mark.column)
        for item in node.value:
            seq.append(_build(item))
            seq.lc.items.append((item.start_mark.line, item.start_mark.column))
        return seq
    return _SCALARS.construct_object(node)


def fast_load(text: str) -> Any:
    """Parse YAML into dicts and lists that remember lines (`.lc`). Raises YamlSyntaxError."""
    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = str(exc.problem or exc.context or "invalid YAML")
        if exc.problem and exc.context:
            reason += f" ({exc.context})"
        raise YamlSyntaxError(mark.line + 1 if mark is not None else None, reason) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, str(exc)) from None
    if node is None:
        return None
    try:
        return _build(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise YamlSyntaxError(mark.line + 1 if mark else None, str(exc.problem)) from None


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
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return YamlDoc(name, None), [ConfigProblem(name, None, "", "no such file")]
    except UnicodeDecodeError as exc:
        return YamlDoc(name, None), [ConfigProblem(name, None, "", f"not UTF-8 text ({exc.reason})")]
    except OSError as exc:
        return YamlDoc(name, None), [ConfigProblem(name, None, "", exc.strerror or str(exc))]
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> tuple[YamlDoc, list[ConfigProblem]]:
    try:
        root = fast_load(text)
    except YamlSyntaxError as exc:
        return YamlDoc(name, None), [ConfigProblem(name, exc.line, "", f"YAML syntax: {exc.reason}")]
    return YamlDoc(name, root), []


def substitute_env(doc: YamlDoc, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    """Replace ${VAR} and ${VAR:-default} in every string value, in place. The values never appear in
    messages: a missing variable is reported by name only."""
    env = dict(os.environ) if env is None else env
    problems: list[ConfigProblem] = []

    def sub(value: str, loc: list[str | int]) -> str:
        def repl(m: re.Match[str]) -> str:
            var, default = m.group(1), m.group(2)
            if var in env:
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
