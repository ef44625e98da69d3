"""The shipped keyword rules, language by language: each case in tests/data/rule_cases/<lang>.jsonl names
the mechanism it exercises, and the test checks the outcome and the evidence for that mechanism.

Mechanisms (docs/keywords.md, "How a category is decided"):
    stem         an inflected form of a rule word fires (Snowball languages only)
    denial       a company or authority denies a report, claim or rumour: rumor, through a NEAR/PRE rule
    bare-rumor   an article that merely mentions rumours or speculation, with no denial: nothing
    genre        a review, screen or history piece about a scam or a blackout: nothing, the genre gate holds
    sense        another sense of a trigger word (floodlights, a market circuit breaker, a transfer rumour): nothing
    actor        a trigger with no organisation or service in its sentence: nothing; with one: it fires
and, for the older cases, incident, fraud-warning, background and ordinary (no extra evidence checked).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.classify import classify, default_ruleset
from monitor.classify.normalize import fold
from monitor.classify.stem import STEM_LANGUAGES
from monitor.models import Classification

CASES_DIR = Path(__file__).parent / "data" / "rule_cases"
LANGUAGES = ("ar", "de", "en", "es", "fr", "id", "pt", "ru", "vi", "zh")
REQUIRED = ("denial", "bare-rumor", "genre", "sense", "actor")   # in every language; "stem" where words stem
MECHANISMS = {"stem", *REQUIRED, "incident", "fraud-warning", "background", "ordinary"}
EXPECT = {"outage", "fraud", "rumor", "none"}
RULES = default_ruleset()


def load_cases() -> list[tuple[str, dict[str, str]]]:
    cases = []
    for lang in LANGUAGES:
        path = CASES_DIR / f"{lang}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                cases.append((lang, json.loads(line)))
    return cases


CASES = load_cases()


def folded(s: str) -> str:
    return fold(s.replace("*", "")).text.strip()


def is_proximity(term: str) -> bool:
    return "NEAR/" in term or "PRE/" in term


def evidence_problem(mechanism: str, expect: str, result: Classification) -> str | None:
    """Why `result` lacks the evidence `mechanism` calls for, or None."""
    if mechanism == "genre" and not result.genre:
        return "no genre gate held"
    if mechanism == "denial" and not any(m.category == "rumor" and is_proximity(m.term) for m in result.matches):
        return "no rumor match from a NEAR/PRE rule"
    if mechanism == "stem" and not any(
            m.actor and "*" not in m.term and not is_proximity(m.term) and folded(m.text) != folded(m.term)
            for m in result.matches if m.category == expect):
        return f"no {expect} trigger of a plain term (no wildcard) matched in another word form"
    if mechanism == "actor" and expect != "none" and not any(
            m.actor for m in result.matches if m.category == expect):
        return f"no {expect} match tied to an actor"
    if mechanism == "actor" and expect == "none" and not any(
            why.startswith("not flagged: no evidence tied to an organisation") for why in result.reasons.values()):
        return "no trigger was left unbound for want of an actor"
    return None


@pytest.mark.parametrize("lang,case", CASES, ids=[case["id"] for _, case in CASES])
def test_rule_case(lang: str, case: dict[str, str]) -> None:
    assert set(case) == {"id", "mechanism", "expect", "title", "text"}
    assert case["id"].startswith(f"{lang}-")
    assert case["mechanism"] in MECHANISMS and case["expect"] in EXPECT
    result = classify(case["title"], case["text"], lang, RULES)
    assert result.categories == ([] if case["expect"] == "none" else [case["expect"]]), result.reasons
    problem = evidence_problem(case["mechanism"], case["expect"], result)
    assert problem is None, (problem, [(m.category, m.term, m.text, m.actor) for m in result.matches], result.genre)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_mechanism_covered(lang: str) -> None:
    cases = [case for code, case in CASES if code == lang]
    assert len(cases) >= 8
    ids = [case["id"] for case in cases]
    assert len(ids) == len(set(ids))
    have = {case["mechanism"] for case in cases}
    need = {*REQUIRED, "stem"} if lang in STEM_LANGUAGES else set(REQUIRED)
    assert need <= have, sorted(need - have)
    if lang not in STEM_LANGUAGES:
        assert "stem" not in have
    actor = {case["expect"] != "none" for case in cases if case["mechanism"] == "actor"}
    assert actor == {True, False}, "actor cases need one without an actor (none) and one with (fires)"
    for mechanism in ("stem", "denial"):
        assert all(case["expect"] != "none" for case in cases if case["mechanism"] == mechanism)
    assert all(case["expect"] == "rumor" for case in cases if case["mechanism"] == "denial")
    for mechanism in ("bare-rumor", "genre", "sense"):
        assert all(case["expect"] == "none" for case in cases if case["mechanism"] == mechanism)
