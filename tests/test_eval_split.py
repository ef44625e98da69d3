"""The held-out `test` split of the evaluation set, backtested with the shipped rules.

tests/data/eval/ holds the project's own labelled articles (84 per language, ten languages), split
once at random into tune/ (rules are changed looking at it) and test/ (never looked at while
changing rules; reported). The floors below sit a little under what the rules reach on `test`, so
that a rule change that makes things worse fails CI. Figures: docs/keywords.md and the closing note
of issue 9.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EVAL = Path(__file__).resolve().parent / "data" / "eval"
LANGUAGES = ("ar", "de", "en", "es", "fr", "id", "pt", "ru", "vi", "zh")

# Measured on test/ with the shipped rules (2026-12-03, after tuning on extra4/, `newsmon backtest
# tests/data/eval/test`): macro-F1 0.905 overall, 0.752 in the weakest language (fr); recall 0.80 in the
# weakest category (rumor); 24 false alarms per 1,000 negatives (6 of 250). Before: 0.881, 0.75, 0.775,
# 36. The floors sit just below: a regression fails CI. They are still short of the targets of issue 9
# (0.95, 0.95, 10): see its closing note.
MACRO_F1_FLOOR = 0.72        # overall and in every language (newsmon backtest --fail-under)
FALSE_ALARMS_CEILING = 30    # per 1,000 negatives (--max-false-alarms)
RECALL_FLOOR = 0.77          # per category


def backtest(split: str, *flags: str) -> tuple[int, dict, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "backtest", str(EVAL / split), "--format", "json", *flags],
        capture_output=True, text=True, timeout=300, cwd=EVAL.parents[2])
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, proc.stderr


def test_the_split_is_whole() -> None:
    """Every language in both halves, 84 articles each, 3+ negatives per positive, half of them hard."""
    for lang in LANGUAGES:
        rows = [json.loads(line) for part in ("tune", "test")
                for line in (EVAL / part / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines() if line]
        assert len(rows) == 84 and len({r["id"] for r in rows}) == 84, lang
        positives = [r for r in rows if r["labels"]]
        negatives = [r for r in rows if not r["labels"]]
        assert len(negatives) >= 3 * len(positives), lang
        assert sum(r["kind"] == "hard" for r in negatives) * 2 >= len(negatives), lang
        for r in rows:
            assert 300 <= len(r["title"]) + len(r["text"]) <= 1500, r["id"]


def test_held_out_split_meets_the_floors() -> None:
    code, report, err = backtest("test", "--fail-under", str(MACRO_F1_FLOOR),
                                 "--max-false-alarms", str(FALSE_ALARMS_CEILING))
    assert code == 0, err
    assert set(report["languages"]) == set(LANGUAGES)
    for cat, counts in report["categories"].items():
        assert counts["recall"] >= RECALL_FLOOR, (cat, counts)
    assert report["examples"] == 340
