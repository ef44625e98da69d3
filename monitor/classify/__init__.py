"""Multilingual story classification: keyword rules per language and category, compiled into an
Aho-Corasick automaton, scored with weights, context, negatives and thresholds, and explained.

Public API:
    ClassifyConfig, EntityConfig, CategoryConfig   the `classify:` config section
    load_ruleset(cfg, base_dir) -> RuleSet        all-or-nothing; raises KeywordError
    classify(title, text, language, rules) -> Classification
    clean_plaintext(text) -> str                  drop link lists and other boilerplate
    RuleSet.categories, RuleSet.files, RuleSet.entities
"""

from __future__ import annotations

from monitor.classify.boilerplate import clean_plaintext
from monitor.classify.config import CategoryConfig, ClassifyConfig, EntityConfig
from monitor.classify.matcher import find_hits
from monitor.classify.normalize import fold
from monitor.classify.rules import RuleSet, load_ruleset
from monitor.classify.scoring import score
from monitor.langid import detect_language, normalize_code
from monitor.models import Classification

__all__ = [
    "CategoryConfig", "ClassifyConfig", "EntityConfig", "RuleSet", "classify", "clean_plaintext",
    "load_ruleset", "default_ruleset",
]

_default: RuleSet | None = None


def default_ruleset() -> RuleSet:
    """The shipped rules (cached): what `classify` uses when no config is given."""
    global _default
    if _default is None:
        from pathlib import Path

        _default = load_ruleset(ClassifyConfig(), Path.cwd())
    return _default


def classify(title: str, text: str, language: str | None, rules: RuleSet) -> Classification:
    """Classify one article. `language` None: detect it from the title and text. Pure, no I/O."""
    lang = normalize_code(language) if language else detect_language(f"{title}\n{text}")
    automaton = rules.automaton(lang)
    ftitle = fold(title)
    ftext = fold(text)
    hits = [("title", s, e, t) for s, e, t in find_hits(ftitle.text, automaton)] if title else []
    if text:
        hits += [("text", s, e, t) for s, e, t in find_hits(ftext.text, automaton)]
    return score({"title": (title, ftitle), "text": (text, ftext)}, hits, lang, rules)
