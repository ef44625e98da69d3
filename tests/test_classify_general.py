"""General rules tuned on extra4/, checked in several languages (each mistake looked for in the others)."""

from __future__ import annotations

import pytest

from monitor.classify import ClassifyConfig, classify, load_ruleset
from monitor.classify.rules import RuleSet


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return load_ruleset(ClassifyConfig(), tmp_path_factory.mktemp("cfg"))


def cats(rules: RuleSet, title: str, text: str, lang: str) -> list[str]:
    return classify(title, text, lang, rules).categories


# training / awareness programmes about fraud are background, in every language
@pytest.mark.parametrize("lang,title,text", [
    ("en", "Bank launches training programme to help staff spot fraud",
     "The bank will train staff in workshops on phishing and scam calls."),
    ("de", "Sparkasse startet Schulungen gegen Telefonbetrug",
     "In einem Kursprogramm werden Mitarbeiter geschult, Betrug und Schockanrufe zu erkennen."),
    ("es", "El banco forma a sus empleados para detectar estafas",
     "El curso incluye casos de llamadas de falsos empleados del banco y fraude telefónico."),
    ("fr", "La banque forme ses conseillers à repérer les arnaques",
     "Le programme de formation porte sur les faux conseillers et les arnaques au téléphone."),
])
def test_training_programmes_about_fraud_are_background(rules: RuleSet, lang: str, title: str, text: str) -> None:
    result = classify(title, text, lang, rules)
    assert "fraud" not in result.categories and "training" in result.genre


# "card payments declined": the refusal sense is an outage, never a denial
@pytest.mark.parametrize("lang,title,text", [
    ("en", "Card payments declined across the bank after system change", "Customers of the bank were stranded."),
    ("de", "Kartenzahlung abgelehnt: Kunden der Sparkasse ohne Geld", "Die Bank prüft die Ursache."),
    ("es", "Pagos con tarjeta rechazados en los clientes del banco", "El banco investiga la causa."),
])
def test_declined_card_payments_are_an_outage(rules: RuleSet, lang: str, title: str, text: str) -> None:
    assert cats(rules, title, text, lang) == ["outage"]


@pytest.mark.parametrize("lang,title,text", [
    ("de", "Telvia-Chefin will Spekulationen nicht kommentieren",
     "Die Chefin des Unternehmens wollte die Berichte weder bestätigen noch dementieren."),
    ("es", "El consejero delegado de Ondanet evita aclarar los rumores",
     "El directivo de la compañía evitó confirmar o negar las informaciones."),
    ("en", "Telecom boss will not comment on merger speculation",
     "The company declined to confirm or deny the reports."),
])
def test_neither_confirm_nor_deny_is_no_rebuttal(rules: RuleSet, lang: str, title: str, text: str) -> None:
    assert "rumor" not in cats(rules, title, text, lang)


@pytest.mark.parametrize("lang,title,text", [
    ("ar", 'شركة "مدى الرقمية" تصف منشورات إفلاسها بأنها مفبركة',
     "وصفت شركة مدى الرقمية المنشورات المتداولة حول إفلاسها بأنها مفبركة."),
    ("id", "KasPintar Sebut Unggahan soal Layanan Akan Ditutup Hasil Rekayasa",
     "Perusahaan KasPintar menegaskan tangkapan layar yang beredar adalah hasil rekayasa."),
    ("es", "La empresa de aguas niega haber sufrido un ciberataque",
     "La empresa ha negado haber sido víctima de un ciberataque y califica de bulo los mensajes."),
])
def test_called_fabricated_is_a_rebuttal(rules: RuleSet, lang: str, title: str, text: str) -> None:
    assert "rumor" in cats(rules, title, text, lang)


def test_a_politicians_denial_is_politics(rules: RuleSet) -> None:
    result = classify("MP denies plan to vote against the budget",
                      "The MP has denied reports that he intends to vote against the government's budget.", "en", rules)
    assert result.categories == [] and "politics" in result.genre


def test_preparedness_investment_is_no_outage(rules: RuleSet) -> None:
    result = classify("Selnet Pasang Baterai Cadangan di 5.000 BTS untuk Antisipasi Pemadaman Listrik",
                      "Operator seluler Selnet memperkuat ketahanan jaringan terhadap pemadaman listrik.", "id", rules)
    assert result.categories == [] and "resilience" in result.genre


def test_anniversary_with_a_number_is_history(rules: RuleSet) -> None:
    result = classify("Vor 20 Jahren: Als ein Softwarefehler die Geldautomaten im Norden lahmlegte",
                      "Zeitzeugen erinnern sich an Schlangen vor der Bank. Ein Museum zeigt zum Jahrestag Fotos.", "de",
                      rules)
    assert result.categories == [] and "history" in result.genre
