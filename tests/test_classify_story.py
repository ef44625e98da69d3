"""The story-level decision: actors, headline/lead position, proximity rules, genre gate, stems.

Each rule of monitor/classify/scoring.py is tested on a small keyword file written here, so that the
test says exactly which mechanism decides; tests/test_classify_languages.py checks the shipped rules
per language.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.classify import ClassifyConfig, classify, load_ruleset
from monitor.classify.rules import RuleSet
from monitor.errors import KeywordError

RULES = """\
language: en
actors: [bank, customers, network, police]
genre:
  screen: [film, series, episode, premiere]
  sport: [match, striker, club]
categories:
  outage:
    threshold: 2
    strong: [network outage]
    medium: [outage, "(could not|unable to) NEAR/3 (log in|pay)"]
    weak: [down]
  rumor:
    threshold: 3
    strong: ["(deny|refute) NEAR/5 (rumor|report|claim)", "(report|claim) PRE/6 (false|baseless)"]
    weak: [rumor]
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    d = tmp_path_factory.mktemp("rules")
    (d / "en.yaml").write_text(RULES, encoding="utf-8")
    return load_ruleset(ClassifyConfig(defaults=False, keywords=["en.yaml"]), d)


def cats(rules: RuleSet, title: str, text: str) -> list[str]:
    return classify(title, text, "en", rules).categories


# -- actors ----------------------------------------------------------------------------------------

def test_evidence_counts_only_with_an_actor_in_the_same_sentence(rules: RuleSet) -> None:
    assert cats(rules, "Outage hits bank customers", "") == ["outage"]
    result = classify("Outage in the north", "Nobody knows more.", "en", rules)
    assert result.categories == []
    assert "no evidence tied to an organisation or service" in result.reasons["outage"]
    # the actor in another sentence does not help
    assert cats(rules, "", "An outage lasted hours. The bank opened late.") == []
    assert cats(rules, "", "An outage at the bank lasted hours.") == ["outage"]


def test_a_category_can_have_actors_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text(
        "language: en\nactors: [bank]\ncategories:\n  fraud:\n    threshold: 3\n    actors: [text message]\n"
        "    strong: [fake parcel]\n  outage:\n    threshold: 3\n    strong: [down]\n", encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    assert classify("Beware of fake parcel text messages", "", "en", r).categories == ["fraud"]
    assert classify("Text messages down", "", "en", r).categories == []   # an actor of fraud only
    assert classify("SMS down", "", "en", r).categories == ["outage"]   # an acronym names a service


def test_matches_name_the_actor(rules: RuleSet) -> None:
    result = classify("Outage hits bank customers", "", "en", rules)
    (m,) = [m for m in result.matches if m.term == "outage"]
    assert m.actor in ("bank", "customers") and m.field == "title"


def test_a_file_without_actors_binds_everything(tmp_path: Path) -> None:
    (tmp_path / "q.yaml").write_text(
        "language: en\ncategories:\n  quake:\n    threshold: 3\n    strong: [earthquake]\n", encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["q.yaml"]), tmp_path)
    assert classify("Earthquake in the north", "", "en", r).categories == ["quake"]


def test_a_users_own_category_needs_no_actor_next_to_the_shipped_rules(tmp_path: Path) -> None:
    (tmp_path / "q.yaml").write_text(
        'language: "*"\ncategories:\n  recall:\n    threshold: 3\n    strong: [product recall]\n', encoding="utf-8")
    r = load_ruleset(ClassifyConfig(keywords=["q.yaml"]), tmp_path)
    assert "recall" in classify("Big product recall announced", "", "en", r).categories
    assert r.settings("en", "outage").require_actor and not r.settings("en", "recall").require_actor


def test_require_actor_false_opts_a_category_out(tmp_path: Path) -> None:
    (tmp_path / "q.yaml").write_text(
        "language: en\nactors: [bank]\ncategories:\n  quake:\n    threshold: 3\n    require_actor: false\n"
        "    strong: [earthquake]\n  outage:\n    threshold: 3\n    strong: [outage]\n", encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["q.yaml"]), tmp_path)
    assert classify("Earthquake and outage in the north", "", "en", r).categories == ["quake"]


# -- position ----------------------------------------------------------------------------------------

def test_told_in_the_lead_or_repeated_in_the_body(rules: RuleSet) -> None:
    filler = "The weather was fine. Trains ran on time. Schools opened. "
    assert cats(rules, "A quiet Monday", "The bank had an outage. More later.") == ["outage"]
    once = classify("A quiet Monday", filler + "The bank network outage was short.", "en", rules)
    assert once.categories == []
    assert "headline and lead do not report it" in once.reasons["outage"]
    twice = filler + "The bank network outage was short. Customers saw the network outage again."
    assert cats(rules, "A quiet Monday", twice) == ["outage"]


# -- proximity -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("The bank denied the rumors today.", ["rumor"]),
    ("Rumors about the bank were refuted.", ["rumor"]),                          # either order, stems
    ("The bank denied that a long and winding and very odd set of rumors spread.", []),  # > 5 words
    ("The bank denied it. Rumors spread.", []),                                   # two sentences
    ("The bank said the report was false.", ["rumor"]),                           # PRE: report first
    ("False: the bank report.", []),                                              # PRE: wrong order
    ("The bank comments on merger rumors.", []),                                  # no act of denial
], ids=["near", "either-order", "too-far", "other-sentence", "pre", "pre-order", "no-denial"])
def test_proximity(rules: RuleSet, text: str, expected: list[str]) -> None:
    assert cats(rules, "", text) == expected


def test_proximity_match_spans_both_operands(rules: RuleSet) -> None:
    text = "The bank denied the rumors today."
    (m,) = [m for m in classify("", text, "en", rules).matches if m.category == "rumor"]
    assert m.text == "denied the rumors" and text[m.offset:m.offset + len(m.text)] == m.text


def test_proximity_negatives_and_vetoes(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text(
        'language: en\nactors: [bank]\ncategories:\n  fraud:\n    threshold: 3\n    strong: [fake message]\n'
        '    negative: [{term: "(deny|says) NEAR/6 (fake|false)", weight: 6}]\n'
        '    veto: ["(drill|exercise) NEAR/3 phishing"]\n    medium: [phishing]\n', encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    assert classify("Bank warns of fake message", "", "en", r).categories == ["fraud"]
    denied = classify("Bank says the fake message about it is false", "", "en", r)
    assert denied.categories == [] and denied.scores["fraud"] < 3
    drill = classify("Bank phishing drill: phishing test for staff", "", "en", r)
    assert drill.categories == [] and drill.vetoed["fraud"] == ["(drill|exercise) NEAR/3 phishing"]


@pytest.mark.parametrize("term,message", [
    ("a NEAR/0 b", "NEAR/0 must be between NEAR/1 and NEAR/50"),
    ("a NEAR/x b", "write a proximity rule as"),
    ("(xx|) NEAR/3 yy", "each side of NEAR is a term"),
])
def test_bad_proximity_rules_name_file_and_line(tmp_path: Path, term: str, message: str) -> None:
    (tmp_path / "k.yaml").write_text(
        f'language: en\ncategories:\n  t:\n    strong: ["{term}"]\n', encoding="utf-8")
    with pytest.raises(KeywordError) as info:
        load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    (problem,) = info.value.problems
    assert problem.line == 4 and problem.file.endswith("k.yaml") and message in problem.message


# -- genre gate ------------------------------------------------------------------------------------

def test_genre_gate_suppresses_unless_the_headline_reports_the_event(rules: RuleSet) -> None:
    review = "The film follows a bank network outage. Each episode of the series adds a twist."
    gated = classify("A tense evening", review, "en", rules)
    assert gated.categories == [] and "screen" in gated.genre
    assert "screen article" in gated.reasons["outage"]
    # the headline itself reports a strong event tied to an actor: the story stands
    assert cats(rules, "Bank network outage", review) == ["outage"]
    # ... unless the headline is itself a film headline
    assert cats(rules, "Film premiere: bank network outage", review) == []


def test_a_club_denying_transfer_rumors_is_sport(rules: RuleSet) -> None:
    text = "The club denied the rumors. The striker stays, the club said before the match."
    assert cats(rules, "Striker stays", text) == []


# -- stems -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("language,term,actor,text", [
    ("ru", "сбой", "банк", "У клиентов банка сбои в работе приложения"),
    ("pt", "serviço interrompido", "banco", "Os serviços interrompidos do banco voltaram"),
    ("de", "Störung", "Bank", "Die Bank meldet Störungen beim Onlinebanking"),
    ("es", "caída", "banco", "Las caídas del banco afectaron a miles"),
    ("fr", "panne", "banque", "Les pannes de la banque se multiplient"),
    ("id", "gangguan", "bank", "Gangguannya membuat nasabah bank kesal"),
    ("en", "outage", "bank", "Outages at the bank continued"),
    ("es", "interrupción", "banco", "Nuevas interrupciones en el banco"),   # the accent moves
], ids=["ru", "pt", "de", "es", "fr", "id", "en", "es-accent"])
def test_inflected_forms_match_by_stem(tmp_path: Path, language: str, term: str, actor: str, text: str) -> None:
    (tmp_path / "k.yaml").write_text(
        f"language: {language}\nactors: [{actor}]\ncategories:\n  outage:\n    threshold: 3\n"
        f"    strong: [{term}]\n", encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    result = classify(text, "", language, r)
    assert result.categories == ["outage"], result.reasons
    (m,) = [m for m in result.matches if m.category == "outage"]
    assert text[m.offset:m.offset + len(m.text)] == m.text


def test_stems_do_not_cross_words(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text(
        "language: en\ncategories:\n  outage:\n    threshold: 3\n    strong: [outage]\n", encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    assert classify("Outagedetector ranks", "", "en", r).categories == []
    assert classify("Outages", "", "en", r).categories == ["outage"]


def test_wildcard_terms_stay_literal(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text(
        'language: de\ncategories:\n  outage:\n    threshold: 3\n    strong: ["*ausfall"]\n', encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    assert classify("Netzausfall in Berlin", "", "de", r).categories == ["outage"]
    assert classify("Netzausfälle in Berlin", "", "de", r).categories == []


def test_an_exact_term_is_not_stemmed(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text(
        'language: pt\ncategories:\n  t:\n    threshold: 3\n    strong: ["=autor", golpe]\n', encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    assert classify("O autor do livro", "", "pt", r).categories == ["t"]
    assert classify("As autoridades falaram", "", "pt", r).categories == []
    assert classify("Os golpes do verão", "", "pt", r).categories == ["t"]


def test_entity_names_inflect(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text(
        "language: ru\nactors: [клиент]\ncategories:\n  outage:\n    threshold: 3\n    strong: [сбой]\n",
        encoding="utf-8")
    cfg = ClassifyConfig(defaults=False, keywords=["k.yaml"], entities=[{"name": "Sberbank", "aliases": ["Сбербанк"]}])
    r = load_ruleset(cfg, tmp_path)
    result = classify("Сбой у Сбербанка", "", "ru", r)
    assert result.entities == ["Sberbank"] and result.categories == ["outage"]


# -- keyword file checks ---------------------------------------------------------------------------

def test_language_must_be_iso_639_1_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text("language: eng\ncategories:\n  t:\n    strong: [x1]\n", encoding="utf-8")
    with pytest.raises(KeywordError) as info:
        load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    (problem,) = info.value.problems
    assert problem.line == 1 and "not an ISO 639-1 code" in problem.message and '"en"' in problem.message


def test_unknown_file_key_suggests(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text("language: en\nactor: [bank]\ncategories:\n  t:\n    strong: [x1]\n",
                                     encoding="utf-8")
    with pytest.raises(KeywordError) as info:
        load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    assert 'did you mean "actors"' in str(info.value.problems[0])


def test_names_by_their_shape_are_actors_and_datelines_are_not(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text(
        "language: en\nactors: [bank]\ncategories:\n  outage:\n    threshold: 3\n    strong: [outage]\n",
        encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["k.yaml"]), tmp_path)
    for title in ("Outage at HSBC", "WhatsApp outage", "Outage hits ВКонтакте"):
        result = classify(title, "", "en", r)
        assert result.categories == ["outage"], title
        assert [m.actor for m in result.matches][0] in title
    assert classify("Quiet day", "LONDON (Reuters) - An outage was over by noon.", "en", r).categories == []
    assert classify("OUTAGE IN THE NORTH", "", "en", r).categories == []   # capitals say nothing


def test_what_is_denied_is_not_reported_and_rumor_needs_a_denial() -> None:
    from monitor.classify import default_ruleset

    rules = default_ruleset()
    denied = classify("Bank denies reports of an outage", "", "en", rules)
    assert denied.categories == ["rumor"] and "only in what is denied" in denied.reasons["outage"]
    # an outage stated before the rumours it caused stays an outage
    both = classify("A quiet day", "The bank's app outage on Monday started rumours. The bank denied the rumours.",
                    "en", rules)
    assert set(both.categories) == {"outage", "rumor"}
    silent = classify("Barclays declines to comment on merger rumours",
                      "The bank said it does not comment on market speculation.", "en", rules)
    # declining to comment is no denial: either no medium evidence, or the negative "declines to comment" voids it
    assert silent.categories == [] and (
        "rumor" not in silent.reasons or "flagged:" not in silent.reasons["rumor"].replace("not flagged:", ""))


def test_proximity_genre_markers(tmp_path: Path) -> None:
    """A genre marker can be a proximity rule: "vor 20 Jahren" has a number no literal marker can spell."""
    (tmp_path / "g.yaml").write_text(
        "language: de\nactors: [Bank, Geldautomat]\ngenre:\n  history: [\"vor PRE/1 Jahren\", Jahrestag, Zeitzeugen]\n"
        "categories:\n  outage:\n    threshold: 3\n    strong: [Softwarefehler]\n", encoding="utf-8")
    r = load_ruleset(ClassifyConfig(defaults=False, keywords=["g.yaml"]), tmp_path)
    old = classify("Vor 20 Jahren: Als ein Softwarefehler die Geldautomaten lahmlegte",
                   "Zeitzeugen erinnern sich an die Schlangen vor der Bank.", "de", r)
    assert old.categories == [] and "history" in old.genre and "vor PRE/1 Jahren" in old.genre["history"]
    now = classify("Softwarefehler legt Geldautomaten lahm", "Die Bank arbeitet an einer Lösung.", "de", r)
    assert now.categories == ["outage"] and not now.genre
    # a proximity marker needs both operands in one sentence, within its distance
    far = classify("Softwarefehler legt Geldautomaten lahm", "Vor allem ältere Kunden, die seit Jahren kommen.", "de", r)
    assert far.categories == ["outage"]
    (tmp_path / "bad.yaml").write_text("language: de\ngenre:\n  history: [\"vor PRE/99 Jahren\"]\n"
                                       "categories:\n  outage:\n    strong: [Ausfall]\n", encoding="utf-8")
    with pytest.raises(KeywordError, match="PRE/1 and PRE/50"):
        load_ruleset(ClassifyConfig(defaults=False, keywords=["bad.yaml"]), tmp_path)
