"""Load YAML keeping line numbers, substitute ${ENV_VARS}, and turn pydantic errors into messages that
name the file, the line and the key path: `config.yaml:42 sources[3].url: not an http(s) URL`.

Used for config.yaml and for every other YAML file a user edits (keyword files, watchlists)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from monitor.errors import ConfigProblem

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Loc = Sequence[str | int]


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
            if isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
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
            if isinstance(node, CommentedMap) and key in node:
                out.append(key)
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int):
                out.append(key)
                node = node[key] if 0 <= key < len(node) else None
            elif i == len(loc) - 1 and isinstance(node, CommentedMap):
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
    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = (exc.problem or exc.context or "invalid YAML").strip()
        if "duplicate key" in reason:
            reason = reason.split(" with value")[0]
        return YamlDoc(name, None), [ConfigProblem(name, line, "", f"YAML syntax: {reason}")]
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
        if isinstance(node, CommentedMap):
            for k in list(node.keys()):
                v = node[k]
                if isinstance(v, str):
                    node[k] = sub(v, loc + [k])
                else:
                    walk(v, loc + [k])
        elif isinstance(node, CommentedSeq):
            for i, v in enumerate(node):
                if isinstance(v, str):
                    node[i] = sub(v, loc + [i])
                else:
                    walk(v, loc + [i])

    walk(doc.root, [])
    return problems


def to_plain(node: Any) -> Any:
    """ruamel's round-trip containers -> plain dicts, lists and scalars for pydantic."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if node.__class__.__module__.startswith("ruamel"):
        for base in (bool, int, float, str):
            if isinstance(node, base):
                return base(node)
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
