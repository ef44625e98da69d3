"""Stories: near-copies found by MinHash LSH in the store, reports joined across outlets and languages
by entity and category, by names and numbers, or by similar text; windows, and the cases that must stay
apart. Each placement runs inside a real store transaction, as the pipeline does it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.models import Article, Classification, Match
from monitor.store import open_store
from monitor.stories import Placement, minhash, place, remember, report_time, shingles, similarity

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
WINDOW = 48 * 3600.0

WIRE = ("Customers of the payment app PayFlux could not send money for most of Tuesday morning. The company said "
        "a faulty database update at its main data centre caused the failure, which began shortly after 7 a.m. "
        "and affected about 40,000 transfers. Card payments in shops were declined for two hours, and the "
        "support line was overwhelmed. PayFlux said all transfers would be completed by the evening and that "
        "no money had been lost. Engineers rolled back the update at 9.30 a.m., according to a statement.")


class Store:
    def __init__(self, tmp_path: Path) -> None:
        self.store = open_store(tmp_path / "stories.db")
        self.n = 0

    def add(self, title: str, text: str, *, source: str, language: str = "en", categories: list[str] | None = None,
            entities: list[str] | None = None, at: datetime = T0, actor: str = "",
            published: datetime | None = None) -> Placement:
        self.n += 1
        cats = categories or ["outage"]
        article = Article(url=f"https://{source}.example/{self.n}", source_id=source, title=title, text=text,
                          language=language, published=published or at, fetched=at)
        result = Classification(categories=cats, scores={c: 5.0 for c in cats},
                                matches=[Match(c, "x", "x", "text", 0, 2.0, language, actor=actor) for c in cats],
                                entities=entities or [], language=language)
        with self.store.transaction() as conn:
            article_id = self.store.add_article(conn, article, result, None)
            placement, hashes = place(conn, article, result, at, window=WINDOW, copy_similarity=0.75,
                                      similar_text=0.3, denial=frozenset({"rumor"}))
            conn.execute("UPDATE articles SET story_id = ?, copy_of = ? WHERE id = ?",
                         (placement.story.id, placement.copy_of, article_id))
            remember(conn, article_id, hashes, 0.75, report_time(article, at))
        return placement


@pytest.fixture
def s(tmp_path: Path) -> Store:
    return Store(tmp_path)


def test_a_wire_story_on_three_sites_is_one_story_and_two_copies(s: Store) -> None:
    first = s.add("PayFlux transfers fail after update", WIRE, source="wire")
    edited = WIRE.replace("Tuesday morning", "Tuesday").replace("two hours", "around two hours") + " More follows."
    copies = [s.add("Payment app PayFlux down", edited, source=src, at=T0 + timedelta(minutes=m))
              for src, m in (("daily", 20), ("portal", 45))]
    assert first.created and first.copy_of is None
    assert [(c.story.id, c.copy_of, c.created) for c in copies] == [(first.story.id, 1, False)] * 2
    assert copies[-1].story.sources == ["wire", "daily", "portal"]
    assert copies[-1].story.articles == 3
    (copy_of,) = zip(*s.store.query("SELECT copy_of FROM articles ORDER BY id"), strict=True)
    assert copy_of == (None, 1, 1)


def test_the_same_outage_in_three_languages_is_one_story(s: Store) -> None:
    de = s.add("Störung bei Zahlwerk", "Die App von Zahlwerk war am Dienstag stundenlang gestört.", source="heise",
               language="de", entities=["Zahlwerk"])
    vi = s.add("Zahlwerk gián đoạn", "Ứng dụng Zahlwerk bị gián đoạn nhiều giờ vào thứ Ba.", source="vnexpress",
               language="vi", entities=["Zahlwerk"], at=T0 + timedelta(hours=3))
    ar = s.add("تعطل زالفيرك", "تعطل تطبيق زالفيرك لساعات يوم الثلاثاء.", source="alarabiya", language="ar",
               entities=["Zahlwerk"], at=T0 + timedelta(hours=5))
    assert de.created and not vi.created and not ar.created
    assert vi.story.id == ar.story.id == de.story.id
    assert ar.story.languages == ["de", "vi", "ar"] and ar.story.sources == ["heise", "vnexpress", "alarabiya"]
    assert (vi.why, vi.copy_of) == ("same entity (Zahlwerk)", None)


def test_two_outages_of_one_company_a_week_apart_are_two_stories(s: Store) -> None:
    a = s.add("Zahlwerk down", "The Zahlwerk app failed.", source="a", entities=["Zahlwerk"])
    b = s.add("Zahlwerk down again", "The Zahlwerk app failed again.", source="b", entities=["Zahlwerk"],
              at=T0 + timedelta(days=7))
    assert a.created and b.created and a.story.id != b.story.id


def test_reports_count_when_they_were_published(s: Store) -> None:
    """A backlog read today: last week's outage and today's are two stories even when fetched together."""
    now = T0 + timedelta(days=8)
    old = s.add("Zahlwerk down", "The Zahlwerk app failed.", source="a", entities=["Zahlwerk"], at=now,
                published=T0)
    new = s.add("Zahlwerk down again", "The Zahlwerk app failed again.", source="b", entities=["Zahlwerk"], at=now)
    assert old.created and new.created
    future = s.add("Zahlwerk down", "A page dated next year.", source="c", entities=["Zahlwerk"], at=now,
                   published=now + timedelta(days=300))
    assert future.story.id == new.story.id, "a date in the future counts as now"


def test_a_story_stays_open_while_reports_keep_coming(s: Store) -> None:
    ids = {s.add("Zahlwerk down", f"Day {d}: the Zahlwerk app still fails.", source=f"s{d}", entities=["Zahlwerk"],
                 at=T0 + timedelta(days=d)).story.id for d in range(4)}
    assert len(ids) == 1, "a report every 24 h keeps a 48 h window open"


def test_two_companies_down_the_same_day_are_two_stories(s: Store) -> None:
    a = s.add("Zahlwerk down", "The Zahlwerk app failed for 40,000 users.", source="a", entities=["Zahlwerk"])
    b = s.add("Kontora down", "The Kontora app failed for 40,000 users.", source="b", entities=["Kontora"])
    assert a.story.id != b.story.id


def test_a_story_gains_a_category_when_the_company_denies_rumors(s: Store) -> None:
    s.add("Zahlwerk app down", "The Zahlwerk app failed.", source="a", entities=["Zahlwerk"])
    denial = s.add("Zahlwerk denies hacking reports", "Zahlwerk called reports of a hack fake news.", source="b",
                   categories=["rumor"], entities=["Zahlwerk"], at=T0 + timedelta(hours=2))
    assert not denial.created
    assert denial.new_categories == ["rumor"]
    assert denial.story.categories == ["outage", "rumor"]
    fraud = s.add("Zahlwerk warns of phishing", "Zahlwerk warned of fake e-mails.", source="c",
                  categories=["fraud"], entities=["Zahlwerk"], at=T0 + timedelta(hours=3))
    assert fraud.created, "an unrelated category of the same company is another story"


def test_without_an_entity_names_and_numbers_join_languages(s: Store) -> None:
    en = s.add("PayFlux outage hits 40,000 transfers", WIRE, source="wire", actor="PayFlux")
    de = s.add("PayFlux: 40.000 Überweisungen hängen fest",
               "Bei der Bezahl-App PayFlux hingen am Dienstag rund 40.000 Überweisungen fest; die Firma nannte ein "
               "fehlerhaftes Update als Ursache.", source="heise", language="de", at=T0 + timedelta(hours=1),
               actor="PayFlux")
    other = s.add("Kontora app fails", "Kontora users could not log in for 3 hours on Monday.", source="x",
                  at=T0 + timedelta(hours=2), actor="Kontora")
    assert de.story.id == en.story.id and de.why == "the names and numbers agree"
    assert other.created


def test_two_banks_warning_of_phishing_the_same_day_are_two_stories(s: Store) -> None:
    """Shared jargon (SMS, PIN, TAN) and generic actors (the bank, the police) are no shared name."""
    a = s.add("Harbor Bank warns of phishing SMS", "Harbor Bank warned customers of fake SMS asking for their PIN "
              "and TAN. The police said 24 people lost money.", source="a", categories=["fraud"], actor="bank")
    b = s.add("Nordmark Bank warnt vor Phishing-SMS", "Die Nordmark Bank warnt vor gefälschten SMS, die nach PIN und "
              "TAN fragen. Die Polizei zählte 24 Fälle.", source="b", language="de", categories=["fraud"],
              actor="bank", at=T0 + timedelta(hours=1))
    assert a.created and b.created


def test_without_an_entity_similar_text_in_one_language_joins(s: Store) -> None:
    a = s.add("Mobile network down in the north", WIRE, source="a")
    rewritten = " ".join(WIRE.split()[:45]) + " The regulator asked for a report."
    b = s.add("Network failure in the north", rewritten, source="b", at=T0 + timedelta(hours=1))
    assert b.story.id == a.story.id and b.copy_of is None and b.why in ("similar text", "the names and numbers agree")


def test_a_merged_story_takes_the_copies_of_its_articles(s: Store) -> None:
    a = s.add("PayFlux transfers fail", WIRE, source="wire")
    other = s.add("Something else", "Kontora users could not log in.", source="x", actor="Kontora")
    with s.store.transaction() as conn:
        conn.execute("UPDATE stories SET merged_into = ? WHERE id = ?", (other.story.id, a.story.id))
        conn.execute("UPDATE articles SET story_id = ? WHERE story_id = ?", (other.story.id, a.story.id))
    copy = s.add("PayFlux down", WIRE + " Update.", source="daily")
    assert (copy.story.id, copy.copy_of) == (other.story.id, 1)


def test_shingles_work_without_word_spaces() -> None:
    zh = "中国联通表示，系统升级故障导致部分用户话费异常，公司将全额退还多扣费用。"
    assert len(shingles(zh, "zh")) > 20
    a, b = minhash(zh, "zh"), minhash(zh.replace("全额", "全部"), "zh")
    assert similarity(a, b) > 0.7 > similarity(a, minhash("完全不同的一篇新闻，讲的是天气和交通。", "zh"))


def test_the_store_keeps_the_signature(s: Store) -> None:
    p = s.add("PayFlux outage", WIRE, source="wire", actor="PayFlux")
    (names,) = s.store.query("SELECT names FROM stories WHERE id = ?", (p.story.id,))[0]
    assert {"n:payflux", "#:40000"} <= set(json.loads(names))
    assert s.store.query("SELECT count(*) FROM article_bands")[0][0] > 0
