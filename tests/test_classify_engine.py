"""Classifier engine: folding, boundaries and wildcards, scoring, entities, loading errors."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from monitor.classify import ClassifyConfig, EntityConfig, classify, clean_plaintext, load_ruleset
from monitor.classify.config import CategoryConfig
from monitor.classify.normalize import fold
from monitor.errors import KeywordError
from monitor.langid import detect_language

FOLD_CASES = [
    ("Störung", "störung"),
    ("STRASSE Straße", "strasse strasse"),
    ("ＡＴ＆Ｔ", "at&t"),
    (unicodedata.normalize("NFD", "bác bỏ tin đồn"), "bác bỏ tin đồn"),
    ("تَنْفِي الشّائعات", "تنفي الشايعات"),
    ("مــدرســة", "مدرسه"),
    ("أحمد إلى آخر", "احمد الي اخر"),
    ("中國聯通網絡", "中国联通网络"),
    ("Fake-News", "fake news"),
    ("a\u200bb\u00adc", "abc"),
    ("Ёлка", "елка"),
]


@pytest.mark.parametrize("raw,expected", FOLD_CASES, ids=[
    "umlaut", "sharp-s", "fullwidth", "vi-decomposed", "ar-diacritics", "ar-tatweel", "ar-alef-ya",
    "zh-t2s", "hyphen", "zero-width", "ru-yo"])
def test_fold(raw: str, expected: str) -> None:
    assert fold(raw).text == expected


@pytest.mark.parametrize("raw", [
    unicodedata.normalize("NFD", "Sự cố mạng"), "تَنْفِي الشّائعات", "Straße ﬁle", "x\u200bNetzausfall"])
def test_fold_offsets_point_into_original(raw: str) -> None:
    folded = fold(raw)
    # every folded character maps to an original index, in order, and the end maps to len(raw)
    if folded.offsets is not None:
        assert len(folded.offsets) == len(folded.text) + 1
        assert folded.offsets == sorted(folded.offsets)
        assert folded.offsets[-1] == len(raw)


def _rules(tmp_path: Path, body: str, **cfg: object):  # type: ignore[no-untyped-def]
    (tmp_path / "kw.yaml").write_text(body, encoding="utf-8")
    return load_ruleset(ClassifyConfig(defaults=False, keywords=["kw.yaml"], **cfg), tmp_path)  # type: ignore[arg-type]


WILDCARD_RULES = """\
language: de
categories:
  t:
    threshold: 1
    weak: ["*ausfall", "störung*", "*unterbrech*", "netz", "фейк*", "中断"]
"""


@pytest.mark.parametrize("text,term,matched", [
    ("Der Netzausfall dauerte Stunden.", "*ausfall", "Netzausfall"),
    ("Mehrere Störungen im Netz.", "störung*", "Störungen"),
    ("Die Dienstunterbrechungen endeten.", "*unterbrech*", "Dienstunterbrechungen"),
    ("Das Netz fiel aus.", "netz", "Netz"),
    ("Это фейковые новости.", "фейк*", "фейковые"),
    ("服务中断了三小时", "中断", "中断"),
], ids=["suffix", "prefix", "infix", "whole-word", "cyrillic-prefix", "cjk-no-boundary"])
def test_wildcards_match(tmp_path: Path, text: str, term: str, matched: str) -> None:
    result = classify("", text, "de", _rules(tmp_path, WILDCARD_RULES))
    hits = [(m.term, m.text) for m in result.matches]
    assert (term, matched) in hits
    m = next(m for m in result.matches if m.term == term)
    assert text[m.offset:m.offset + len(m.text)] == m.text


@pytest.mark.parametrize("text", [
    "Netzwerkkabel", "Kontonetz", "Störfall", "Ausfallschritt", "unnetz"],
    ids=["netz-prefix-of-word", "netz-suffix-of-word", "different-word", "ausfall-not-suffix", "netz-in-word"])
def test_boundaries_reject(tmp_path: Path, text: str) -> None:
    result = classify("", text, "de", _rules(tmp_path, WILDCARD_RULES))
    assert result.matches == []


def test_boundary_outside_ascii(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "language: vi\ncategories:\n  t:\n    threshold: 1\n    weak: [sự cố]\n")
    assert classify("", "Đã có sự cố mạng", "vi", rules).categories == ["t"]
    # "ự" is a letter: "sự cốt" is not the term, and neither is "Xsự cố"
    assert classify("", "Xsự cố", "vi", rules).categories == []


def test_offsets_after_decomposed_text(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "language: vi\ncategories:\n  t:\n    threshold: 1\n    weak: [tin đồn]\n")
    text = unicodedata.normalize("NFD", "MoMo bác bỏ tin đồn hôm nay")
    m = classify("", text, "vi", rules).matches[0]
    assert unicodedata.normalize("NFC", text[m.offset:m.offset + len(m.text)]) == "tin đồn"


SCORING_RULES = """\
language: en
categories:
  outage:
    threshold: 3
    require_context: true
    strong: [network outage]
    medium: [outage]
    context: [customers, network]
    negative: [football]
    veto: [blackout film]
  fraud:
    threshold: 3
    strong: [phishing]
    negative: [anti phishing]
"""


@pytest.mark.parametrize("title,text,expected", [
    ("", "A network outage hit the city.", ["outage"]),
    ("", "An outage hit customers.", ["outage"]),
    ("", "An outage was reported.", []),
    ("Outage", "Customers waited.", ["outage"]),
    ("", "The outage hit customers after the football game.", []),
    ("", "The network outage in the blackout film was fiction.", []),
    ("", "Phishing emails hit customers.", ["fraud"]),
    ("", "The bank launched anti-phishing training.", []),
], ids=["strong-alone", "medium-plus-context", "medium-without-context", "title-weight",
        "negative-subtracts", "veto", "fraud", "longer-negative-consumes-trigger"])
def test_scoring(tmp_path: Path, title: str, text: str, expected: list[str]) -> None:
    assert classify(title, text, "en", _rules(tmp_path, SCORING_RULES)).categories == expected


def test_veto_is_reported(tmp_path: Path) -> None:
    result = classify("", "A network outage in the blackout film.", "en", _rules(tmp_path, SCORING_RULES))
    assert result.vetoed == {"outage": ["blackout film"]}
    assert result.scores["outage"] == 3.0


def test_threshold_override_from_config(tmp_path: Path) -> None:
    rules = _rules(tmp_path, SCORING_RULES, categories={"outage": CategoryConfig(threshold=10)})
    result = classify("", "A network outage hit customers.", "en", rules)
    assert result.categories == []
    assert result.scores["outage"] == 4.0


@pytest.mark.parametrize("text,entity", [
    ("China Unicom apologised.", "China Unicom"),
    ("中国联通致歉", "China Unicom"),
    ("中國聯通致歉", "China Unicom"),
    ("联通用户", "China Unicom"),
    ("AT&T-Kunden", "AT&T"),
], ids=["latin", "simplified", "traditional", "short-alias", "ampersand"])
def test_entity_aliases_across_scripts(tmp_path: Path, text: str, entity: str) -> None:
    rules = _rules(tmp_path, SCORING_RULES, entities=[
        EntityConfig(name="China Unicom", aliases=["中国联通", "联通"]), EntityConfig(name="AT&T")])
    assert classify("", text, "zh", rules).entities == [entity]


def test_require_entity(tmp_path: Path) -> None:
    rules = _rules(tmp_path, SCORING_RULES, entities=[EntityConfig(name="Acme")],
                   categories={"outage": CategoryConfig(require_entity=True)})
    assert classify("", "A network outage.", "en", rules).categories == []
    assert classify("", "A network outage at Acme.", "en", rules).categories == ["outage"]


def test_traditional_text_matches_simplified_keywords() -> None:
    rules = load_ruleset(ClassifyConfig(), Path.cwd())
    result = classify("中國移動網絡故障", "用戶無法上網，系統已恢復正常。", None, rules)
    assert result.language == "zh"
    assert result.categories == ["outage"]
    assert any(m.text == "網絡故障" for m in result.matches)


BAD_FILES = [
    ("categories: {}\n", ["{f}:1 language: missing (an ISO 639-1 code such as en, or *)"]),
    ("language: english\ncategories: {t: {weak: [x1]}}\n",
     ["{f}:1 language: 'english' is not an ISO 639-1 code (such as en) or *"]),
    ("language: en\ncategories:\n  Bad Name:\n    weak: [abc]\n",
     ['{f}:3 categories.Bad Name: invalid category name "Bad Name": use lowercase letters, digits and _']),
    ("language: en\ncategories:\n  t:\n    weak:\n      - ok\n      - \"net*work\"\n      - \"\"\n",
     ['{f}:6 categories.t.weak[1]: term "net*work": "*" is only allowed at the start or end of a term',
      "{f}:7 categories.t.weak[2]: empty term"]),
    ("language: en\ncategories:\n  t:\n    strongg: [x]\n",
     ['{f}:4 categories.t.strongg: unknown key "strongg" (did you mean "strong"?) (expected one of: strong, medium, '
      "weak, context, negative, veto, actors, denial, description, require_actor, require_context, require_trigger, "
      "threshold, title_weight)"]),
    ("language: en\ncategories:\n  t:\n    threshold: -1\n    weak: [{outage: high}]\n",
     ["{f}:4 categories.t.threshold: must be a number greater than 0, got -1",
      "{f}:5 categories.t.weak[0]: term \"outage\": weight must be a number, got 'high'"]),
    ("language: en\ncategories:\n  t:\n    weak: [{term: outage, field: body}]\n",
     ["{f}:4 categories.t.weak[0]: term \"outage\": field must be \"any\", \"title\" or \"text\", got 'body'"]),
    ("language: en\ncategories:\n  t:\n    weak: [a]\n",
     ['{f}:4 categories.t.weak[0]: term "a" is too short (one character)']),
    ("language: en\ncategories: [\n", ["{f}:3: invalid YAML: did not find expected node content (while parsing a flow node)"]),
]


@pytest.mark.parametrize("body,messages", BAD_FILES, ids=[
    "no-language", "bad-language", "bad-category", "bad-terms", "unknown-group", "bad-threshold-and-weight",
    "bad-field", "too-short", "yaml-syntax"])
def test_invalid_keyword_files(tmp_path: Path, body: str, messages: list[str]) -> None:
    with pytest.raises(KeywordError) as info:
        _rules(tmp_path, body)
    f = str(tmp_path / "kw.yaml")
    assert [str(p) for p in info.value.problems] == [m.format(f=f) for m in messages]


def test_missing_keyword_file_and_unknown_category(tmp_path: Path) -> None:
    cfg = ClassifyConfig(keywords=["nope.yaml"], categories={"outgae": CategoryConfig(threshold=2)})
    with pytest.raises(KeywordError) as info:
        load_ruleset(cfg, tmp_path)
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'nope.yaml'}: no such file or directory",
        'config classify.categories.outgae: unknown category "outgae" (known: fraud, outage, rumor)',
    ]


def test_loading_is_all_or_nothing(tmp_path: Path) -> None:
    good = _rules(tmp_path, SCORING_RULES)
    (tmp_path / "kw.yaml").write_text(SCORING_RULES + "    weak: [\"x*y\"]\n", encoding="utf-8")
    with pytest.raises(KeywordError):
        load_ruleset(ClassifyConfig(defaults=False, keywords=["kw.yaml"]), tmp_path)
    # the earlier RuleSet is untouched and still works
    assert classify("", "Phishing emails.", "en", good).categories == ["fraud"]
    assert good.files == (tmp_path / "kw.yaml",)


def test_user_category_without_code(tmp_path: Path) -> None:
    extra = "language: '*'\ncategories:\n  recall:\n    threshold: 2\n    medium: [product recall, rückruf*]\n"
    (tmp_path / "mine.yaml").write_text(extra, encoding="utf-8")
    rules = load_ruleset(ClassifyConfig(keywords=["mine.yaml"]), tmp_path)
    assert "recall" in rules.categories
    assert classify("", "Großer Rückruf von Autos", "de", rules).categories == ["recall"]


def test_languages_limit(tmp_path: Path) -> None:
    rules = load_ruleset(ClassifyConfig(languages=["en"]), tmp_path)
    assert rules.languages == frozenset({"en"})


@pytest.mark.parametrize("text,hint,expected", [
    ("Der Netzausfall bei der Telekom hat Millionen Kunden getroffen", None, "de"),
    ("中國聯通用戶凌晨被異常扣費", None, "zh"),
    ("中国联通用户凌晨被异常扣费", None, "zh"),
    ("MoMo bác bỏ tin đồn lan truyền trên mạng xã hội", None, "vi"),
    ("تواصل الشركة جهودها لزيادة توعية عملائها", None, "ar"),
    ("ok", None, None),
    ("ok", "pt-BR", "pt"),
], ids=["de", "zh-hant", "zh-hans", "vi", "ar", "too-short", "short-with-hint"])
def test_detect_language(text: str, hint: str | None, expected: str | None) -> None:
    assert detect_language(text, hint) == expected


@pytest.mark.parametrize("text,kept,dropped", [
    ("Title\n\nA real paragraph about the outage at the bank, which lasted hours.\n"
     "Related news\nBank fined   Scam calls rise   Markets fall   New phone\n",
     "A real paragraph", "Scam calls rise"),
    ("Story text here.\n友情链接: 警方提醒谨防诈骗  股市下跌  新品发布  天气晴朗  交通拥堵\n", "Story text", "诈骗"),
    ("Home > News > Tech\nThe story.\nCopyright 2024 Example Media\n", "The story.", "Copyright"),
    ("Body.\nCÙNG CHUYÊN MỤC\nLừa đảo qua mạng tăng\nGiá vàng giảm\n", "Body.", "Lừa đảo"),
    ("Body.\n相关新闻\n电信网络诈骗新花招\n股市\n", "Body.", "诈骗"),
], ids=["related-block", "friend-links", "crumbs-and-footer", "vi-block", "zh-block"])
def test_clean_plaintext(text: str, kept: str, dropped: str) -> None:
    cleaned = clean_plaintext(text)
    assert kept in cleaned
    assert dropped not in cleaned
