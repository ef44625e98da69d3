"""`newsmon backtest` as a user runs it (a subprocess over real JSONL and keyword files): precision,
recall, F1 and false alarms per category and language, macro-F1, false alarms per hard kind, the
--fail-under and --max-false-alarms gates, refusal of bad input in one pass, and --against DIR.

The examples are the crawl tests' stories (tests/sitedata.py), whose categories the crawl tests pin
down: telco-outage is an outage, sparkasse-betrug fraud, bank-tin-don a rumor rebuttal, park-budget
nothing. Their labels here are chosen to make every kind of outcome happen, and every figure below is
worked out by hand from those outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_newsmon
from tests.sitedata import STORIES

STORY = {s.slug: s for s in STORIES}


def example(id: str, slug: str, labels: list[str], **extra: str) -> dict[str, object]:
    s = STORY[slug]
    return {"id": id, "language": s.lang, "title": s.title, "text": "\n".join(s.paragraphs), "labels": labels,
            **extra}


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# Outcomes with the shipped rules:
#   en-tp   outage  -> outage   TP outage
#   de-tp   fraud   -> fraud    TP fraud
#   en-neg  -       -> -        negative (hard, genre), no alarm
#   vi-fa   -       -> rumor    negative (ordinary), false alarm: FP rumor
#   en-fn   outage  -> -        FN outage
#   de-fa   -       -> fraud    negative (hard, sense), false alarm: FP fraud
SET = [
    example("en-tp", "telco-outage", ["outage"], kind="positive"),
    example("de-tp", "sparkasse-betrug", ["fraud"], kind="positive"),
    example("en-neg", "park-budget", [], kind="hard", hard_kind="genre"),
    example("vi-fa", "bank-tin-don", [], kind="ordinary"),
    example("en-fn", "park-budget", ["outage"], kind="positive"),
    example("de-fa", "sparkasse-betrug", [], kind="hard", hard_kind="sense"),
]


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "set.jsonl", SET)


def test_report_per_category_language_and_kind(tmp_path: Path, examples: Path) -> None:
    proc = run_newsmon("backtest", "--format", "json", str(examples), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert (r["examples"], r["negatives"]) == (6, 3)
    assert r["categories"] == {
        "fraud": {"tp": 1, "fp": 1, "fn": 0, "precision": 0.5, "recall": 1.0, "f1": 0.667},
        "outage": {"tp": 1, "fp": 0, "fn": 1, "precision": 1.0, "recall": 0.5, "f1": 0.667},
        "rumor": {"tp": 0, "fp": 1, "fn": 0, "precision": 0.0, "recall": 1.0, "f1": 0.0},
    }
    assert r["macro_f1"] == 0.444  # (0.667 + 0.667 + 0) / 3
    # per language: the mean over categories, a category with nothing to find and no false positive = 1.0
    assert r["language_macro_f1"] == {"de": 0.889, "en": 0.889, "vi": 0.667}
    fa = r["false_alarms"]
    assert fa["overall"] == {"count": 2, "of": 3, "per_1000": 666.7}
    assert fa["categories"] == {  # examples without the label that got the category, per 1,000 of them
        "fraud": {"count": 1, "of": 5, "per_1000": 200.0},
        "outage": {"count": 0, "of": 4, "per_1000": 0.0},
        "rumor": {"count": 1, "of": 6, "per_1000": 166.7},
    }
    assert fa["languages"] == {"de": {"count": 1, "of": 1, "per_1000": 1000.0},
                               "en": {"count": 0, "of": 1, "per_1000": 0.0},
                               "vi": {"count": 1, "of": 1, "per_1000": 1000.0}}
    assert fa["kinds"] == {"genre": {"count": 0, "of": 1, "per_1000": 0.0},
                           "sense": {"count": 1, "of": 1, "per_1000": 1000.0},
                           "ordinary": {"count": 1, "of": 1, "per_1000": 1000.0}}
    errors = {(e["kind"], e["category"], e["id"]) for e in r["errors"]}
    assert errors == {("FP", "rumor", "vi-fa"), ("FN", "outage", "en-fn"), ("FP", "fraud", "de-fa")}
    fp = next(e for e in r["errors"] if e["id"] == "vi-fa")
    assert fp["reason"].startswith("flagged"), fp
    assert fp["terms"] and all(set(t) >= {"term", "text", "actor", "weight"} for t in fp["terms"])
    assert any("tin đồn" in t["text"].lower() for t in fp["terms"]), fp["terms"]
    assert r["gates"] == {"fail_under": None, "max_false_alarms": None, "passed": True, "failures": []}

    text = run_newsmon("backtest", str(examples), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "6 examples, 3 negatives (no labels)"
    assert lines[1].split() == ["category", "prec", "recall", "f1", "tp", "fp", "fn", "fa/1000"]
    assert lines[2].split() == ["fraud", "0.500", "1.000", "0.667", "1", "1", "0", "200.0"]
    assert "language prec recall f1 tp fp fn macro-f1 fa/1000" in [" ".join(x.split()) for x in lines]
    assert ["vi", "0.000", "1.000", "0.000", "0", "1", "0", "0.667", "1000.0"] in [x.split() for x in lines]
    assert "macro-F1 0.444 (mean over 3 categories)" in lines
    assert "false alarms: 666.7 per 1,000 negatives (2 of 3 negatives flagged)" in lines
    assert "false alarms by kind (per 1,000): genre 0/1 (0.0), sense 1/1 (1000.0), ordinary 1/1 (1000.0)" in lines
    fn = next(i for i, x in enumerate(lines) if x.startswith("FN outage en-fn [en] score "))
    assert lines[fn + 1].startswith("    reason: ") and len(lines[fn + 1]) > len("    reason: ")
    assert lines[fn + 2] == "    " + STORY["park-budget"].title
    fp_line = next(x for x in lines if x.startswith("FP rumor vi-fa [vi] score "))
    assert "matched: " in fp_line and "no terms" not in fp_line


def test_gates_fail_after_the_report_and_say_why(tmp_path: Path, examples: Path) -> None:
    proc = run_newsmon("backtest", "--fail-under", "0.7", str(examples), cwd=tmp_path)
    assert proc.returncode == 1
    assert "macro-F1 0.444 (mean over 3 categories)" in proc.stdout, "the report is printed first"
    assert proc.stderr.splitlines() == [
        "newsmon backtest: macro-F1 0.444 is below --fail-under 0.7",
        "newsmon backtest: macro-F1 of language vi 0.667 is below --fail-under 0.7",
    ]
    proc = run_newsmon("backtest", "--max-false-alarms", "500", str(examples), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "newsmon backtest: 666.7 false alarms per 1,000 negatives (2 of 3) exceed --max-false-alarms 500"]
    proc = run_newsmon("backtest", "--format", "json", "--fail-under", "0.4", "--max-false-alarms", "700",
                       str(examples), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["gates"] == {"fail_under": 0.4, "max_false_alarms": 700.0, "passed": True,
                                                "failures": []}
    proc = run_newsmon("backtest", "--format", "json", "--fail-under", "0.9", str(examples), cwd=tmp_path)
    assert proc.returncode == 1
    gates = json.loads(proc.stdout)["gates"]
    assert gates["passed"] is False and len(gates["failures"]) == 4  # overall, de, en and vi
    assert proc.stderr.count("newsmon backtest: ") == 4

    positives = write_jsonl(tmp_path / "positives.jsonl", SET[:2])
    proc = run_newsmon("backtest", "--max-false-alarms", "10", str(positives), cwd=tmp_path)
    assert proc.returncode == 1, "no negatives: the false-alarm gate cannot pass"
    assert "no negatives" in proc.stderr


def test_empty_input_is_refused_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    proc = run_newsmon("backtest", str(empty), cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"{empty}: no examples\n")
    folder = tmp_path / "nothing"
    folder.mkdir()
    proc = run_newsmon("backtest", str(folder), cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"{folder}: no examples (no *.jsonl file in the directory)\n"
    (folder / "a.jsonl").write_text("", encoding="utf-8")
    proc = run_newsmon("backtest", str(folder), cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (2, f"{folder}: no examples\n")


def test_every_problem_is_reported_in_one_pass(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text("\n".join([
        json.dumps(example("a", "park-budget", ["outgae"])),
        json.dumps(example("b", "park-budget", [])),
        "{not json",
        json.dumps(example("b", "park-budget", ["fraud", "weather"])),
        json.dumps(example("c", "park-budget", [], kind="tricky")),
        json.dumps({"id": "d", "labels": []}),
    ]) + "\n", encoding="utf-8")
    proc = run_newsmon("backtest", str(data), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    known = "known: fraud, outage, rumor"
    assert proc.stderr.splitlines() == [
        f'{data}:1: unknown label "outgae" (did you mean "outage"?; {known})',
        f"{data}:3: invalid JSON: Expecting property name enclosed in double quotes",
        f'{data}:4: duplicate id "b" (first at {data}:2)',
        f'{data}:4: unknown label "weather" ({known})',
        f'{data}:5: "kind" must be one of positive, hard, ordinary (not "tricky")',
        f'{data}:6: "text" or "path" is required',
    ]


def test_bad_keyword_files_and_bad_examples_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "kw").mkdir()
    (tmp_path / "kw" / "en.yaml").write_text("language: en\ncategories:\n  outage:\n    strong: [\"a\"]\n",
                                            encoding="utf-8")
    data = write_jsonl(tmp_path / "set.jsonl", [example("a", "park-budget", []), {"id": "b", "labels": []}])
    proc = run_newsmon("backtest", "--against", "kw", str(data), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f'{(tmp_path / "kw" / "en.yaml").resolve()}:4 categories.outage.strong[0]: term "a" is too short (one character)',
        f'{data}:2: "text" or "path" is required',
    ]


def test_against_compares_candidate_rules_with_the_rules_in_force(tmp_path: Path) -> None:
    # in force: the shipped rules plus the config's own keyword file, which vetoes fraud for "Sparkasse"
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "de.yaml").write_text("language: de\ncategories:\n  fraud:\n    veto: [Sparkasse]\n",
                                               encoding="utf-8")
    (tmp_path / "config.yaml").write_text("classify: {keywords: [local/]}\n", encoding="utf-8")
    # the candidate replaces local/ (so the Sparkasse veto is gone) and vetoes two other stories
    cand = tmp_path / "cand"
    cand.mkdir()
    (cand / "en.yaml").write_text("language: en\ncategories:\n  outage:\n    veto: [Telstra]\n", encoding="utf-8")
    (cand / "vi.yaml").write_text("language: vi\ncategories:\n  rumor:\n    veto: [ngân hàng]\n", encoding="utf-8")
    (cand / "notes.txt").write_text("not a keyword file", encoding="utf-8")
    data = write_jsonl(tmp_path / "set.jsonl", [*SET, example("en-mixed", "telco-outage", ["fraud"])])

    proc = run_newsmon("backtest", "-c", "config.yaml", "--against", "cand", str(data), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    start = lines.index("before: the rules in force; after: cand")
    table = {" ".join(x.split()[:-2]): x.split()[-2:] for x in lines[start + 2:] if x.startswith(("macro", "false", "  "))}
    # before: outage 1/1/1 (F1 .5), fraud 0/0/2 (0), rumor 0/1/0 (0); after: outage 0/0/2, fraud 1/1/1, rumor 1.0
    assert table["macro-F1"] == ["0.167", "0.500"]
    assert table["false alarms/1000"] == ["333.3", "333.3"]
    assert table["outage F1"] == ["0.500", "0.000"] and table["rumor F1"] == ["0.000", "1.000"]
    assert "5 example(s) changed: 2 fixed, 2 broken, 1 changed (wrong both times)" in lines
    changed = lines[lines.index("5 example(s) changed: 2 fixed, 2 broken, 1 changed (wrong both times)") + 1:]
    assert changed == [
        "broken  en-tp [en] outage -> (none) (label: outage)",
        "fixed   de-tp [de] (none) -> fraud (label: fraud)",
        "fixed   vi-fa [vi] rumor -> (none) (label: none)",
        "broken  de-fa [de] (none) -> fraud (label: none)",
        "changed en-mixed [en] outage -> (none) (label: fraud)",
    ]
    assert lines[0] == "7 examples, 3 negatives (no labels)"
    assert "macro-F1 0.500 (mean over 3 categories)" in lines, "the report above is the candidate's"

    js = run_newsmon("backtest", "-c", "config.yaml", "--against", "cand", "--format", "json",
                     "--fail-under", "0.6", str(data), cwd=tmp_path)
    assert js.returncode == 1, "the gates apply to the candidate"
    r = json.loads(js.stdout)
    assert r["macro_f1"] == 0.5 and r["against"]["before"]["macro_f1"] == 0.167
    assert r["against"]["dir"] == "cand"
    assert r["against"]["before"]["false_alarms"]["overall"] == {"count": 1, "of": 3, "per_1000": 333.3}
    assert [(c["status"], c["id"], c["before"], c["after"]) for c in r["against"]["changes"]] == [
        ("broken", "en-tp", ["outage"], []), ("fixed", "de-tp", [], ["fraud"]), ("fixed", "vi-fa", ["rumor"], []),
        ("broken", "de-fa", [], ["fraud"]), ("changed", "en-mixed", ["outage"], []),
    ]
    vetoed = next(e for e in r["errors"] if e["id"] == "en-tp")
    assert vetoed["kind"] == "FN" and "veto" in vetoed["reason"].lower() and vetoed["vetoed"] == ["Telstra"]


def test_against_a_directory_without_keyword_files_is_refused(tmp_path: Path, examples: Path) -> None:
    (tmp_path / "nothing").mkdir()
    proc = run_newsmon("backtest", "--against", "nothing", str(examples), cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "nothing: no *.yaml keyword files in the directory\n"
    proc = run_newsmon("backtest", "--against", "missing", str(examples), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("missing: no such directory")
