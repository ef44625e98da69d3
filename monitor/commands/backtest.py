"""`newsmon backtest FILE_OR_DIR`: run the rules over labelled examples and report how well they do.

    newsmon backtest tests/data/eval/tune/ [-c config.yaml] [--format text|json]
                     [--fail-under F1] [--max-false-alarms N] [--against DIR]

Examples are JSONL (a directory means every *.jsonl in it), one object per line:
    {"id": "en-001", "language": "en", "title": "...", "text": "...", "labels": ["outage"]}
`path` (relative to the JSONL file) may replace `text`; `title` is optional (then the first non-empty
line of the text is the title, as `check` does for plain text). Optional keys: `kind` (positive, hard
or ordinary), `hard_kind` (for hard negatives: genre, sense, background, ...), `style`, `note`.
An example whose `labels` are empty is a *negative*.

Every problem is reported in one pass, as `file:line: reason`, and nothing is measured (exit 2): bad
JSON, missing keys, a `labels` entry no rule defines (`unknown label "outgae" (did you mean
"outage"?; known: fraud, outage, rumor)`), a duplicate id, an input without any example (`DIR: no
examples`), and invalid config or keyword files.

The report:
- per category: precision, recall, F1, tp/fp/fn, and false alarms per 1,000: of the examples without
  that label, how many got the category, per 1,000 of them;
- per language: precision, recall, F1 (all categories pooled), macro-F1 (the mean over categories of
  each category's F1 within the language; a category with no positives and no false positives there
  counts as 1.0), and false alarms per 1,000 negatives of that language;
- macro-F1 (the mean of the per-category F1) and false alarms per 1,000 negatives (a false alarm is a
  negative with any category flagged);
- when examples carry `kind`/`hard_kind`: false alarms per hard kind (genre, sense, background, ...)
  and for ordinary negatives;
- every false positive and false negative: score against threshold, the classifier's one-line reason
  (`Classification.reasons`), and the matches that counted (term, text as written, weight, actor).

Gates, checked after the report is printed (the reason goes to stderr, exit 1):
- `--fail-under F1`: macro-F1, or the macro-F1 of any language, is below F1 (as printed, 3 decimals);
- `--max-false-alarms N`: false alarms per 1,000 negatives exceed N (a set without negatives fails
  this gate: nothing measures it).

`--against DIR` compares candidate rules with the rules in force: every *.yaml in DIR is loaded
*instead of* the config's own `classify.keywords` files (the shipped defaults stay on unless the config
says `defaults: false`; its other classify settings apply to both). Both rule sets run on the same
examples, over the categories either defines; the report is the candidate's, followed by both
summaries side by side (macro-F1 and F1 per category and language, false alarms per 1,000) and every
example whose flagged categories changed, as `fixed|broken|changed  id [lang] before -> after (label:
...)`: fixed = wrong before and right after, broken = right before and wrong after, changed = wrong
both times. The gates apply to the candidate.

`--format json` prints one object with all of the above: `examples`, `negatives`, `categories` and
`languages` (tp, fp, fn, precision, recall, f1), `macro_f1`, `language_macro_f1`, `false_alarms`
(`overall`, `categories`, `languages`, `kinds`: each {count, of, per_1000}), `errors`, `gates`, and with
--against `against` ({dir, before: the same summary for the rules in force, changes}).

Exit codes: 0 done (gates passed), 1 a gate failed, 2 invalid examples, config or keyword files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.classify import ClassifyConfig, RuleSet, classify, clean_plaintext, load_ruleset
from monitor.classify.rules import closest
from monitor.commands.check import split_plaintext
from monitor.errors import ConfigError, ConfigProblem
from monitor.models import Classification

HELP = "measure the keyword rules on labelled examples (precision, recall, F1, false alarms, errors)"

KEYS = {"id", "language", "title", "text", "path", "labels", "note", "kind", "hard_kind", "style"}
KINDS = ("positive", "hard", "ordinary")
HARD_KINDS = ("genre", "sense", "background")  # shown first, in this order; others follow sorted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("examples", metavar="FILE_OR_DIR", help="JSONL file, or a directory of *.jsonl")
    parser.add_argument("-c", "--config", help="config.yaml (default: ./config.yaml if present)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--fail-under", type=_fraction, metavar="F1",
                        help="exit 1 when macro-F1 (overall or of any language) is below F1 (0..1)")
    parser.add_argument("--max-false-alarms", type=_non_negative, metavar="N",
                        help="exit 1 when false alarms per 1,000 negatives exceed N")
    parser.add_argument("--against", metavar="DIR",
                        help="candidate keyword directory: compare its rules with the rules in force")


def _fraction(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0: {text!r}")
    return value


# -- examples -----------------------------------------------------------------------------------------


@dataclass
class Example:
    id: str
    language: str | None
    title: str
    text: str
    labels: list[str]
    kind: str | None = None
    hard_kind: str | None = None
    where: str = ""            # file:line

    @property
    def group(self) -> str | None:
        """The false-alarm group of a negative: its hard_kind, "ordinary", or None (no kind given)."""
        if self.kind == "hard":
            return self.hard_kind or "hard"
        return self.kind


class ExampleError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def unknown_label(label: str, known: Iterable[str]) -> str:
    choices = sorted(known)
    close = closest(label, choices)
    hint = f'did you mean "{close}"?; ' if close else ""
    return f'unknown label "{label}" ({hint}known: {", ".join(choices) or "none"})'


def read_examples(target: Path, known: Iterable[str] | None = None) -> tuple[list[Example], list[str]]:
    """Every example in `target`, and every problem (`file:line: reason`). With `known` (the categories
    the rules define), a label outside it is a problem."""
    known_set = set(known) if known is not None else None
    if not target.exists():
        return [], [f"{target}: no such file or directory"]
    files = sorted(target.glob("*.jsonl")) if target.is_dir() else [target]
    if not files:
        return [], [f"{target}: no examples (no *.jsonl file in the directory)"]
    examples: list[Example] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    lines = 0
    for path in files:
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {exc}")
            continue
        for no, line in enumerate(content.splitlines(), 1):
            if not line.strip():
                continue
            lines += 1
            where = f"{path}:{no}"
            example = _parse_line(line, where, path, known_set, seen, problems)
            if example is not None:
                examples.append(example)
    if not lines and not problems:
        problems.append(f"{target}: no examples")
    return examples, problems


def _parse_line(line: str, where: str, path: Path, known: set[str] | None, seen: dict[str, str],
                problems: list[str]) -> Example | None:
    try:
        rec = json.loads(line)
    except ValueError as exc:
        problems.append(f"{where}: invalid JSON: {getattr(exc, 'msg', exc)}")
        return None
    if not isinstance(rec, dict):
        problems.append(f"{where}: expected an object")
        return None
    unknown = sorted(set(rec) - KEYS)
    if unknown:
        problems.append(f'{where}: unknown key "{unknown[0]}"')
        return None
    labels = rec.get("labels")
    if not isinstance(rec.get("id"), str) or not isinstance(labels, list) \
            or not all(isinstance(x, str) for x in labels):
        problems.append(f'{where}: "id" (text) and "labels" (list of categories) are required')
        return None
    ok = True
    if rec["id"] in seen:
        problems.append(f'{where}: duplicate id "{rec["id"]}" (first at {seen[rec["id"]]})')
        ok = False
    seen.setdefault(rec["id"], where)
    if known is not None:
        for label in dict.fromkeys(labels):
            if label not in known:
                problems.append(f"{where}: {unknown_label(label, known)}")
                ok = False
    for key in ("language", "title", "hard_kind"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            problems.append(f'{where}: "{key}" must be text')
            ok = False
    if rec.get("kind") is not None and rec["kind"] not in KINDS:
        problems.append(f'{where}: "kind" must be one of {", ".join(KINDS)} (not {json.dumps(rec["kind"])})')
        ok = False
    if "text" in rec:
        raw = rec["text"]
        if not isinstance(raw, str):
            problems.append(f'{where}: "text" must be text')
            return None
    elif "path" in rec:
        src = path.parent / str(rec["path"])
        if not src.is_file():
            problems.append(f"{where}: {rec['path']}: no such file")
            return None
        raw = src.read_text(encoding="utf-8", errors="replace")
    else:
        problems.append(f'{where}: "text" or "path" is required')
        return None
    if not ok:
        return None
    if "title" in rec:
        title, text = str(rec["title"]), clean_plaintext(raw)
    else:
        title, text = split_plaintext(raw)
    return Example(rec["id"], rec.get("language"), title, text, list(dict.fromkeys(labels)),
                   rec.get("kind"), rec.get("hard_kind"), where)


def load_examples(target: Path, known: Iterable[str] | None = None) -> list[Example]:
    """Read examples; raises ExampleError listing every problem as `file:line: reason`."""
    examples, problems = read_examples(target, known)
    if problems:
        raise ExampleError(problems)
    return examples


# -- rules --------------------------------------------------------------------------------------------


def classify_settings(config: str | None) -> tuple[ClassifyConfig, Path]:
    """The config's classify section and the directory its paths are relative to (as `check` reads it:
    `-c`, else ./config.yaml when present, else the shipped defaults). Raises ConfigError."""
    path = Path(config) if config else Path("config.yaml")
    if config or path.is_file():
        from monitor.config import load_config

        return load_config(path).classify, path.resolve().parent
    return ClassifyConfig(), Path.cwd()


def candidate_rules(cfg: ClassifyConfig, base_dir: Path, keywords_dir: str | Path) -> RuleSet:
    """The rules with every *.yaml in `keywords_dir` loaded instead of `cfg.keywords` (the shipped
    defaults as `cfg.defaults` says). Raises ConfigError (KeywordError for the keyword files)."""
    folder = Path(keywords_dir)
    if not folder.is_dir():
        raise ConfigError([ConfigProblem(str(folder), None, "", "no such directory (want a directory of *.yaml keyword files)")])
    files = sorted(p for p in folder.glob("*.yaml") if p.is_file())
    if not files:
        raise ConfigError([ConfigProblem(str(folder), None, "", "no *.yaml keyword files in the directory")])
    return load_ruleset(cfg.model_copy(update={"keywords": [str(p.resolve()) for p in files]}), base_dir)


# -- measuring ----------------------------------------------------------------------------------------


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 3),
                "recall": round(self.recall, 3), "f1": round(self.f1, 3)}


@dataclass
class Rate:
    """`count` false alarms among `of` examples that could raise one."""

    count: int = 0
    of: int = 0

    @property
    def per_1000(self) -> float | None:
        return 1000 * self.count / self.of if self.of else None

    def as_dict(self) -> dict[str, Any]:
        per = self.per_1000
        return {"count": self.count, "of": self.of, "per_1000": round(per, 1) if per is not None else None}

    def text(self) -> str:
        per = self.per_1000
        return "-" if per is None else f"{per:.1f}"


@dataclass
class Report:
    categories: dict[str, Counts] = field(default_factory=dict)
    languages: dict[str, Counts] = field(default_factory=dict)
    by_language: dict[str, dict[str, Counts]] = field(default_factory=dict)   # language -> category -> counts
    errors: list[dict[str, Any]] = field(default_factory=list)
    examples: int = 0
    false_alarms: Rate = field(default_factory=Rate)                           # negatives with any category
    category_false_alarms: dict[str, Rate] = field(default_factory=dict)
    language_false_alarms: dict[str, Rate] = field(default_factory=dict)
    kind_false_alarms: dict[str, Rate] = field(default_factory=dict)
    outcomes: dict[str, list[str]] = field(default_factory=dict)              # example id -> flagged

    @property
    def negatives(self) -> int:
        return self.false_alarms.of

    @property
    def macro_f1(self) -> float | None:
        if not self.categories:
            return None
        return sum(c.f1 for c in self.categories.values()) / len(self.categories)

    def language_macro_f1(self) -> dict[str, float]:
        return {lang: sum(c.f1 for c in cats.values()) / len(cats)
                for lang, cats in sorted(self.by_language.items()) if cats}

    def summary(self) -> dict[str, Any]:
        macro = self.macro_f1
        return {
            "examples": self.examples,
            "negatives": self.negatives,
            "categories": {k: v.as_dict() for k, v in self.categories.items()},
            "languages": {k: v.as_dict() for k, v in sorted(self.languages.items())},
            "macro_f1": round(macro, 3) if macro is not None else None,
            "language_macro_f1": {k: round(v, 3) for k, v in self.language_macro_f1().items()},
            "false_alarms": {
                "overall": self.false_alarms.as_dict(),
                "categories": {k: v.as_dict() for k, v in self.category_false_alarms.items()},
                "languages": {k: v.as_dict() for k, v in sorted(self.language_false_alarms.items())},
                "kinds": {k: v.as_dict() for k, v in _kind_order(self.kind_false_alarms)},
            },
        }


def _kind_order(kinds: dict[str, Rate]) -> list[tuple[str, Rate]]:
    def key(name: str) -> tuple[int, str]:
        if name in HARD_KINDS:
            return (HARD_KINDS.index(name), name)
        return (len(HARD_KINDS) + (name in ("ordinary", "positive")), name)
    return [(k, kinds[k]) for k in sorted(kinds, key=key)]


def evaluate(examples: list[Example], rules: RuleSet, categories: Iterable[str] | None = None) -> Report:
    """Measure `rules` on `examples` over `categories` (default: the rules' own; a category the rules
    do not define is never flagged)."""
    cats = list(categories) if categories is not None else list(rules.categories)
    report = Report(examples=len(examples))
    for cat in cats:
        report.categories[cat] = Counts()
        report.category_false_alarms[cat] = Rate()
    for ex in examples:
        result: Classification = classify(ex.title, ex.text, ex.language, rules)
        lang = ex.language or result.language or "?"
        flagged = [c for c in cats if c in result.categories]
        report.outcomes[ex.id] = flagged
        lang_counts = report.languages.setdefault(lang, Counts())
        per_cat = report.by_language.setdefault(lang, {c: Counts() for c in cats})
        if not ex.labels:
            lang_rate = report.language_false_alarms.setdefault(lang, Rate())
            rates = [report.false_alarms, lang_rate]
            if ex.group and ex.group != "positive":
                rates.append(report.kind_false_alarms.setdefault(ex.group, Rate()))
            for rate in rates:
                rate.of += 1
                rate.count += bool(flagged)
        else:
            report.language_false_alarms.setdefault(lang, Rate())
        for cat in cats:
            got, want = cat in flagged, cat in ex.labels
            if not want:
                report.category_false_alarms[cat].of += 1
                report.category_false_alarms[cat].count += got
            for counts in (report.categories[cat], lang_counts, per_cat[cat]):
                if got and want:
                    counts.tp += 1
                elif got:
                    counts.fp += 1
                elif want:
                    counts.fn += 1
            if got != want:
                report.errors.append(_error("FP" if got else "FN", ex, lang, cat, result, rules))
    return report


def _error(kind: str, ex: Example, lang: str, cat: str, result: Classification, rules: RuleSet) -> dict[str, Any]:
    matches = [m for m in result.matches if m.category == cat]
    threshold = rules.settings(result.language, cat).threshold if cat in rules.categories else None
    reason = result.reasons.get(cat) or (
        "the rules define no such category" if cat not in rules.categories
        else "no terms matched" if not matches
        else f"not flagged: score {result.scores.get(cat, 0.0):g} < {threshold:g}")
    return {
        "kind": kind, "id": ex.id, "language": lang, "category": cat,
        "score": result.scores.get(cat, 0.0), "threshold": threshold,
        "vetoed": result.vetoed.get(cat, []), "reason": reason,
        "labels": ex.labels, "flagged": list(result.categories), "where": ex.where,
        "terms": [{"term": m.term, "text": m.text, "field": m.field, "weight": m.weight, "actor": m.actor}
                  for m in matches],
        "title": ex.title[:100],
    }


# -- gates and comparison -----------------------------------------------------------------------------


def gate_failures(report: Report, fail_under: float | None, max_false_alarms: float | None) -> list[str]:
    failures = []
    if fail_under is not None:
        macro = report.macro_f1
        if macro is None or round(macro, 3) < fail_under:
            failures.append(f"macro-F1 {_f(macro)} is below --fail-under {fail_under:g}")
        for lang, value in report.language_macro_f1().items():
            if round(value, 3) < fail_under:
                failures.append(f"macro-F1 of language {lang} {value:.3f} is below --fail-under {fail_under:g}")
    if max_false_alarms is not None:
        fa = report.false_alarms
        per = fa.per_1000
        if per is None:
            failures.append("--max-false-alarms: no negatives (examples without labels) to measure false alarms on")
        elif per > max_false_alarms:
            failures.append(f"{per:.1f} false alarms per 1,000 negatives ({fa.count} of {fa.of}) exceed "
                            f"--max-false-alarms {max_false_alarms:g}")
    return failures


def changes(examples: list[Example], before: Report, after: Report) -> list[dict[str, Any]]:
    out = []
    for ex in examples:
        was, now = before.outcomes[ex.id], after.outcomes[ex.id]
        if set(was) == set(now):
            continue
        right_before, right_after = set(was) == set(ex.labels), set(now) == set(ex.labels)
        status = "fixed" if right_after and not right_before else "broken" if right_before else "changed"
        out.append({"status": status, "id": ex.id, "language": ex.language or "?", "before": was,
                    "after": now, "labels": ex.labels})
    return out


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _cats(names: list[str]) -> str:
    return ", ".join(names) or "(none)"


def comparison_lines(before: Report, after: Report, changed: list[dict[str, Any]], folder: str) -> list[str]:
    rows = [["", "before", "after"], ["macro-F1", _f(before.macro_f1), _f(after.macro_f1)]]
    for cat in after.categories:
        rows.append([f"  {cat} F1", _f(before.categories[cat].f1), _f(after.categories[cat].f1)])
    b_lang, a_lang = before.language_macro_f1(), after.language_macro_f1()
    for lang in a_lang:
        rows.append([f"  {lang} macro-F1", _f(b_lang.get(lang)), _f(a_lang[lang])])
    rows.append(["false alarms/1000", before.false_alarms.text(), after.false_alarms.text()])
    for kind, rate in _kind_order(after.kind_false_alarms):
        rows.append([f"  {kind}", before.kind_false_alarms.get(kind, Rate()).text(), rate.text()])
    from monitor.textutil import table

    counts = {s: sum(c["status"] == s for c in changed) for s in ("fixed", "broken", "changed")}
    lines = [f"before: the rules in force; after: {folder}", table(rows, numeric={1, 2}), "",
             f"{len(changed)} example(s) changed: {counts['fixed']} fixed, {counts['broken']} broken, "
             f"{counts['changed']} changed (wrong both times)"]
    for c in changed:
        lines.append(f"{c['status']:<7} {c['id']} [{c['language']}] {_cats(c['before'])} -> {_cats(c['after'])} "
                     f"(label: {', '.join(c['labels']) or 'none'})")
    return lines


# -- output -------------------------------------------------------------------------------------------


def report_lines(report: Report) -> list[str]:
    from monitor.textutil import table

    lines = [f"{report.examples} examples, {report.negatives} negatives (no labels)"]
    rows = [["category", "prec", "recall", "f1", "tp", "fp", "fn", "fa/1000"]]
    for name, c in report.categories.items():
        rows.append([name, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", str(c.tp), str(c.fp),
                     str(c.fn), report.category_false_alarms[name].text()])
    lines += [table(rows, numeric=set(range(1, 8))), ""]
    rows = [["language", "prec", "recall", "f1", "tp", "fp", "fn", "macro-f1", "fa/1000"]]
    macro = report.language_macro_f1()
    for name, c in sorted(report.languages.items()):
        rows.append([name, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", str(c.tp), str(c.fp),
                     str(c.fn), _f(macro.get(name)), report.language_false_alarms.get(name, Rate()).text()])
    lines += [table(rows, numeric=set(range(1, 9))), ""]
    lines.append(f"macro-F1 {_f(report.macro_f1)} (mean over {len(report.categories)} categories)")
    fa = report.false_alarms
    lines.append(f"false alarms: {fa.text()} per 1,000 negatives ({fa.count} of {fa.of} negatives flagged)")
    if report.kind_false_alarms:
        parts = [f"{k} {r.count}/{r.of} ({r.text()})" for k, r in _kind_order(report.kind_false_alarms)]
        lines.append("false alarms by kind (per 1,000): " + ", ".join(parts))
    lines.append("")
    for err in report.errors:
        terms = ", ".join(f"{t['term']}={t['text']!r}({t['weight']:+g}" + (f" @{t['actor']}" if t["actor"] else "") + ")"
                          for t in err["terms"]) or "no terms"
        veto = f" vetoed by {', '.join(err['vetoed'])};" if err["vetoed"] else ""
        what = "matched" if err["kind"] == "FP" else "near misses"
        threshold = f"{err['threshold']:g}" if err["threshold"] is not None else "-"
        lines.append(f"{err['kind']} {err['category']} {err['id']} [{err['language']}] score "
                     f"{err['score']:g}/{threshold};{veto} {what}: {terms}")
        lines.append(f"    reason: {err['reason']}")
        lines.append(f"    {err['title']}")
    return lines


def run(args: argparse.Namespace) -> int:
    problems: list[str] = []
    loaded: dict[str, RuleSet] = {}   # "before" (the rules in force), "after" (the candidate)
    wanted = ("before", "after") if args.against else ("before",)
    try:
        cfg, base_dir = classify_settings(args.config)
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
    else:
        for which in wanted:
            try:
                loaded[which] = (load_ruleset(cfg, base_dir) if which == "before"
                                 else candidate_rules(cfg, base_dir, args.against))
            except ConfigError as exc:
                problems += [str(p) for p in exc.problems]
    categories = list(dict.fromkeys(c for r in loaded.values() for c in r.categories))
    # labels are checked against the categories of every rule set, so only when all of them loaded
    known = categories if len(loaded) == len(wanted) else None
    examples, example_problems = read_examples(Path(args.examples), known)
    problems += example_problems
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        return 2
    report = evaluate(examples, loaded[wanted[-1]], categories)
    against: dict[str, Any] | None = None
    lines: list[str] = []
    if args.against:
        base_report = evaluate(examples, loaded["before"], categories)
        changed = changes(examples, base_report, report)
        against = {"dir": args.against, "before": base_report.summary(), "changes": changed}
        lines = ["", *comparison_lines(base_report, report, changed, args.against)]
    failures = gate_failures(report, args.fail_under, args.max_false_alarms)
    if args.format == "json":
        out = report.summary()
        out["errors"] = report.errors
        out["gates"] = {"fail_under": args.fail_under, "max_false_alarms": args.max_false_alarms,
                        "passed": not failures, "failures": failures}
        if against is not None:
            out["against"] = against
        print(json.dumps(out, ensure_ascii=False))
    else:
        print("\n".join(report_lines(report) + lines))
    for failure in failures:
        print(f"newsmon backtest: {failure}", file=sys.stderr)
    return 1 if failures else 0
