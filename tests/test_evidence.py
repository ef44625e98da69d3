"""Why an alert fired: the deciding sentence with its terms marked (alerts/evidence.py), the strength,
`Alert.cleaned()` on the segments, and the classifier's match spans behind them (the "6服务" bug).

Derandomised like tests/test_properties.py: NEWSMON_HYPOTHESIS=explore draws fresh examples,
NEWSMON_HYPOTHESIS_EXAMPLES=N more of them (default 200 per property).
"""

from __future__ import annotations

import os
import re
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alerts.evidence import ELLIPSIS, MAX_SENTENCE, evidence, sentence_bounds, strength
from alerts.message import Alert, alert_from_article, one_line
from monitor.classify import ClassifyConfig, classify, default_ruleset, load_ruleset
from monitor.classify.rules import RuleSet
from monitor.models import Article, Classification, Match

prop = settings(
    derandomize=os.environ.get("NEWSMON_HYPOTHESIS") != "explore", database=None, deadline=None,
    max_examples=int(os.environ.get("NEWSMON_HYPOTHESIS_EXAMPLES", "200")),
    suppress_health_check=[HealthCheck.too_slow],
)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
RULES = default_ruleset()


def art(title: str, text: str, language: str = "de", summary: str = "") -> Article:
    return Article(url="https://n.example/1", source_id="src", title=title, text=text, language=language,
                   published=T0, fetched=T0, summary=summary)


def hit(source: str, text: str, weight: float = 3.0, field: str = "text", sentence: int = 0, nth: int = 0,
        category: str = "outage") -> Match:
    """A match of `text` (its nth occurrence in `source`), as the classifier reports it."""
    offset = -1
    for _ in range(nth + 1):
        offset = source.index(text, offset + 1)
    return Match(category, text, text, field, offset, weight, "de", "", sentence)


def result(matches: list[Match], score: float = 6.0, threshold: float = 3.0, category: str = "outage") -> Classification:
    return Classification(categories=[category], scores={category: score}, matches=matches, entities=[],
                          language="de", thresholds={category: threshold})


def marked(segments: list[list[object]]) -> list[object]:
    return [t for t, m in segments if m]


def joined(segments: list[list[object]]) -> str:
    return "".join(str(t) for t, _ in segments)


# -- the deciding sentence ---------------------------------------------------------------------------


def test_german_sentence_is_verbatim_with_nothing_inserted() -> None:
    text = ("Seit dem Morgen meldet die Telekom Probleme. Tausende Kunden können nicht telefonieren, weil ein "
            "fehlerhaftes Update, das in der Nacht eingespielt wurde, die Server lahmlegte. Mehr dazu später.")
    ms = [hit(text, "können nicht telefonieren", 3, sentence=1), hit(text, "fehlerhaftes Update", 2, sentence=1)]
    ev = evidence(art("Telekom: Störung", text), result(ms), "outage")
    assert ev.sentence == [
        ["Tausende Kunden ", False], ["können nicht telefonieren", True], [", weil ein ", False],
        ["fehlerhaftes Update", True], [", das in der Nacht eingespielt wurde, die Server lahmlegte.", False]]
    assert ev.snippet == ("Tausende Kunden [können nicht telefonieren], weil ein [fehlerhaftes Update], das in der "
                          "Nacht eingespielt wurde, die Server lahmlegte.")
    assert "Update , das" not in ev.snippet
    assert ev.terms == ["können nicht telefonieren", "fehlerhaftes Update"]
    assert ev.strength == "clear" and ev.field == "text"


def test_a_lead_sentence_with_medium_evidence_beats_a_stronger_body_sentence() -> None:
    text = "Die Bank meldet eine Störung. Das Wetter war schön. Später gab es einen Totalausfall der Server."
    ms = [hit(text, "Störung", 2, sentence=0), hit(text, "Totalausfall", 3, sentence=2)]
    assert marked(evidence(art("Bank", text), result(ms), "outage").sentence) == ["Störung"]
    # a lead holding only weak evidence: the heaviest evidence decides
    ms = [hit(text, "Störung", 1, sentence=0), hit(text, "Totalausfall", 3, sentence=2)]
    ev = evidence(art("Bank", text), result(ms), "outage")
    assert joined(ev.sentence) == "Später gab es einen Totalausfall der Server."


def test_vietnamese_all_counted_matches_in_the_sentence_are_marked() -> None:
    text = "Từ sáng nay ứng dụng MoMo gián đoạn, nhiều người dùng không thể thanh toán. Đại diện MoMo cho biết đang khắc phục."
    ms = [hit(text, "gián đoạn", 3), hit(text, "không thể thanh toán", 3), hit(text, "người dùng", 1),
          hit(text, "khắc phục", 1, sentence=1), Match("fraud", "x", "MoMo", "text", text.index("MoMo"), 3, "vi")]
    ev = evidence(art("MoMo gặp sự cố", text, "vi"), result(ms), "outage")
    assert ev.sentence == [["Từ sáng nay ứng dụng MoMo ", False], ["gián đoạn", True], [", nhiều ", False],
                           ["người dùng", True], [" ", False], ["không thể thanh toán", True], [".", False]]


def test_arabic_sentence_ends_at_the_arabic_question_mark_and_keeps_diacritics() -> None:
    text = "هل توقفت الخدمة؟ أعلنت الشركةُ عن انقطاعِ الخدمة في القاهرة، وقالت إن عطلًا فنيًا وراء المشكلة."
    ms = [hit(text, "انقطاعِ الخدمة", 3, sentence=1), hit(text, "عطلًا فنيًا", 2, sentence=1)]
    ev = evidence(art("فودافون", text, "ar"), result(ms), "outage")
    assert joined(ev.sentence) == "أعلنت الشركةُ عن انقطاعِ الخدمة في القاهرة، وقالت إن عطلًا فنيًا وراء المشكلة."
    assert marked(ev.sentence) == ["انقطاعِ الخدمة", "عطلًا فنيًا"]


def test_chinese_sentence_has_no_spaces_inserted() -> None:
    text = "今天上午，北京多个小区手机没有信号，用户无法拨打电话。运营商表示正在抢修。"
    ms = [hit(text, "没有信号", 3), hit(text, "无法拨打电话", 2), hit(text, "抢修", 2, sentence=1)]
    ev = evidence(art("北京移动故障", text, "zh"), result(ms), "outage")
    assert ev.sentence == [["今天上午，北京多个小区手机", False], ["没有信号", True], ["，用户", False],
                           ["无法拨打电话", True], ["。", False]]
    assert ev.snippet == "今天上午，北京多个小区手机[没有信号]，用户[无法拨打电话]。"


def test_sentences_end_at_line_breaks_and_cjk_marks_but_not_inside_numbers() -> None:
    text = "Version 2.5 fiel aus! Danach\nging nichts。还有\r\n最后？ok… yes"
    spans = [text[a:b] for a, b in sentence_bounds(text)]
    assert spans == ["Version 2.5 fiel aus!", "Danach", "ging nichts。", "还有", "最后？", "ok…", "yes"]


def test_a_match_across_a_line_break_joins_the_two_lines() -> None:
    text = "Die App ist\nnicht erreichbar. Sonst nichts."
    ms = [hit(text, "App ist\nnicht erreichbar", 3)]
    ev = evidence(art("x", text), result(ms), "outage")
    assert ev.sentence == [["Die ", False], ["App ist nicht erreichbar", True], [".", False]]


def test_overlapping_matches_merge_into_one_mark() -> None:
    text = "Kunden melden einen massiven Netzausfall am Morgen."
    ms = [hit(text, "massiven Netzausfall", 3), hit(text, "Netzausfall", 2), hit(text, "Netzausfall am", 1)]
    ev = evidence(art("x", text), result(ms), "outage")
    assert ev.sentence == [["Kunden melden einen ", False], ["massiven Netzausfall am", True], [" Morgen.", False]]


def test_the_headline_is_not_repeated() -> None:
    title = "Großstörung bei der Telekom"
    text = title + " Seit Stunden können Kunden nicht telefonieren. Die Telekom prüft."
    ms = [hit(title, "Großstörung", 6, field="title"), hit(text, "nicht telefonieren", 3)]
    ev = evidence(art(title, text), result(ms), "outage")
    assert joined(ev.sentence) == "Seit Stunden können Kunden nicht telefonieren."
    # the text repeating the headline on a line of its own: the other sentence
    text = title + "\nSeit Stunden können Kunden nicht telefonieren."
    ms = [hit(title, "Großstörung", 6, field="title"), hit(text, "Großstörung", 3),
          hit(text, "nicht telefonieren", 2, sentence=1)]
    ev = evidence(art(title, text), result(ms), "outage")
    assert joined(ev.sentence) == "Seit Stunden können Kunden nicht telefonieren."


def test_a_headline_term_repeated_in_the_text_is_marked_there() -> None:
    title = "Störung bei der Telekom"
    text = "Die Telekom meldet eine bundesweite störung. Das Netz ist instabil."
    ev = evidence(art(title, text), result([hit(title, "Störung", 6, field="title")]), "outage")
    assert ev.sentence == [["Die Telekom meldet eine bundesweite ", False], ["störung", True], [".", False]]
    # ... on word boundaries only
    text = "Die Telekom meldet Störungsmeldungen. Das Netz ist instabil."
    ev = evidence(art(title, text), result([hit(title, "Störung", 6, field="title")]), "outage")
    assert ev.field == "title" and ev.sentence == [["Störung", True], [" bei der Telekom", False]]


def test_the_title_only_when_no_text_sentence_has_evidence() -> None:
    title = "Bank: Online-Banking gestört"
    ev = evidence(art(title, "Ein Sprecher äußerte sich nicht."), result([hit(title, "gestört", 4, field="title")]), "outage")
    assert ev.field == "title"
    assert ev.sentence == [["Bank: Online-Banking ", False], ["gestört", True]]


def test_no_positive_evidence_no_sentence() -> None:
    text = "Nichts passiert."
    neg = Match("outage", "Übung", "passiert", "text", 7, -2.0, "de")
    ev = evidence(art("x", text), result([neg]), "outage")
    assert (ev.sentence, ev.snippet, ev.terms) == ([], "", [])
    a = alert_from_article(art("x", text, summary="Eine  Zusammenfassung"), result([neg]), "outage",
                           article_id=1, story_id=None, source_tags=[])
    assert a.sentence == [] and a.snippet == "Eine Zusammenfassung"


def test_a_long_sentence_is_trimmed_at_word_boundaries() -> None:
    before = " ".join(f"wort{i}" for i in range(80))
    after = " ".join(f"rest{i}" for i in range(80))
    text = f"{before} die Störung dauert an {after}."
    ev = evidence(art("x", text), result([hit(text, "Störung", 3)]), "outage")
    assert ev.sentence[0] == [ELLIPSIS, False] and ev.sentence[-1] == [ELLIPSIS, False]
    assert marked(ev.sentence) == ["Störung"]
    middle = joined(ev.sentence[1:-1])
    assert middle in text and len(middle) <= MAX_SENTENCE
    assert re.fullmatch(r"wort\d+ .* rest\d+", middle), middle   # whole words at both ends


def test_a_long_chinese_sentence_is_trimmed_at_characters() -> None:
    text = "据报道" + "北京上海广州深圳" * 30 + "多地手机没有信号" + "用户纷纷投诉客服热线" * 30 + "。"
    ev = evidence(art("x", text, "zh"), result([hit(text, "没有信号", 3)]), "outage", limit=40)
    assert ev.sentence[0] == [ELLIPSIS, False] and ev.sentence[-1] == [ELLIPSIS, False]
    assert joined(ev.sentence[1:-1]) == text[ev.span[0]:ev.span[1]]
    assert 35 <= ev.span[1] - ev.span[0] <= 40


def test_a_trimmed_sentence_never_shows_a_mark_in_part() -> None:
    text = "alpha Netzausfall " + "x " * 200 + "beta Totalausfall gamma."
    ms = [hit(text, "Netzausfall", 2), hit(text, "Totalausfall", 3)]
    ev = evidence(art("x", text), result(ms), "outage", limit=60)
    assert marked(ev.sentence) == ["Totalausfall"]
    assert "Netzaus" not in joined(ev.sentence)


def test_terms_strongest_first_each_once() -> None:
    text = "Die Störung und die störung und der Ausfall."
    ms = [hit(text, "Ausfall", 1), hit(text, "Störung", 3), hit(text, "störung", 2)]
    assert evidence(art("x", text), result(ms), "outage").terms == ["Störung", "Ausfall"]


# -- strength ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "threshold", "word"), [
    (9, 3, "strong"), (8.9, 3, "clear"), (4.5, 3, "clear"), (4.4, 3, "borderline"), (3, 3, "borderline"),
    (6, 2, "strong"), (None, 3, ""),
])
def test_strength_against_the_threshold(score: float | None, threshold: float, word: str) -> None:
    assert strength(score, threshold) == word


def test_strength_uses_the_rules_threshold(tmp_path: Path) -> None:
    (tmp_path / "de.yaml").write_text(
        "language: de\ncategories:\n  outage:\n    threshold: 2\n    strong: [netzausfall]\n", encoding="utf-8")
    rules = load_ruleset(ClassifyConfig(defaults=False, keywords=["de.yaml"]), tmp_path)
    r = classify("", "Ein Netzausfall.", "de", rules)
    assert r.thresholds == {"outage": 2.0} and r.scores == {"outage": 3.0}
    a = alert_from_article(art("", "Ein Netzausfall."), r, "outage", article_id=1, story_id=None, source_tags=[])
    assert (a.strength, a.gloss) == ("clear", "service down or failing")
    # no threshold known (an older result): the rules' default, 3
    r.thresholds.clear()
    assert alert_from_article(art("", "Ein Netzausfall."), r, "outage", article_id=1, story_id=None,
                              source_tags=[]).strength == "borderline"


# -- Alert.cleaned() on the segments ------------------------------------------------------------------------


def test_cleaned_keeps_the_spaces_at_segment_borders() -> None:
    a = Alert(category="outage", source="s", title="t", url="u",
              sentence=[["  Die\n\x1b[31m ", False], ["Störung", True], ["  \t", False], ["dauert", True],
                        [" \r\nan. ", False]])
    assert a.cleaned().sentence == [["Die [31m ", False], ["Störung", True], [" ", False], ["dauert", True],
                                    [" an.", False]]
    # a whitespace run across a border is one space; empty segments go
    b = Alert(category="outage", source="s", title="t", url="u",
              sentence=[["a ", False], ["\x00", True], [" b ", False], ["  ", False]])
    assert b.cleaned().sentence == [["a ", False], ["b", False]]
    assert Alert(category="o", source="s", title="t", url="u").cleaned().sentence == []


def test_alert_from_article_fills_the_why() -> None:
    text = "Seit 6 Uhr ist das Netz der Telekom gestört. Kunden können nicht telefonieren."
    ms = [hit(text, "gestört", 3), hit(text, "nicht telefonieren", 2, sentence=1)]
    a = alert_from_article(art("Telekom", text), result(ms, score=5), "outage", article_id=1, story_id=2,
                           source_tags=["de"])
    assert a.sentence == [["Seit 6 Uhr ist das Netz der Telekom ", False], ["gestört", True], [".", False]]
    assert a.snippet == "Seit 6 Uhr ist das Netz der Telekom [gestört]."
    assert (a.strength, a.gloss, a.terms) == ("clear", "service down or failing", ["gestört", "nicht telefonieren"])
    assert Alert.from_json(a.to_json()).sentence == a.sentence


# -- the classifier's spans (the "6服务" bug) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return RULES


@pytest.mark.parametrize(("text", "expected"), [
    ("今天上午6服务中断，用户无法登录。", {"服务中断", "无法登录", "用户"}),
    ("微信今天上午出现故障，App服务中断，用户无法登录。", {"服务中断", "无法登录", "出现故障", "用户"}),
    ("中国移动5G网络瘫痪2小时，用户无法上网。", {"网络瘫痪", "无法上网", "移动", "5G", "用户"}),
])
def test_chinese_terms_are_reported_without_the_digits_or_latin_next_to_them(
        shipped: RuleSet, text: str, expected: set[str]) -> None:
    r = classify("", text, "zh", shipped)
    assert r.categories == ["outage"]
    shown = {m.text for m in r.matches if " NEAR/" not in m.term}
    assert shown == expected
    for m in r.matches:
        assert text[m.offset:m.offset + len(m.text)] == m.text
    ev = evidence(art("", text, "zh"), r, "outage")
    assert not any(str(t).startswith(("6服务", "App服务", "5G网络")) for t in marked(ev.sentence))


def test_wildcards_still_widen_to_the_whole_word(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text(
        "language: de\ncategories:\n  outage:\n    threshold: 1\n    require_actor: false\n"
        "    strong: ['*ausfall', 'stör*', 'ai换脸', '*故障', '服务中断']\n", encoding="utf-8")
    rules = load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    text = "Ein Netzausfall und Störungen. Ein ai换脸2 und 5G故障4 und 6服务中断7."
    r = classify("", text, "de", rules)
    assert sorted(m.text for m in r.matches) == sorted(["Netzausfall", "Störungen", "ai换脸", "故障", "服务中断"])


def test_vietnamese_and_arabic_spans_cover_their_diacritics(shipped: RuleSet) -> None:
    vi = unicodedata.normalize("NFD", "Khách hàng Vietcombank bị gián đoạn dịch vụ suốt buổi sáng.")
    r = classify("", vi, "vi", shipped)
    assert "outage" in r.categories
    for m in r.matches:
        assert vi[m.offset:m.offset + len(m.text)] == m.text
        assert not unicodedata.combining(m.text[0])
        end = m.offset + len(m.text)
        assert end == len(vi) or not unicodedata.combining(vi[end])   # the last letter's marks are inside
    ar = "أعلنت شركةُ فودافون عن انقطاعٍ الخدمةِ في القاهرة بسبب عطلٍ فنيٍّ."
    r = classify("", ar, "ar", shipped)
    for m in r.matches:
        assert ar[m.offset:m.offset + len(m.text)] == m.text
        end = m.offset + len(m.text)
        assert end == len(ar) or not unicodedata.combining(ar[end])


# -- properties ----------------------------------------------------------------------------------------------

WORDS = {
    "de": ["Störung", "Netzausfall", "Kunden", "Bank", "können", "nicht", "zahlen", "Straße", "Größe", "Übung",
           "e\u0301te\u0301", "naïve"],
    "vi": ["Khách hàng", "ngân hàng", "gián đoạn", "dịch vụ", "không thể", "thanh toán",
           unicodedata.normalize("NFD", "người dùng"), "sập", "mạng"],
    "ar": ["عملاء", "البنك", "انقطاعِ", "الخدمةُ", "تعطّل", "التطبيق", "عطلٌ", "فنيّ", "ــشبكة"],
    "zh": ["用户", "服务中断", "无法登录", "银行", "网络瘫痪", "系統故障", "中國移動", "报警"],
}
PUNCT = [".", ",", "!", "?", "…", "。", "，", "！", "？", "؟", "،", ":", ";", "(", ")", "«", "»", "\"", "-", "—"]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", " \n ", "\u2028"]
OTHER = ["6", "2024", "5G", "App", "٣", "\x1b", "\u200b", "\u00ad"]

token = st.one_of(
    st.sampled_from([w for ws in WORDS.values() for w in ws]), st.sampled_from(PUNCT), st.sampled_from(SPACES),
    st.sampled_from(OTHER), st.text(alphabet="aäbcéßxyzẞ中文字ابتثạảấ\u0301\u064e", min_size=1, max_size=6),
)


@st.composite
def articles(draw: st.DrawFn) -> tuple[Article, Classification, int]:
    body = "".join(draw(st.lists(token, min_size=1, max_size=120)))
    title = "Schlagzeile " + "".join(draw(st.lists(token, max_size=8)))
    text = draw(st.sampled_from(["", title + " ", title + "\n", title + ". "])) + body
    stripped = [i for i, ch in enumerate(text) if not ch.isspace()]
    matches: list[Match] = []
    for _ in range(draw(st.integers(0, 6))):
        if not stripped:
            break
        a = draw(st.sampled_from(stripped))
        ends = [i + 1 for i in stripped if a <= i < a + 30]
        b = draw(st.sampled_from(ends))
        fld = draw(st.sampled_from(["text", "text", "text", "title"]))
        if fld == "title":
            a2 = draw(st.integers(0, len(title) - 2))
            b2 = draw(st.integers(a2 + 1, len(title)))
            if title[a2:b2].strip() != title[a2:b2]:
                continue
            matches.append(Match("outage", "t", title[a2:b2], "title", a2, draw(st.sampled_from([2.0, 4.0, 6.0])), "x"))
            continue
        matches.append(Match("outage", draw(st.sampled_from(["t", "a NEAR/3 b"])), text[a:b], "text", a,
                             draw(st.sampled_from([1.0, 2.0, 3.0])), "x", "", draw(st.integers(0, 3))))
    if draw(st.booleans()):
        matches.append(Match("outage", "neg", text[:3] or "x", "text", 0, -2.0, "x"))
    limit = draw(st.sampled_from([MAX_SENTENCE, 40, 12]))
    return art(title, text), result(matches, score=draw(st.floats(3, 20))), limit


def _collapse(s: str) -> str:
    return re.sub(r"\s+", " ", s)


_END = re.compile(r"[.!?…](?=\s)|[。！？؟]|[\n\r\x0b\x0c\x85\u2028\u2029]")


@prop
@given(articles())
@example((art("Schlagzeile", "Schlagzeile Die Störung , dauert."),
          result([Match("outage", "t", "Störung", "text", 16, 3.0, "x")]), MAX_SENTENCE))
def test_the_sentence_is_a_verbatim_span_with_every_mark_whole(case: tuple[Article, Classification, int]) -> None:
    article, res, limit = case
    ev = evidence(article, res, "outage", limit=limit)
    positive = [m for m in res.matches if m.weight > 0]
    if not positive:
        assert ev.sentence == []
        return
    assert ev.sentence, "positive evidence located in the article always gives a sentence"
    source = article.text if ev.field == "text" else article.title
    (s0, s1), (b0, b1) = ev.span, ev.bounds
    segs = ev.sentence
    lead = segs[:1] == [[ELLIPSIS, False]] and s0 > b0
    tail = segs[-1:] == [[ELLIPSIS, False]] and s1 < b1
    assert lead == (s0 > b0) and tail == (s1 < b1)
    middle = segs[1 if lead else 0:len(segs) - 1 if tail else len(segs)]
    # verbatim: the texts joined are the span, whitespace runs collapsed; no segment empty
    assert joined(middle) == _collapse(source[s0:s1]).strip()
    assert all(t for t, _ in segs) and b0 <= s0 < s1 <= b1
    # every mark is a counted match's text (merged when they overlap), or that text written again
    pos = s0
    shown: list[tuple[int, int]] = []   # the marks, as spans of the source
    texts = {_collapse(m.text).casefold() for m in positive}
    real = [(m.offset, m.offset + len(m.text)) for m in positive if m.field == ev.field]
    for t, is_marked in middle:
        while source[pos].isspace() and not str(t).startswith(" "):
            pos += 1
        n = 0    # the original characters behind t
        k = 0
        while k < len(str(t)):
            if source[pos + n].isspace():
                while pos + n < s1 and source[pos + n].isspace():
                    n += 1
            else:
                n += 1
            k += 1
        if is_marked:
            shown.append((pos, pos + n))
            covering = [(a, b) for a, b in real if a < pos + n and pos < b]
            if covering:
                assert (min(a for a, _ in covering), max(b for _, b in covering)) == (pos, pos + n)
            else:
                assert _collapse(str(t)).casefold() in texts
        else:   # no counted match shown in part, or unmarked
            assert not any(a < pos + n and pos < b for a, b in real)
        pos += n
    # one sentence: a sentence end inside the span only where a match (or a mark) crosses it
    for m in _END.finditer(source, s0, s1) if ev.field == "text" else ():   # the title is one sentence
        p = m.end()
        if s0 < p < s1 and source[p:s1].strip():
            assert any(a < p < b for a, b in real + shown), (source[s0:s1], p)
    # the headline is shown already: never repeated inside a text sentence
    in_text = [m for m in positive if m.field == "text"]
    if ev.field == "text" and in_text and all(m.offset >= len(article.title) for m in in_text):
        assert "Schlagzeile" not in joined(segs)
    # cleaned() changes nothing but unshowable characters
    a = Alert(category="outage", source="s", title=article.title, url="u", sentence=segs).cleaned()
    assert joined(a.sentence) == one_line(joined(segs))
    assert [one_line(t) for t, m in a.sentence if m] == [one_line(str(t)) for t, m in segs if m and one_line(str(t))]


WORDS_ZH = ["用户", "服务中断", "6", "App", "无法登录", "银行", "5G", "网络瘫痪", "110", "报警", "，", "。", "系統故障"]
WORDS_VI = ["Khách hàng", "ngân hàng", "Vietcombank", "bị", "gián đoạn dịch vụ", "mất kết nối", "3G", "người dùng",
            "không thể thanh toán", ".", ",", "\n"]
WORDS_AR = ["عملاء", "البنك", "انقطاع الخدمة", "تعطل التطبيق", "وانقطاع الإنترنت", "عطل فني", "٣", "2024", "مشتركي",
            "خلل فني", "،", ".", "؟"]


@st.composite
def noisy(draw: st.DrawFn) -> tuple[str, str]:
    lang, words = draw(st.sampled_from([("zh", WORDS_ZH), ("vi", WORDS_VI), ("ar", WORDS_AR)]))
    parts = draw(st.lists(st.sampled_from(words), min_size=2, max_size=14))
    sep = "" if lang == "zh" else " "
    out = []
    for ch in draw(st.sampled_from([sep, "  "])).join(parts):
        r = draw(st.integers(0, 9))
        if lang == "vi" and r < 3:
            out.append(unicodedata.normalize("NFD", ch))
        elif lang == "ar" and r < 2 and "\u0621" <= ch <= "\u064a":
            out.append(ch + draw(st.sampled_from(["\u064e", "\u0651", "\u0640", "\u064b\u0652"])))
        else:
            out.append(ch)
    return lang, "".join(out)


@prop
@given(noisy())
def test_shipped_rules_report_spans_as_written(case: tuple[str, str]) -> None:
    lang, text = case
    r = classify("", text, lang, RULES)
    for m in r.matches:
        assert text[m.offset:m.offset + len(m.text)] == m.text
        assert m.text == m.text.strip() and not unicodedata.combining(m.text[0])
        end = m.offset + len(m.text)
        assert end == len(text) or not unicodedata.combining(text[end])
        if lang == "zh" and " NEAR/" not in m.term and " PRE/" not in m.term:
            assert not m.text[0].isascii() or m.term.casefold().startswith(m.text[0].casefold())
            assert not m.text[-1].isascii() or m.term.casefold().endswith(m.text[-1].casefold())
    for cat in r.categories:
        ev = evidence(art("", text, lang), r, cat)
        assert joined(ev.sentence) == _collapse(text[ev.span[0]:ev.span[1]]).strip()

