"""monitor.dates: parse_date fast paths, language hints, labels; find_published_in_text on the seeds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml

from monitor.dates import find_published_in_text, parse_date
from tests.conftest import SHARED

SEEDS = SHARED / "seeds"
UTC = timezone.utc
CET = timezone(timedelta(hours=1))

CASES = [
    ("Thu, 01 Jan 2004 19:48:21 GMT", None, datetime(2004, 1, 1, 19, 48, 21, tzinfo=UTC)),
    ("Sat, 07 Sep 2002 00:00:01 -0400", None, datetime(2002, 9, 7, 4, 0, 1, tzinfo=UTC)),
    ("Mon, 5 Oct 15 08:00:00 PDT", None, datetime(2015, 10, 5, 15, 0, tzinfo=UTC)),
    ("2003-12-31T10:14:55Z", None, datetime(2003, 12, 31, 10, 14, 55, tzinfo=UTC)),
    ("2024-03-01T10:00:00+01:00", None, datetime(2024, 3, 1, 9, 0, tzinfo=UTC)),
    ("2008-12-23", None, datetime(2008, 12, 23, tzinfo=UTC)),
    ("发布时间：2025-05-25 05:12:45", "zh", datetime(2025, 5, 25, 5, 12, 45, tzinfo=UTC)),
    ("2023年10月24日 10:31", "ja", datetime(2023, 10, 24, 10, 31, tzinfo=UTC)),
    ("Veröffentlicht am 3. Oktober 2023, 14:05 Uhr", "de", datetime(2023, 10, 3, 14, 5, tzinfo=UTC)),
    ("Cập nhật: 24/10/2023 10:31", "vi", datetime(2023, 10, 24, 10, 31, tzinfo=UTC)),
    ("24-10-2023 - 10:31 AM", "vi", datetime(2023, 10, 24, 10, 31, tzinfo=UTC)),
    ("03/04/2023", "fr", datetime(2023, 4, 3, tzinfo=UTC)),
    ("03/04/2023", "en-US", datetime(2023, 3, 4, tzinfo=UTC)),
    ("24 octobre 2023", "fr", datetime(2023, 10, 24, tzinfo=UTC)),
    ("12 تشرين الأول 2023", "ar", datetime(2023, 10, 12, tzinfo=UTC)),
    ("١٢/١٠/٢٠٢٣", "ar", datetime(2023, 10, 12, tzinfo=UTC)),
    ("October 24, 2023 10:31 PM", "en", datetime(2023, 10, 24, 22, 31, tzinfo=UTC)),
]


@pytest.mark.parametrize("value, language, expected", CASES, ids=[c[0] for c in CASES])
def test_parse_date(value: str, language: str | None, expected: datetime) -> None:
    got = parse_date(value, language)
    assert got is not None and got.tzinfo is not None
    assert got == expected


@pytest.mark.parametrize(
    "value", ["", "hello", "not a date at all", "32/13/2023", "0000-00-00", "   ", "🙂" * 300],
    ids=["empty", "word", "sentence", "impossible", "zeros", "blank", "long-junk"],
)
def test_parse_date_gives_none_not_exceptions(value: str) -> None:
    assert parse_date(value, "en") is None


def test_naive_dates_take_the_source_timezone() -> None:
    assert parse_date("2025-05-25 05:12:45", "zh", tz=CET) == datetime(2025, 5, 25, 5, 12, 45, tzinfo=CET)
    # a stated zone wins over the source zone
    assert parse_date("2025-05-25T05:12:45Z", "zh", tz=CET) == datetime(2025, 5, 25, 5, 12, 45, tzinfo=UTC)


def test_relative_dates_need_now() -> None:
    now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert parse_date("vor 2 Stunden", "de") is None
    assert parse_date("vor 2 Stunden", "de", now=now) == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


def _seed_expectations() -> list[tuple[str, datetime]]:
    if not SEEDS.is_dir():  # the tests using these are `conformance` ones, deselected without ../shared
        return []
    data = yaml.safe_load((SEEDS / "expected.yaml").read_text(encoding="utf-8"))
    out = []
    for name, spec in data.items():
        if spec.get("published") is not None:
            value = spec["published"]
            out.append((name, value if isinstance(value, datetime) else datetime.fromisoformat(str(value))))
    return out


SEED_CASES = _seed_expectations()


@pytest.mark.conformance
def test_seed_expectations_found() -> None:
    assert [name[:3] for name, _ in SEED_CASES] == ["001", "004"]


@pytest.mark.conformance
@pytest.mark.parametrize("name, expected", SEED_CASES, ids=[n for n, _ in SEED_CASES])
def test_find_published_in_seed_text(name: str, expected: datetime) -> None:
    data = yaml.safe_load((SEEDS / "expected.yaml").read_text(encoding="utf-8"))
    got = find_published_in_text((SEEDS / name).read_text(encoding="utf-8"), data[name]["language"])
    assert got is not None and got.tzinfo is UTC  # no zone stated on the page: UTC by convention
    assert got.replace(tzinfo=None) == expected.replace(tzinfo=None)


@pytest.mark.conformance
@pytest.mark.parametrize("name", ["000_924deedb2fb67d44.txt", "002_542d441121f06b8d.txt", "003_3eac16cddba1072d.txt"],
                         ids=["000-de", "002-ar", "003-de"])
def test_seeds_without_a_stated_date(name: str) -> None:
    data = yaml.safe_load((SEEDS / "expected.yaml").read_text(encoding="utf-8"))
    assert find_published_in_text((SEEDS / name).read_text(encoding="utf-8"), data[name]["language"]) is None


@pytest.mark.parametrize(
    "text, language, expected",
    [
        ("Headline\nBy Jane Doe\nPublished: 5 March 2024\nBody text", "en", datetime(2024, 3, 5, tzinfo=UTC)),
        ("标题\n2024年3月5日 08:30 来源：新华社\n正文", "zh", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
        ("Titel\nStand: 05.03.2024 14:10 Uhr\nText", "de", datetime(2024, 3, 5, 14, 10, tzinfo=UTC)),
        ("Title\nVersion 10.31 released\nNothing else", "en", None),
    ],
    ids=["en-label", "zh-cjk", "de-stand", "no-date"],
)
def test_find_published_in_text(text: str, language: str, expected: datetime | None) -> None:
    assert find_published_in_text(text, language) == expected
