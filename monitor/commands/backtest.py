"""`newsmon backtest FILE_OR_DIR`: run the rules over labelled examples and report precision, recall
and F1 per category and per language, then every false positive (with the matches that caused it)
and false negative (with its partial score and near-miss terms).

Examples are JSONL (a directory means every *.jsonl in it), one object per line:
    {"id": "en-001", "language": "en", "title": "...", "text": "...", "labels": ["outage"]}
`path` (relative to the JSONL file) may replace `text`; `title` is optional (then the first non-empty
line of the text is the title, as `check` does for plain text). Exit codes: 0 done, 2 invalid examples,
config or keyword files.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.classify import RuleSet, classify, clean_plaintext
from monitor.commands.check import load_rules, split_plaintext
from monitor.models import Classification

HELP = "measure the keyword rules on labelled examples (precision, recall, F1, errors)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("examples", metavar="FILE_OR_DIR", help="JSONL file, or a directory of *.jsonl")
    parser.add_argument("-c", "--config", help="config.yaml (default: ./config.yaml if present)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


@dataclass
class Example:
    id: str
    language: str | None
    title: str
    text: str
    labels: list[str]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def as_dict(self) -> dict[str, float | int]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3)}


@dataclass
class Report:
    categories: dict[str, Counts] = field(default_factory=dict)
    languages: dict[str, Counts] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    examples: int = 0


class ExampleError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_examples(target: Path) -> list[Example]:
    """Read examples; raises ExampleError listing every bad line as `file:line: reason`."""
    files = sorted(target.glob("*.jsonl")) if target.is_dir() else [target]
    if not target.exists():
        raise ExampleError([f"{target}: no such file or directory"])
    examples: list[Example] = []
    problems: list[str] = []
    for path in files:
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{no}"
            try:
                rec = json.loads(line)
            except ValueError as exc:
                problems.append(f"{where}: invalid JSON: {exc.msg}")
                continue
            if not isinstance(rec, dict):
                problems.append(f"{where}: expected an object")
                continue
            unknown = sorted(set(rec) - {"id", "language", "title", "text", "path", "labels", "note", "kind", "hard_kind", "style"})
            if unknown:
                problems.append(f'{where}: unknown key "{unknown[0]}"')
                continue
            labels = rec.get("labels")
            if not isinstance(rec.get("id"), str) or not isinstance(labels, list) \
                    or not all(isinstance(x, str) for x in labels):
                problems.append(f'{where}: "id" (text) and "labels" (list of categories) are required')
                continue
            if "text" in rec:
                raw = rec["text"]
            elif "path" in rec:
                src = path.parent / rec["path"]
                if not src.is_file():
                    problems.append(f"{where}: {rec['path']}: no such file")
                    continue
                raw = src.read_text(encoding="utf-8", errors="replace")
            else:
                problems.append(f'{where}: "text" or "path" is required')
                continue
            if "title" in rec:
                title, text = str(rec["title"]), clean_plaintext(raw)
            else:
                title, text = split_plaintext(raw)
            examples.append(Example(rec["id"], rec.get("language"), title, text, labels))
    if problems:
        raise ExampleError(problems)
    return examples


def evaluate(examples: list[Example], rules: RuleSet) -> Report:
    report = Report(examples=len(examples))
    for cat in rules.categories:
        report.categories[cat] = Counts()
    for ex in examples:
        result: Classification = classify(ex.title, ex.text, ex.language, rules)
        lang = ex.language or result.language or "?"
        lang_counts = report.languages.setdefault(lang, Counts())
        for cat in rules.categories:
            got, want = cat in result.categories, cat in ex.labels
            counts = report.categories[cat]
            if got and want:
                counts.tp += 1
                lang_counts.tp += 1
            elif got or want:
                kind = "FP" if got else "FN"
                if got:
                    counts.fp += 1
                    lang_counts.fp += 1
                else:
                    counts.fn += 1
                    lang_counts.fn += 1
                matches = [m for m in result.matches if m.category == cat]
                report.errors.append({
                    "kind": kind, "id": ex.id, "language": lang, "category": cat,
                    "score": result.scores.get(cat, 0.0),
                    "threshold": rules.settings(result.language, cat).threshold,
                    "vetoed": result.vetoed.get(cat, []),
                    "terms": [{"term": m.term, "text": m.text, "field": m.field, "weight": m.weight}
                              for m in matches],
                    "title": ex.title[:100],
                })
    return report


def _table(title: str, rows: dict[str, Counts]) -> list[str]:
    out = [f"{title:<10} {'prec':>6} {'recall':>6} {'f1':>6} {'tp':>4} {'fp':>4} {'fn':>4}"]
    for name, c in sorted(rows.items()):
        d = c.as_dict()
        out.append(f"{name:<10} {d['precision']:>6.3f} {d['recall']:>6.3f} {d['f1']:>6.3f} "
                   f"{c.tp:>4} {c.fp:>4} {c.fn:>4}")
    return out


def run(args: argparse.Namespace) -> int:
    rules = load_rules(args.config)
    try:
        examples = load_examples(Path(args.examples))
    except ExampleError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return 2
    report = evaluate(examples, rules)
    if args.format == "json":
        print(json.dumps({
            "examples": report.examples,
            "categories": {k: v.as_dict() for k, v in report.categories.items()},
            "languages": {k: v.as_dict() for k, v in report.languages.items()},
            "errors": report.errors,
        }, ensure_ascii=False))
        return 0
    lines = [f"{report.examples} examples", *_table("category", report.categories), "",
             *_table("language", report.languages), ""]
    for err in report.errors:
        terms = ", ".join(f"{t['term']}={t['text']!r}({t['weight']:+g})" for t in err["terms"]) or "no terms"
        veto = f" vetoed by {', '.join(err['vetoed'])};" if err["vetoed"] else ""
        what = "matched" if err["kind"] == "FP" else "near misses"
        lines.append(f"{err['kind']} {err['category']} {err['id']} [{err['language']}] score "
                     f"{err['score']:g}/{err['threshold']:g};{veto} {what}: {terms}")
        lines.append(f"    {err['title']}")
    print("\n".join(lines))
    return 0
