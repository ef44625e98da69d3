"""Publication dates from feed, sitemap and page metadata, and from the first lines of article text.

`parse_date` tries cheap exact forms first (RFC 822 via email.utils, ISO 8601 via fromisoformat,
numeric day-month-year and CJK 年月日 forms with a regex), then dateparser with the language as a
hint, one reused DateDataParser per language and only the absolute-date parsers (relative dates such
as "2 hours ago" only when `now` is given). Labels such as `发布时间：`, `Veröffentlicht am` or
`Cập nhật` are stripped first; Levantine Arabic month names (which dateparser does not know) are mapped
to the standard ones; Arabic-Indic and full-width digits are read as ASCII digits.

Every datetime returned is timezone-aware. A date that states no zone is taken as wall-clock time in
`tz` if given, else as UTC: callers comparing wall-clock fields (as the seeds' expected.yaml does)
read `.replace(tzinfo=None)`. Nothing here raises on bad input; it returns None. Reads no config.
"""

from __future__ import annotations

import email.utils
import re
import threading
from datetime import datetime, timedelta, timezone, tzinfo

UTC = timezone.utc
_MIN_YEAR, _MAX_YEAR = 1990, 2100

# Languages whose numeric dates are month-first. Everyone else reads 03/04 as 3 April.
_MDY_LANGUAGES = frozenset({"en"})

_DIGITS = str.maketrans(
    "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９：／－．",
    "012345678901234567890123456789:/-.",
)

_LEVANTINE_MONTHS = [
    ("كانون الثاني", "يناير"), ("كانون الأول", "ديسمبر"), ("تشرين الأول", "أكتوبر"),
    ("تشرين الثاني", "نوفمبر"), ("شباط", "فبراير"), ("آذار", "مارس"), ("نيسان", "أبريل"),
    ("أيار", "مايو"), ("حزيران", "يونيو"), ("تموز", "يوليو"), ("آب", "أغسطس"), ("أيلول", "سبتمبر"),
]

# Labels that precede a date on article pages, in the languages we monitor.
_LABELS = (
    "发布时间", "發佈時間", "發布時間", "更新时间", "更新時間", "发布日期", "發布日期", "时间", "時間", "日期",
    "发表于", "發表於", "来源时间", "公開日", "更新日", "投稿日", "配信日", "掲載日",
    "veröffentlicht am", "veröffentlicht", "aktualisiert am", "aktualisiert", "erstellt am", "stand",
    "cập nhật lúc", "cập nhật", "ngày đăng", "đăng lúc",
    "published on", "published", "updated on", "updated", "last updated", "posted on", "posted",
    "date", "publié le", "publié", "mis à jour le", "mis à jour", "publicado el", "publicado em",
    "publicado", "actualizado el", "actualizado", "atualizado em", "atualizado", "pubblicato il",
    "pubblicato", "aggiornato il", "aggiornato", "opublikowano", "aktualizacja", "data publikacji",
    "опубликовано", "обновлено", "дата публикации", "дата", "نشر في", "نشر بتاريخ", "تاريخ النشر",
    "آخر تحديث", "نشر", "تحديث", "yayınlanma tarihi", "yayınlanma", "güncelleme", "julkaistu",
    "päivitetty", "gepubliceerd op", "bijgewerkt", "기사입력", "입력", "수정", "등록일",
)
_LABEL_RE = re.compile(
    r"^\s*(?:"
    + "|".join(re.escape(label) for label in sorted(_LABELS, key=len, reverse=True))
    + r")\s*(?:[:：]|\s|(?=\d))\s*",
    re.IGNORECASE,
)
# A generic "Some label: <date>" prefix (no digits before the colon).
_GENERIC_LABEL_RE = re.compile(r"^\s*[^\d:：,]{1,30}[:：]\s*(?=\S)")

_RFC822_RE = re.compile(
    r"^\s*(?:[A-Za-z]{3},?\s+)?\d{1,2}\s+[A-Za-z]{3}[a-z]*\s+\d{2,4}\s+\d{1,2}:\d{2}", re.ASCII
)
_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?$"
    r"|^\d{8}T\d{4}(?:\d{2})?(?:Z|[+-]\d{2}:?\d{2})?$"  # ISO basic format: 20180619T055000+0900
)
_TIME = r"(?:\D{0,6}?(\d{1,2})[:h](\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?|SA|CH|sa|ch)?)?"
_NUMERIC_RE = re.compile(r"(?<!\d)(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})(?!\d)" + _TIME)
_CJK_RE = re.compile(
    r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일号]?"
    r"(?:\s*(?:[上下]午)?\s*(\d{1,2})\s*[:時时시]\s*(\d{1,2})(?:\s*[:分분]\s*(\d{1,2}))?)?"
)
_TZ_SUFFIX_RE = re.compile(r"(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\s*$", re.IGNORECASE)

_PARSERS: dict[str | None, object] = {}
_PARSERS_LOCK = threading.Lock()


def _normalise(value: str) -> str:
    value = value.translate(_DIGITS).replace("\xa0", " ").strip()
    for old, new in _LEVANTINE_MONTHS:
        if old in value:
            value = value.replace(old, new)
    return value


def strip_label(value: str) -> str:
    """`value` without a leading date label such as `发布时间：` or `Veröffentlicht am`."""
    m = _LABEL_RE.match(value)
    if m:
        return value[m.end():]
    m = _GENERIC_LABEL_RE.match(value)
    if m:
        return value[m.end():]
    return value


def _aware(dt: datetime, tz: tzinfo | None) -> datetime | None:
    if not (_MIN_YEAR <= dt.year <= _MAX_YEAR):
        return None
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        dt = dt.replace(tzinfo=tz or UTC)
    return dt


def _year(y: int) -> int:
    if y < 100:
        return 2000 + y if y < 70 else 1900 + y
    return y


def _from_numeric(m: re.Match[str], language: str | None) -> datetime | None:
    a, b, c = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if len(m.group(1)) == 4:
        year, month, day = a, b, c
    elif len(m.group(3)) in (2, 4):
        year = _year(c)
        if language in _MDY_LANGUAGES and a <= 12:
            month, day = a, b
        else:
            day, month = a, b
        if month > 12 and day <= 12:
            day, month = month, day
    else:
        return None
    hour = minute = second = 0
    if m.group(4):
        hour, minute, second = int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)
        ampm = (m.group(7) or "").lower().replace(".", "")
        if ampm in ("pm", "ch") and hour < 12:
            hour += 12
        elif ampm in ("am", "sa") and hour == 12:
            hour = 0
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _from_cjk(m: re.Match[str]) -> datetime | None:
    hour = int(m.group(4) or 0)
    if hour < 12 and "下午" in m.group(0):
        hour += 12
    try:
        return datetime(
            int(m.group(1)), int(m.group(2)), int(m.group(3)), hour, int(m.group(5) or 0), int(m.group(6) or 0)
        )
    except ValueError:
        return None


def _explicit_offset(value: str) -> tzinfo | None:
    m = _TZ_SUFFIX_RE.search(value)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    if minutes > 14 * 60:
        return None
    return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))


def _dateparser(language: str | None):  # type: ignore[no-untyped-def]
    key = language
    parser = _PARSERS.get(key)
    if parser is not None:
        return parser
    from dateparser.date import DateDataParser

    parsers = ["timestamp", "custom-formats", "absolute-time"]
    settings = {
        "PREFER_DAY_OF_MONTH": "first",
        "PARSERS": parsers,
        "DATE_ORDER": "MDY" if language in _MDY_LANGUAGES else "DMY",
    }
    with _PARSERS_LOCK:
        try:
            parser = DateDataParser(languages=[language] if language else None, settings=settings)
        except ValueError:  # language unknown to dateparser
            parser = DateDataParser(settings=settings)
        _PARSERS[key] = parser
    return parser


def parse_http_date(value: str) -> datetime | None:
    """An HTTP date (RFC 9110: "Sun, 06 Nov 1994 08:49:37 GMT") as an aware datetime, or None."""
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _language(language: str | None) -> str | None:
    if not language:
        return None
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0] or None


def parse_date(
    value: str, language: str | None = None, *, tz: tzinfo | None = None, now: datetime | None = None
) -> datetime | None:
    """A timezone-aware datetime for `value`, or None. `language` (ISO 639-1, "en-US" accepted) is a
    hint for month names and day/month order; `tz` is the zone of dates that state none (default UTC);
    `now` enables relative dates ("vor 2 Stunden") relative to it."""
    if not value or not isinstance(value, str):
        return None
    lang = _language(language)
    text = _normalise(value)
    if len(text) > 200:
        text = text[:200]
    text = strip_label(text).strip(" \t\r\n|-–—·•")
    if not text:
        return None
    # ISO 8601 (fromisoformat reads "Z", offsets, "T" or space separators and fractions)
    if _ISO_RE.match(text):
        try:
            return _aware(datetime.fromisoformat(text.replace(",", ".")), tz)
        except ValueError:
            pass
    # RFC 822 (feeds, HTTP headers, e-mail)
    if _RFC822_RE.match(text):
        try:
            return _aware(email.utils.parsedate_to_datetime(text), tz)
        except (TypeError, ValueError, IndexError):
            pass
    m = _CJK_RE.search(text)
    if m:
        dt = _from_cjk(m)
        if dt is not None:
            return _aware(dt, _explicit_offset(text) or tz)
    m = _NUMERIC_RE.match(text)
    if m and not re.search(r"[A-Za-z]{3}", text[m.end():].replace("GMT", "").replace("UTC", "")):
        dt = _from_numeric(m, lang)
        if dt is not None:
            return _aware(dt, _explicit_offset(text) or tz)
    try:
        data = _dateparser(lang).get_date_data(text) if now is None else _relative(lang, text, now)
    except Exception:  # dateparser raises assorted errors on odd input; never propagate them
        return None
    dt = getattr(data, "date_obj", None) if data is not None else None
    if dt is None:
        return None
    return _aware(dt, tz)


def _relative(lang: str | None, text: str, now: datetime):  # type: ignore[no-untyped-def]
    from dateparser.date import DateDataParser

    base = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    settings = {
        "PREFER_DAY_OF_MONTH": "first",
        "RELATIVE_BASE": base,
        "DATE_ORDER": "MDY" if lang in _MDY_LANGUAGES else "DMY",
        "PARSERS": ["timestamp", "relative-time", "custom-formats", "absolute-time"],
    }
    try:
        parser = DateDataParser(languages=[lang] if lang else None, settings=settings)
    except ValueError:
        parser = DateDataParser(settings=settings)
    return parser.get_date_data(text)


_YEAR_RE = re.compile(r"(?<!\d)(?:19[9]\d|20\d\d)(?!\d)")
_LABEL_ANYWHERE_RE = re.compile(
    "(" + "|".join(
        re.escape(label) for label in sorted(
            [lab for lab in _LABELS if len(lab) >= 4 or any(ord(ch) > 0x2E80 for ch in lab)], key=len, reverse=True
        )
    ) + r")\s*[:：]?\s*",
    re.IGNORECASE,
)


def find_published_in_text(text: str, language: str | None = None, *, tz: tzinfo | None = None) -> datetime | None:
    """The publication date stated near the top of an article's plain text (a byline such as
    "24-10-2023 - 10:31 AM | Doanh nghiệp" or "发布时间:2025-05-25 05:12:45"), or None.

    Looks at the first 15 non-empty lines in order; in each, first for a date right after a label
    (发布时间, Published, Cập nhật ...), then for a numeric or CJK date with a four-digit year. If no
    line has one, short lines with a year are tried as verbal dates via dateparser. Times without a zone are wall-clock in `tz`, else UTC."""
    if not text:
        return None
    lang = _language(language)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()][:15]
    for line in lines:
        norm = _normalise(line)
        for m in _LABEL_ANYWHERE_RE.finditer(norm):
            dt = _date_in(norm[m.end():m.end() + 60], lang, tz)
            if dt is not None:
                return dt
        dt = _date_in(norm, lang, tz)
        if dt is not None:
            return dt
    for line in lines:
        if len(line) <= 80 and _YEAR_RE.search(line):
            dt = parse_date(line, lang, tz=tz)
            if dt is not None:
                return dt
    return None


def _date_in(segment: str, lang: str | None, tz: tzinfo | None) -> datetime | None:
    m = _CJK_RE.search(segment)
    if m:
        dt = _from_cjk(m)
        if dt is not None:
            return _aware(dt, tz)
    for m in _NUMERIC_RE.finditer(segment):
        if len(m.group(1)) != 4 and len(m.group(3)) != 4:
            continue  # "10.31" or "1/2/3" are not dates; need a four-digit year
        dt = _from_numeric(m, lang)
        if dt is not None:
            return _aware(dt, _explicit_offset(segment[m.end():m.end() + 12]) or tz)
    return None
