"""Classifier against the shared seeds, the dev set, and the check/backtest commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from monitor.classify import ClassifyConfig, classify, load_ruleset
from monitor.cli import main
from monitor.commands.check import split_plaintext
from tests.conftest import SEEDS, SHARED

EXPECTED = yaml.safe_load((SEEDS / "expected.yaml").read_text(encoding="utf-8")) if SEEDS.is_dir() else {}
RULES = load_ruleset(ClassifyConfig(), Path.cwd())


@pytest.mark.conformance
@pytest.mark.parametrize("name", sorted(EXPECTED), ids=lambda n: n[:3])
def test_seed(name: str) -> None:
    expected = EXPECTED[name]
    title, text = split_plaintext((SEEDS / name).read_text(encoding="utf-8"))
    result = classify(title, text, None, RULES)
    assert result.language == expected["language"]
    for cat in expected["must"]:
        assert cat in result.categories, (cat, result.scores)
    for cat in expected["must_not"]:
        assert cat not in result.categories, (cat, result.scores)
    assert expected["entity"] in result.entities


@pytest.mark.conformance
def test_check_json_on_seed(capsys: pytest.CaptureFixture[str]) -> None:
    seed = str(SEEDS / "004_fea7d35032dd25c1.txt")
    assert main(["check", "--format", "json", seed]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["input"] == seed
    assert out["language"] == "zh"
    assert out["categories"] == ["outage"]
    assert out["entities"] == ["China Unicom"]
    assert "友情链接" not in out["text"] and "电信网络诈骗" not in out["text"]
    assert out["published"].startswith("2025-05-25T05:12:45")
    for m in out["matches"]:
        field = out["title"] if m["field"] == "title" else out["text"]
        assert field[m["offset"]:m["offset"] + len(m["text"])] == m["text"]


def test_check_text_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    article = tmp_path / "a.txt"
    article.write_text("Netzausfall bei der Telekom\nTausende Kunden ohne Netz.\n", encoding="utf-8")
    missing = str(tmp_path / "missing.txt")
    assert main(["check", missing, str(article)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"newsmon check: {missing}: no such file\n"
    assert "categories: outage" in captured.out
    assert "[title] actor 'Telekom'" in captured.out and "why: flagged" in captured.out
    assert "\x1b[1m" not in captured.out   # not a tty


@pytest.mark.conformance
def test_check_invalid_keywords_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kw.yaml").write_text("language: en\ncategories:\n  t:\n    weak: [\"a*b\"]\n", encoding="utf-8")
    (tmp_path / "config.yaml").write_text("classify:\n  keywords: [kw.yaml]\n", encoding="utf-8")
    assert main(["check", "-c", str(tmp_path / "config.yaml"), str(SEEDS / "000_924deedb2fb67d44.txt")]) == 2
    err = capsys.readouterr().err
    assert err == (f'{tmp_path / "kw.yaml"}:4 categories.t.weak[0]: term "a*b": "*" is only allowed at the '
                   "start or end of a term\nnewsmon check: 1 problem(s), nothing loaded\n")


@pytest.mark.conformance
def test_check_html_page(capsys: pytest.CaptureFixture[str]) -> None:
    pages = sorted((SHARED / "corpus" / "pages").rglob("*.html"))
    assert pages, "shared corpus pages missing"
    assert main(["check", "--format", "json", str(pages[0])]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"input", "language", "title", "text", "published", "categories", "entities",
                        "scores", "matches"}


def test_backtest_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "a", "language": "en", "title": "Network outage", "text": "Customers without service.",
         "labels": ["outage"]},
        {"id": "b", "language": "en", "title": "Nice weather", "text": "Sunny all week.", "labels": ["fraud"]},
        {"id": "c", "language": "en", "text": "Phishing warning\nThe bank warns customers about phishing.",
         "labels": []},
    ]), encoding="utf-8")
    assert main(["backtest", str(data)]) == 0
    out = capsys.readouterr().out
    assert "3 examples" in out
    assert "FN fraud b [en] score 0/3; near misses: no terms" in out
    assert "FP fraud c [en]" in out and "'warns customers about phishing'(+3 @bank)" in out
    assert main(["backtest", "--format", "json", str(data)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["categories"]["outage"] == {"tp": 1, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0,
                                              "f1": 1.0}
    assert report["categories"]["fraud"]["fp"] == 1 and report["categories"]["fraud"]["fn"] == 1


@pytest.mark.parametrize("line,message", [
    ("{bad json", "{f}:1: invalid JSON: Expecting property name enclosed in double quotes"),
    ('{"id": "x", "labels": []}', '{f}:1: "text" or "path" is required'),
    ('{"id": "x", "text": "t", "labels": "outage"}', '{f}:1: "id" (text) and "labels" (list of categories) are required'),
    ('{"id": "x", "text": "t", "labels": [], "lang": "en"}', '{f}:1: unknown key "lang"'),
], ids=["json", "no-text", "labels-not-list", "unknown-key"])
def test_backtest_bad_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(line + "\n", encoding="utf-8")
    assert main(["backtest", str(data)]) == 2
    assert capsys.readouterr().err == message.format(f=data) + "\n"
