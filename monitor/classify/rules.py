"""Loading and validating keyword files into an immutable `RuleSet`.

Keyword file format (YAML, one language per file; see docs/keywords.md):

    language: de                 # ISO 639-1 code, or "*" for rules applied to every language
    categories:
      outage:
        threshold: 3             # optional: score needed to flag, for this language
        title_weight: 2          # optional: multiplier for hits in the title
        require_context: true    # optional: weak/medium triggers need a context term (or a strong one)
        strong: [Netzausfall, "*störung im netz"]   # weight 3 each
        medium: [...]            # weight 2
        weak: [Ausfall, "störung*"]                  # weight 1
        context: [Mobilfunk, App, Kunden]            # weight 1, counted only together with a trigger
        negative: [Fußball]      # subtracts 2 (or the weight given)
        veto: [Kinofilm]         # any hit vetoes the category for the article

A term is a string (`*` at the start or end is a wildcard: no word boundary needed there), or a
one-key mapping `term: weight`, or a mapping `{term: ..., weight: ..., field: title|text|any}`.

Entities (watchlist) file:  `entities: [{name: China Unicom, aliases: [中国联通, 联通]}]`.

`load_ruleset(cfg, base_dir)` is all-or-nothing: it returns a new RuleSet or raises KeywordError with
every problem found (file, line, path, message). Config keys read: see ClassifyConfig.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monitor.classify.config import ClassifyConfig
from monitor.classify.normalize import fold_piece, is_unbounded_script, is_word_char
from monitor.classify.stem import lookup_prefix, match_prefix, stemmer
from monitor.errors import ConfigProblem, KeywordError
from monitor.yamlfile import YamlSyntaxError, fast_load

DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "keywords"
ENTITIES_FILE = "entities.yaml"

GROUPS: dict[str, tuple[str, float]] = {   # group -> (kind, default weight)
    "strong": ("strong", 3.0),
    "medium": ("trigger", 2.0),
    "weak": ("trigger", 1.0),
    "context": ("context", 1.0),
    "negative": ("negative", 2.0),
    "veto": ("veto", 0.0),
    "actors": ("actor", 0.0),   # actors for this category only (e.g. fraud: SMS, link, caller)
}
SETTINGS = {"threshold", "title_weight", "require_context", "require_actor", "require_trigger", "denial",
            "description"}
TRIGGER_LEVELS = {"weak": 1.0, "medium": 2.0, "strong": 3.0}
FIELDS = ("any", "title", "text")
DEFAULT_THRESHOLD = 3.0
_CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
FILE_KEYS = ("language", "categories", "actors", "genre")
# ISO 639-1 (the two-letter codes): what a keyword file's `language` and language detection use
ISO_639_1 = frozenset((
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh", "bi", "bm",
    "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da", "de", "dv", "dz", "ee",
    "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy", "ga", "gd", "gl", "gn", "gu",
    "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is",
    "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw",
    "ky", "la", "lb", "lg", "li", "ln", "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms",
    "mt", "my", "na", "nb", "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os",
    "pa", "pi", "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk",
    "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl",
    "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi",
    "yo", "za", "zh", "zu",
))

# the three-letter codes people write instead (ISO 639-2/B and /T), for the "did you mean"
ISO_639_2 = {
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "por": "pt", "rus": "ru",
    "ara": "ar", "zho": "zh", "chi": "zh", "vie": "vi", "ind": "id", "ita": "it", "nld": "nl", "dut": "nl",
    "pol": "pl", "tur": "tr", "jpn": "ja", "kor": "ko", "hin": "hi", "tha": "th", "ukr": "uk", "fas": "fa",
    "per": "fa", "msa": "ms", "may": "ms", "swe": "sv", "ces": "cs", "cze": "cs", "ell": "el", "gre": "el",
    "heb": "he", "ron": "ro", "rum": "ro", "hun": "hu", "fil": "tl", "tgl": "tl", "ben": "bn", "urd": "ur",
}


def closest(word: str, choices: Any) -> str | None:
    """The closest of `choices` to a misspelt `word`, or None when none is close."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Any) -> str:
    """' (did you mean "x"?)' for the closest of `choices`, or "" when none is close."""
    close = closest(word, choices)
    return f' (did you mean "{close}"?)' if close else ""


@dataclass(frozen=True, slots=True)
class Term:
    """One compiled rule term (or entity alias, kind "entity"; actor, kind "actor"; genre marker,
    kind "genre"; one side of a NEAR rule, kind "near")."""

    category: str          # "" for entity aliases, actors and genre markers
    term: str              # as written in the file, e.g. "*ausfall"
    pattern: str           # folded, wildcards stripped: what the automaton looks for
    language: str          # "*" for language-neutral rules
    weight: float
    kind: str              # strong | trigger | context | negative | veto | entity | actor | genre | near
    field: str             # any | title | text
    left: bool             # needs a word boundary before the pattern
    right: bool            # needs a word boundary after the pattern
    entity: str = ""       # canonical entity name (kind "entity"), genre name (kind "genre")
    words: tuple[tuple[str, str | None], ...] = ()   # stemmed term: (folded word, its stem or None
                                                      # when matched as written), checked at each hit
    near: int = -1         # kind "near": index of its rule in RuleSet.near
    side: int = 0          # kind "near": 0 for the left operand, 1 for the right one; a rule: 1 for PRE/n
    distance: int = 0      # a NEAR rule (RuleSet.near): at most this many words between the operands
    anchor: int = 0        # stemmed term: the word the automaton looks for


@dataclass(frozen=True, slots=True)
class CategorySettings:
    threshold: float
    title_weight: float
    require_context: bool
    require_entity: bool
    require_actor: bool = True
    denial: bool = False       # its strong hits deny: other categories' evidence in that sentence is void
    require_trigger: float = 1.0   # the weight of the heaviest trigger needed: 2 = a medium or strong one


@dataclass(frozen=True)
class RuleSet:
    """Compiled rules; immutable, safe to share between threads. Build with `load_ruleset`."""

    categories: tuple[str, ...]
    files: tuple[Path, ...]
    languages: frozenset[str]                 # languages that have their own rules
    terms: tuple[Term, ...]
    entities: tuple[str, ...]                 # canonical watchlist names
    _settings: dict[tuple[str, str], CategorySettings] = field(repr=False)
    _automata: dict[str | None, Any] = field(repr=False, default_factory=dict)
    near: tuple[Term, ...] = ()               # NEAR rules, each the Term a pair of operand hits scores as

    def settings(self, language: str | None, category: str) -> CategorySettings:
        key = (language if language in self.languages else "*", category)
        return self._settings.get(key) or self._settings[("*", category)]

    def automaton(self, language: str | None) -> Any:
        """The automaton for `language`'s rules plus language-neutral rules and entities; for a
        language without rules of its own (or None), every rule."""
        key = language if language in self.languages else None
        return self._automata[key]


class _Collector:
    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []

    def add(self, file: Path | str, line: int | None, path: str, message: str) -> None:
        self.problems.append(ConfigProblem(str(file), line, path, message))


def _line(node: Any, key: Any = None, index: int | None = None) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is not None:
            return int(lc.key(key)[0]) + 1
        if index is not None:
            return int(lc.item(index)[0]) + 1
        return int(lc.line) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _read_yaml(path: Path, errors: _Collector) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        errors.add(path, None, "", "no such file")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        errors.add(path, None, "", f"cannot read: {exc}")
        return None
    try:
        return fast_load(text)
    except YamlSyntaxError as exc:
        errors.add(path, exc.line, "", f"invalid YAML: {exc.reason}")
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compile_term(raw: str, category: str, language: str, weight: float, kind: str, fld: str,
                 entity: str = "", stem: Callable[[str], str] | None = None) -> Term | str:
    """Compile one term; returns the Term or a problem message. With `stem` (the language's
    stemmer) a term without wildcards matches every form of its words that has the same stems."""
    text = raw.strip()
    exact = text.startswith("=")   # "=autor": as written, never by stem ("autoridade" stems to "autor")
    if exact:
        text = text[1:].strip()
    if not text:
        return "empty term"
    left_wild = text.startswith("*")
    right_wild = text.endswith("*") and len(text) > 1
    core = text.strip("*")
    if "*" in core:
        return f'term "{raw}": "*" is only allowed at the start or end of a term'
    pattern = " ".join(fold_piece(core).split())
    if not pattern:
        return f'term "{raw}" has nothing to match'
    if len(pattern) < 2 and not is_unbounded_script(pattern[0]):
        return f'term "{raw}" is too short (one character)'
    left = not left_wild and is_word_char(pattern[0]) and not is_unbounded_script(pattern[0])
    right = not right_wild and is_word_char(pattern[-1]) and not is_unbounded_script(pattern[-1])
    if stem is not None and not (exact or left_wild or right_wild) and left and right:
        words: list[tuple[str, str | None]] = []
        split = pattern.split(" ")
        for w in split:
            # in a phrase, short words ("the", "de", "не") are matched as written: they hardly inflect
            if (len(split) == 1 or len(w) > 3) and all(is_word_char(c) and not is_unbounded_script(c) for c in w):
                st = stem(w)
                words.append((w, st) if match_prefix(w, st) else (w, None))
            else:
                words.append((w, None))
        if any(st is not None for _, st in words):
            # the automaton looks for the most telling word (the longest literal word or stem prefix;
            # "bericht" in "einen bericht"); the words around it are checked at each hit
            keys = [w if st is None else lookup_prefix(match_prefix(w, st)) for w, st in words]
            # (a word written with an apostrophe or other non-word character cannot anchor: the
            # matcher reads the text's word at a hit as a run of word characters)
            plain = [i for i, k in enumerate(keys) if k and all(is_word_char(c) for c in k)] or [0]
            anchor = max(plain, key=lambda i: (len(keys[i]), -i))
            return Term(category, raw, keys[anchor], language, weight, kind, fld, True, False, entity,
                        tuple(words), anchor=anchor)
    return Term(category, raw, pattern, language, weight, kind, fld, left, right, entity)


_NEAR = re.compile(r"\s*(.+?)\s+(NEAR|PRE)/(\d+)\s+(.+?)\s*\Z")


def _operands(side: str) -> list[str]:
    side = side.strip()
    if side.startswith("(") and side.endswith(")"):
        side = side[1:-1]
    return [a.strip() for a in side.split("|")]


def compile_near(raw: str, category: str, language: str, weight: float, kind: str, fld: str,
                 index: int, stem: Callable[[str], str] | None) -> tuple[Term, list[Term]] | str | None:
    """`A NEAR/n B` (A, B: a term or `(term|term|...)`): both within n words, in either order, in one
    sentence; `A PRE/n B`: A comes first. Returns (the rule, its operand terms), a problem message, or None if `raw` has no NEAR."""
    m = _NEAR.match(raw)
    if m is None:
        if "NEAR/" in raw.upper() or "PRE/" in raw.upper():
            return f'term "{raw}": write a proximity rule as `A NEAR/5 B`, `A PRE/5 B` or `(a|b) NEAR/5 (c|d)`'
        return None
    op, distance = m.group(2), int(m.group(3))
    if not 0 < distance <= 50:
        return f'term "{raw}": {op}/{distance} must be between {op}/1 and {op}/50'
    operands: list[Term] = []
    for side, group in enumerate((m.group(1), m.group(4))):
        for alt in _operands(group):
            if not alt or "NEAR/" in alt.upper() or "PRE/" in alt.upper():
                return f'term "{raw}": each side of {op} is a term or (term|term|...)'
            compiled = compile_term(alt, category, language, 0.0, "near", fld, stem=stem)
            if isinstance(compiled, str):
                return f'term "{raw}": {compiled}'
            operands.append(replace(compiled, near=index, side=side))
    # PRE/n: the left operand comes first (side 1 on the rule marks the order)
    rule = Term(category, raw, raw, language, weight, kind, fld, False, False, distance=distance,
                side=1 if op == "PRE" else 0)
    return rule, operands


def _parse_term(item: Any, seq: Any, idx: int, group: str, where: str, ctx: dict[str, Any],
                errors: _Collector) -> list[Term]:
    """The compiled term (or a NEAR rule's operand terms, the rule itself going to ctx["near"])."""
    kind, weight = GROUPS[group]
    file, line = ctx["file"], _line(seq, index=idx) or ctx["line"]
    path = f"{where}[{idx}]"
    fld = "any"
    if isinstance(item, str):
        raw = item
    elif isinstance(item, dict) and "term" in item:
        unknown = sorted(set(item) - {"term", "weight", "field"})
        if unknown:
            errors.add(file, line, path, f'unknown key "{unknown[0]}" (expected term, weight, field)')
            return []
        raw = item["term"]
        weight = item.get("weight", weight)
        fld = item.get("field", "any")
    elif isinstance(item, dict) and len(item) == 1:
        raw, weight = next(iter(item.items()))
    else:
        errors.add(file, line, path, "expected a term, `term: weight` or {term, weight, field}")
        return []
    if not isinstance(raw, str):
        errors.add(file, line, path, f"term must be text, got {raw!r}")
        return []
    if not _is_number(weight):
        errors.add(file, line, path, f'term "{raw}": weight must be a number, got {weight!r}')
        return []
    if kind not in ("veto", "actor") and weight <= 0:
        errors.add(file, line, path, f'term "{raw}": weight must be greater than 0')
        return []
    if fld not in FIELDS:
        errors.add(file, line, path, f'term "{raw}": field must be "any", "title" or "text", got {fld!r}')
        return []
    if kind in ("strong", "trigger", "negative", "veto"):
        near = compile_near(raw, ctx["category"], ctx["language"], float(weight), kind, fld,
                            len(ctx["near"]), ctx["stem"])
        if isinstance(near, str):
            errors.add(file, line, path, near)
            return []
        if near is not None:
            ctx["near"].append(near[0])
            return near[1]
    compiled = compile_term(raw, ctx["category"], ctx["language"], float(weight), kind, fld, stem=ctx["stem"])
    if isinstance(compiled, str):
        errors.add(file, line, path, compiled)
        return []
    return [compiled]


def _parse_keyword_file(path: Path, data: Any, errors: _Collector, terms: list[Term],
                        settings: list[tuple[str, str, dict[str, Any]]], near: list[Term]) -> None:
    if not isinstance(data, dict):
        errors.add(path, _line(data) if data is not None else 1, "",
                   "expected a mapping with keys language and categories")
        return
    for key in data:
        if key not in FILE_KEYS:
            errors.add(path, _line(data, key=key), str(key),
                       f'unknown key "{key}"{did_you_mean(str(key), FILE_KEYS)} (expected {", ".join(FILE_KEYS)})')
    language = data.get("language")
    if language is None:
        errors.add(path, _line(data), "language", "missing (an ISO 639-1 code such as en, or *)")
        return
    if not isinstance(language, str) or not (language == "*" or language in ISO_639_1):
        code = ISO_639_2.get(str(language).lower())
        hint = (f' (did you mean "{code}"?)' if code else did_you_mean(str(language).lower(), ISO_639_1)
                if isinstance(language, str) else "")
        errors.add(path, _line(data, key="language"), "language",
                   f"{language!r} is not an ISO 639-1 code (such as en) or *{hint}")
        language = "*"   # go on: every other problem of the file is reported in the same pass
    stem = stemmer(language) if language != "*" else None
    for key, kind in (("actors", "actor"), ("genre", "genre")):
        if key not in data:
            continue
        value, kline = data[key], _line(data, key=key)
        lists = {"": value} if kind == "actor" else value
        if kind == "actor" and not isinstance(value, list):
            errors.add(path, kline, key, "expected a list of terms")
            continue
        if kind == "genre" and not (isinstance(value, dict) and all(isinstance(v, list) for v in value.values())):
            errors.add(path, kline, key, "expected a mapping of genre name (review, screen, sport...) to a list of terms")
            continue
        for gname, seq in lists.items():
            where = f"{key}.{gname}" if gname else key
            for idx, item in enumerate(seq):
                line = _line(seq, index=idx) or kline
                if not isinstance(item, str):
                    errors.add(path, line, f"{where}[{idx}]", f"expected a term, got {item!r}")
                    continue
                if kind == "genre":
                    # a proximity marker ("vor PRE/1 Jahren": "vor 20 Jahren", "hace PRE/1 años"): a number
                    # or a word between, which no literal marker can spell
                    prox = compile_near(item, "", language, 1.0, kind, "any", len(near), stem)
                    if isinstance(prox, str):
                        errors.add(path, line, f"{where}[{idx}]", prox)
                        continue
                    if prox is not None:
                        near.append(replace(prox[0], entity=str(gname)))
                        terms.extend(prox[1])
                        continue
                compiled = compile_term(item, "", language, 1.0, kind, "any", entity=str(gname), stem=stem)
                if isinstance(compiled, str):
                    errors.add(path, line, f"{where}[{idx}]", compiled)
                else:
                    terms.append(compiled)
    cats = data.get("categories")
    if not isinstance(cats, dict) or not cats:
        errors.add(path, _line(data, key="categories") if "categories" in data else _line(data),
                   "categories", "expected a mapping of category name to terms")
        return
    for name, body in cats.items():
        cline = _line(cats, key=name)
        where = f"categories.{name}"
        if not isinstance(name, str) or not _CATEGORY_NAME.match(name):
            errors.add(path, cline, where, f'invalid category name "{name}": use lowercase letters, digits and _')
            continue
        if not isinstance(body, dict):
            errors.add(path, cline, where, "expected a mapping of groups (strong, medium, weak, context, negative, veto)")
            continue
        cat_settings: dict[str, Any] = {}
        for key, value in body.items():
            kline = _line(body, key=key) or cline
            kpath = f"{where}.{key}"
            if key in GROUPS:
                if not isinstance(value, list):
                    errors.add(path, kline, kpath, "expected a list of terms")
                    continue
                ctx = {"file": path, "line": kline, "category": name, "language": language, "stem": stem,
                       "near": near}
                for idx, item in enumerate(value):
                    terms.extend(_parse_term(item, value, idx, key, kpath, ctx, errors))
            elif key in ("threshold", "title_weight"):
                low_ok = key == "title_weight"
                if not _is_number(value) or value < (1 if low_ok else 0) or (value == 0 and not low_ok):
                    need = "a number >= 1" if low_ok else "a number greater than 0"
                    errors.add(path, kline, kpath, f"must be {need}, got {value!r}")
                else:
                    cat_settings[key] = float(value)
            elif key == "require_trigger":
                if value not in TRIGGER_LEVELS:
                    errors.add(path, kline, kpath, f"must be weak, medium or strong, got {value!r}"
                               + did_you_mean(str(value), TRIGGER_LEVELS))
                else:
                    cat_settings[key] = TRIGGER_LEVELS[value]
            elif key in ("require_context", "require_actor", "denial"):
                if not isinstance(value, bool):
                    errors.add(path, kline, kpath, f"must be true or false, got {value!r}")
                else:
                    cat_settings[key] = value
            elif key == "description":
                continue
            else:
                errors.add(path, kline, kpath, f'unknown key "{key}"{did_you_mean(str(key), [*GROUPS, *SETTINGS])}'
                           ' (expected one of: ' + ", ".join([*GROUPS, *sorted(SETTINGS)]) + ")")
        settings.append((language, name, {**cat_settings,
                                          "_file_actors": bool(data.get("actors")) or "actors" in body}))


def _parse_entities_file(path: Path, data: Any, errors: _Collector, out: list[tuple[str, list[str]]]) -> None:
    if not isinstance(data, dict) or set(data) != {"entities"} or not isinstance(data["entities"], list):
        errors.add(path, _line(data) if data is not None else 1, "",
                   "expected a mapping with one key, entities: a list of {name, aliases}")
        return
    seq = data["entities"]
    for idx, item in enumerate(seq):
        line = _line(seq, index=idx)
        where = f"entities[{idx}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            errors.add(path, line, where, "expected {name: ..., aliases: [...]} with a non-empty name")
            continue
        unknown = sorted(set(item) - {"name", "aliases"})
        if unknown:
            errors.add(path, line, where, f'unknown key "{unknown[0]}" (expected name, aliases)')
            continue
        aliases = item.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            errors.add(path, line, f"{where}.aliases", "expected a list of non-empty names")
            continue
        out.append((item["name"].strip(), [str(a) for a in aliases]))


def _expand(entry: str, base_dir: Path, errors: _Collector) -> list[Path]:
    path = (base_dir / entry).resolve() if not Path(entry).is_absolute() else Path(entry)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if path.is_file():
        return [path]
    errors.add(path, None, "", "no such file or directory")
    return []


def load_ruleset(cfg: ClassifyConfig, base_dir: Path) -> RuleSet:
    """Load, validate and compile the keyword files `cfg` names. All-or-nothing: returns a new
    RuleSet or raises KeywordError listing every problem."""
    from monitor.classify.matcher import build_automata

    errors = _Collector()
    keyword_files: list[Path] = []
    entity_files: list[Path] = []
    if cfg.defaults:
        for p in sorted(DEFAULTS_DIR.glob("*.yaml")):
            (entity_files if p.name == ENTITIES_FILE else keyword_files).append(p)
    for entry in cfg.keywords:
        keyword_files.extend(_expand(entry, base_dir, errors))
    if cfg.watchlist:
        entity_files.extend(_expand(cfg.watchlist, base_dir, errors))

    terms: list[Term] = []
    near: list[Term] = []
    settings: list[tuple[str, str, dict[str, Any]]] = []
    wanted = set(cfg.languages) if cfg.languages is not None else None
    for path in keyword_files:
        data = _read_yaml(path, errors)
        if data is None and errors.problems and errors.problems[-1].file == str(path):
            continue
        file_terms: list[Term] = []
        file_settings: list[tuple[str, str, dict[str, Any]]] = []
        _parse_keyword_file(path, data, errors, file_terms, file_settings, near)
        lang = data.get("language") if isinstance(data, dict) else None
        if wanted is not None and lang != "*" and lang not in wanted:
            continue  # validated, but not used
        terms.extend(file_terms)
        settings.extend(file_settings)

    entity_defs: list[tuple[str, list[str]]] = []
    for path in entity_files:
        data = _read_yaml(path, errors)
        if data is not None:
            _parse_entities_file(path, data, errors, entity_defs)
    entity_defs.extend((e.name, list(e.aliases)) for e in cfg.entities)

    categories = sorted({t.category for t in terms if t.category} | {name for _, name, _ in settings})
    for name in cfg.categories:
        if name not in categories:
            errors.add("config", None, f"classify.categories.{name}",
                       f'unknown category "{name}" (known: {", ".join(categories) or "none"})')
    entity_names: list[str] = []
    for name, aliases in entity_defs:
        if name not in entity_names:
            entity_names.append(name)
        for alias in dict.fromkeys([name, *aliases]):
            compiled = compile_term(alias, "", "*", 0.0, "entity", "any", entity=name)
            if isinstance(compiled, str):
                errors.add("config", None, "classify.entities", f"{name}: {compiled}")
            else:
                terms.append(compiled)
    if errors.problems:
        raise KeywordError(errors.problems)

    disabled = {n for n, c in cfg.categories.items() if not c.enabled}
    categories = [c for c in categories if c not in disabled]
    terms = [t for t in terms if t.category not in disabled]
    languages = frozenset(t.language for t in terms if t.language != "*" and t.kind != "entity")
    for lang in sorted(languages):   # entity names inflect too: "Сбербанка" is Сбербанк
        stem = stemmer(lang)
        if stem is not None:
            for t in [t for t in terms if t.kind == "entity" and t.language == "*" and len(t.pattern) >= 5]:
                inflected = compile_term(t.term, "", lang, 0.0, "entity", "any", entity=t.entity, stem=stem)
                if isinstance(inflected, Term) and inflected.words:
                    terms.append(inflected)
    actor_langs = {t.language for t in terms if t.kind == "actor"}
    actor_cats = {name for _, name, values in settings if values.get("_file_actors")}
    resolved: dict[tuple[str, str], CategorySettings] = {}
    for lang in ["*", *sorted(languages)]:
        for cat in categories:
            merged: dict[str, Any] = {"threshold": DEFAULT_THRESHOLD, "title_weight": cfg.title_weight,
                                      "require_context": False, "require_actor": True, "denial": False,
                                      "require_trigger": 1.0}
            for slang, sname, values in settings:
                if sname == cat and slang == "*":
                    merged.update(values)
            for slang, sname, values in settings:
                if sname == cat and slang == lang and lang != "*":
                    merged.update(values)
            over = cfg.categories.get(cat)
            if over is not None:
                if over.threshold is not None:
                    merged["threshold"] = over.threshold
                if over.title_weight is not None:
                    merged["title_weight"] = over.title_weight
            resolved[(lang, cat)] = CategorySettings(
                threshold=merged["threshold"], title_weight=merged["title_weight"],
                require_context=merged["require_context"],
                require_entity=bool(over and over.require_entity),
                denial=merged["denial"], require_trigger=merged["require_trigger"],
                # evidence must be tied to an actor where the language's rules name actors
                # evidence must be tied to an actor when a file defining the category names actors
                # (a user's own category in a file without `actors:` matches as written)
                require_actor=merged["require_actor"] and cat in actor_cats
                and (lang in actor_langs or "*" in actor_langs),
            )
    files = tuple(dict.fromkeys([*keyword_files, *entity_files]))
    all_terms = tuple(terms)
    return RuleSet(
        categories=tuple(categories), files=files, languages=languages, terms=all_terms,
        entities=tuple(entity_names), near=tuple(near), _settings=resolved,
        _automata=build_automata(all_terms, languages),
    )
