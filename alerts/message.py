"""What channels send: `Alert` (one article in one flagged category, or one source-health event) and
`Notification` (one message for one channel: a group of alerts, an update to a group, or a digest).

Also the facts every renderer shows, as plain text; `cleaned()`, the copy every text renderer starts
from: each text field through `one_line`, so no field from a feed carries a line break, a control
character (ESC, NUL, C1) or a lone surrogate into any medium (renderers then escape for their medium:
Slack mrkdwn, HTML); and `alert_from_article`, which turns the classifier's evidence into an alert: the
matched terms and a snippet with the best match in context.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any

from monitor.models import Article, Classification, Match
from monitor.textutil import collapse_ws, snippet

HEALTH = "source_health"

# How a category reads in an alert, and a few plain English words for an on-call engineer who does not
# read the article's language. A category a user adds shows as its own name, with no gloss.
CATEGORY_LABELS = {"outage": "outage", "fraud": "fraud", "rumor": "rumors denied"}
CATEGORY_GLOSSES = {
    "outage": "service down or failing",
    "fraud": "scam, phishing or impersonation",
    "rumor": "a company or authority denies a rumor or fake news",
    HEALTH: "a source cannot be polled",
}


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category.replace("_", " "))


def category_gloss(category: str) -> str:
    return CATEGORY_GLOSSES.get(category, "")

# control characters that are not whitespace (NUL, ESC, DEL, the C1 set with CSI) and lone surrogates
_UNSHOWABLE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")


def one_line(text: str) -> str:
    """`text` as one line any medium can show: whitespace runs (CR, LF and the other line breaks among
    them) become one space, and the other control characters and lone surrogates (which UTF-8 cannot
    carry) are dropped, so no terminal escape sequence, NUL or header break survives."""
    return collapse_ws(_UNSHOWABLE.sub("", text))


def is_web_url(url: str) -> bool:
    """Only http(s) URLs become links: no javascript:, data:, or Slack's `!channel` / `@user` forms."""
    return url.lower().startswith(("http://", "https://"))


@dataclass
class Alert:
    category: str
    source: str
    title: str
    url: str
    kind: str = "article"                 # "article" | "source_health"
    entity: str | None = None             # first watchlist entity found, if any
    entities: list[str] = field(default_factory=list)
    language: str | None = None
    published: datetime | None = None
    score: float | None = None
    terms: list[str] = field(default_factory=list)   # matched text as it appears in the article
    snippet: str = ""
    story_id: int | None = None
    article_id: int | None = None
    tags: list[str] = field(default_factory=list)
    status: str | None = None             # source_health: "failing" | "recovered"
    error: str | None = None              # source_health: the last error
    errors: int | None = None             # source_health: consecutive failures
    # -- why it fired (alerts/evidence.py fills these from the classifier's evidence) --
    gloss: str = ""                       # the category in a few plain English words: "service down or failing"
    strength: str = ""                    # "strong" | "clear" | "borderline", relative to the category's threshold
    sentence: list[list[Any]] = field(default_factory=list)  # the deciding sentence: [[text, marked], ...];
    #                                       the texts joined are a verbatim span of the article ("…" where trimmed)
    # -- the story so far, when this article joined it (monitor/stories.py) --
    story_categories: list[str] = field(default_factory=list)      # every category the story has
    story_new_categories: list[str] = field(default_factory=list)  # categories this report adds to an older story
    story_sources: list[str] = field(default_factory=list)         # sources that reported it, first first
    story_languages: list[str] = field(default_factory=list)       # languages it was reported in, first first
    story_articles: int = 0                                        # reports so far, copies included
    story_new_sources: list[str] = field(default_factory=list)     # the source, when this report is its first
    story_new_languages: list[str] = field(default_factory=list)   # the language, when this report is its first

    def cleaned(self) -> Alert:
        """A copy with every text field, and every text in a list field, through `one_line`; the
        `sentence` segments through `clean_segments` (one line, but the spaces at segment borders, part
        of the sentence, kept)."""
        def clean(v: object) -> object:
            if isinstance(v, str):
                return one_line(v)
            return [clean(x) for x in v] if isinstance(v, list) else v

        values = {k: clean(v) for k, v in vars(self).items() if k != "sentence"}
        return replace(self, **values, sentence=clean_segments(self.sentence))

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["published"] = self.published.astimezone(timezone.utc).isoformat() if self.published else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Alert:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}  # a payload written by a newer newsmon
        pub = d.get("published")
        d["published"] = datetime.fromisoformat(pub) if isinstance(pub, str) else None
        return cls(**d)  # type: ignore[arg-type]

    @property
    def headline(self) -> str:
        """One line, never containing a line break."""
        if self.kind == HEALTH:
            if self.status == "recovered":
                return one_line(f"Source {self.source} recovered")
            return one_line(f"Source {self.source} is failing ({self.errors or 0} errors)")
        return one_line(self.title) or one_line(self.url)

    def facts(self, tz: str = "UTC") -> list[tuple[str, str]]:
        """(label, value) pairs shown under the headline, plain text; times in `tz`. Never a bare score:
        the strength word ("strong", "clear", "borderline") says how sure the match is."""
        if self.kind == HEALTH:
            out = [("Source", self.source), ("Status", self.status or "")]
            if self.errors:
                out.append(("Errors", str(self.errors)))
            if self.error:
                out.append(("Error", one_line(self.error)))
            return out
        out = [("Source", self.source), ("Language", self.language or "unknown")]
        if self.published:
            out.append(("Published", format_time(self.published, tz)))
        if self.strength:
            out.append(("Strength", self.strength))
        return out


@dataclass
class StoryView:
    """The story a message is about, as it stands with the message's latest report (the latest alert's
    snapshot); built from the alerts themselves when they carry no snapshot (grouping by category)."""

    id: int | None
    categories: list[str]
    new_categories: list[str]
    entities: list[str]
    sources: list[str]
    languages: list[str]
    articles: int
    new_sources: list[str]       # sources of this message's reports the story did not have before
    new_languages: list[str]     # languages likewise

    def so_far(self) -> str:
        """ "3 sources, languages de, vi" (or "1 source, language vi")."""
        n = len(self.sources)
        out = f"{n} source{'s' if n != 1 else ''}"
        if self.languages:
            out += f", language{'s' if len(self.languages) != 1 else ''} {', '.join(self.languages)}"
        return out


def _unique(items: list[Any]) -> list[Any]:
    return list(dict.fromkeys(x for x in items if x))


def story_view(alerts: list[Alert]) -> StoryView:
    lead = alerts[0]
    mine = [a for a in alerts if a.story_id == lead.story_id and a.story_articles > 0]
    if not mine:
        return StoryView(lead.story_id, _unique([a.category for a in alerts]), [],
                         _unique([e for a in alerts for e in (a.entities or [a.entity])]),
                         _unique([a.source for a in alerts]), _unique([a.language for a in alerts]), len(alerts), [], [])
    latest = mine[-1]
    return StoryView(
        id=lead.story_id,
        categories=_unique(latest.story_categories) or _unique([a.category for a in alerts]),
        new_categories=_unique([c for a in mine for c in a.story_new_categories]),
        entities=_unique([e for a in mine for e in (a.entities or [a.entity])]),
        sources=list(latest.story_sources),
        languages=list(latest.story_languages),
        articles=latest.story_articles,
        new_sources=_unique([x for a in mine for x in a.story_new_sources]),
        new_languages=_unique([x for a in mine for x in a.story_new_languages]),
    )


@dataclass
class Notification:
    """One message to one channel. `mode`: "alert" (a new group), "update" (more alerts for a group
    already notified; `earlier` of them were in previous messages) or "digest" (a period's summary).

    Titles (`title`, `title_within`): `entity · categories · headline` for a first alert, `Update n ·
    entity · categories · N sources (langs)` for an update, `Digest: ...` for a digest, the health
    headline for a source-health alert; the categories are the story's, as `category_label`."""

    channel: str
    alerts: list[Alert]
    idempotency_key: str
    mode: str = "alert"
    group_key: str = ""
    earlier: int = 0
    seq: int = 0                 # the group's message number: 0 the first alert, n its n-th update
    thread_id: str = ""          # the group's thread (the same for all its messages): email threading
    timezone: str = "UTC"        # the route's timezone, for the times shown
    id: int | None = None
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def cleaned(self) -> Notification:
        """A copy with every alert `cleaned()` and the group key (it holds an entity) on one line."""
        return replace(self, alerts=[a.cleaned() for a in self.alerts], group_key=one_line(self.group_key))

    @property
    def lead(self) -> Alert:
        """The alert the message is built around: in an update, the report that brings a new category
        (the company now denies rumors), else the first."""
        if self.mode == "update":
            return next((a for a in self.alerts if a.story_new_categories), self.alerts[0])
        return self.alerts[0]

    @property
    def others(self) -> list[Alert]:
        lead = self.lead
        return [a for a in self.alerts if a is not lead]

    @property
    def health(self) -> bool:
        return self.lead.kind == HEALTH

    @property
    def story(self) -> StoryView:
        return story_view(self.alerts)

    @property
    def update_no(self) -> int:
        """The update's number (1 for the first update); the outbox's `seq`, or 1 for an update built
        without one."""
        return self.seq or 1

    @property
    def title(self) -> str:
        """The message's one-line title (email subject, Slack header, console first line); `one_line`."""
        return self.title_within(None)

    def title_within(self, limit: int | None) -> str:
        """The title in at most `limit` characters: the headline (the last part) is shortened first, so
        the story prefix (update number, entity, categories) stays whole while it fits."""
        n = len(self.alerts)
        if self.mode == "digest":
            cats = sorted({a.category for a in self.alerts})
            return shorten(one_line(f"Digest: {n} alert{'s' if n != 1 else ''} ({', '.join(cats)})"), limit)
        if self.health:
            more = f" (+{n - 1} more)" if n > 1 else ""
            return shorten(one_line(self.lead.headline + more), limit)
        story = self.story
        head: list[str] = []
        if self.mode == "update":
            head.append(f"Update {self.update_no}")
        if story.entities:
            head.append(story.entities[0])
        if story.categories:
            head.append(", ".join(category_label(c) for c in story.categories))
        if self.mode == "update":
            langs = f" ({', '.join(story.languages)})" if story.languages else ""
            tail = f"{len(story.sources)} source{'s' if len(story.sources) != 1 else ''}{langs}"
        else:
            tail = self.lead.headline
        prefix = one_line(" · ".join(head)) + " · "
        if limit is None:
            return prefix + one_line(tail)
        if len(prefix) + 12 > limit:
            return shorten(prefix + one_line(tail), limit)
        return prefix + shorten(one_line(tail), limit - len(prefix))


def more_sources(n: int) -> str:
    return f"{n} more source{'s' if n != 1 else ''}"


def format_time(dt: datetime, tz: str = "UTC") -> str:
    """ "2026-12-03 15:40 CET" in the IANA zone `tz` (UTC when unknown); a zone without an abbreviation
    (Asia/Ho_Chi_Minh: "+07") also shows its name: "2026-12-03 21:40 +07 (Asia/Ho_Chi_Minh)"."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone, tz = ZoneInfo("UTC"), "UTC"
    local = dt.astimezone(zone)
    abbr = local.strftime("%Z")
    if not abbr or abbr[0] in "+-":
        abbr = f"{abbr} ({tz})".strip()
    return f"{local:%Y-%m-%d %H:%M} {abbr}"


_WS_RUN = re.compile(r"\s+")

# scripts written without spaces between words: a shortened text may end at any character there
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def shorten(text: str, limit: int | None) -> str:
    """`text` in at most `limit` characters, ending in "…" when cut: at a word boundary (the last space,
    unless that loses more than a third), at a character boundary in scripts without spaces (CJK, Thai,
    Lao, Khmer, Myanmar), never between a character and its combining marks. The one shortening rule of
    every channel (Slack's `fit` adds its markup rules on top)."""
    import unicodedata

    if limit is None or len(text) <= limit:
        return text
    if limit < 2:
        return text[:max(limit, 0)]
    end = limit - 1
    while end > 0 and unicodedata.combining(text[end]):  # keep a base character with its marks
        end -= 1
    if end == 0:
        return text[:limit - 1] + "…"
    if not text[end].isspace() and not text[end - 1].isspace() and not _UNSPACED.match(text[end - 1]):
        space = max(text.rfind(" ", 0, end), text.rfind("\u3000", 0, end))
        if space >= end * 2 // 3:
            end = space
    return text[:end].rstrip() + "…"


def clean_segments(sentence: list[list[Any]]) -> list[list[Any]]:
    """The segments as one line: each text's whitespace runs as one space and its control characters
    dropped (as `one_line`), but the spaces where segments meet kept, so the texts joined read as the
    sentence; no space at the start or end, none doubled where segments meet, no empty segment."""
    out: list[list[Any]] = []
    prev_space = True
    for seg in sentence:
        if not isinstance(seg, (list, tuple)) or not seg:
            continue
        t = _WS_RUN.sub(" ", _UNSHOWABLE.sub("", str(seg[0])))
        if prev_space:
            t = t.lstrip(" ")
        if t:
            out.append([t, bool(seg[1]) if len(seg) > 1 else False])
            prev_space = t.endswith(" ")
    while out and out[-1][0].endswith(" "):
        out[-1][0] = out[-1][0].rstrip(" ")
        if not out[-1][0]:
            out.pop()
    return out


def segments(a: Alert) -> list[tuple[str, bool]]:
    """The deciding sentence as (text, marked) segments, each text through `one_line`; from the snippet,
    with the longest matched term marked, when the alert carries no sentence (an older outbox row)."""
    if a.sentence:
        out: list[tuple[str, bool]] = []
        for t, m in clean_segments(a.sentence):
            if not m:
                out.append((t, False))
                continue
            core = t.strip(" ")  # the spaces around a marked phrase are not part of the mark
            out += [(x, mk) for x, mk in [(t[:len(t) - len(t.lstrip(" "))], False), (core, True),
                                          (t[len(t.rstrip(" ")):], False)] if x]
        return out
    text = one_line(a.snippet)
    for term in sorted((one_line(t) for t in a.terms), key=len, reverse=True)[:1]:
        i = text.find(term) if term else -1
        if i >= 0:
            return [(x, m) for x, m in [(text[:i], False), (term, True), (text[i + len(term):], False)] if x]
    return [(text, False)] if text else []


def shorten_segments(segs: list[tuple[str, bool]], limit: int) -> list[tuple[str, bool]]:
    """The segments with their texts joined in at most `limit` characters (`shorten` on the last one)."""
    out: list[tuple[str, bool]] = []
    room = limit
    for t, m in segs:
        if len(t) > room:
            cut = shorten(t, max(room, 2))
            out.append((cut, m) if len(cut) > 1 else ("…", False))
            break
        out.append((t, m))
        room -= len(t)
    return out


def glosses(n: Notification) -> list[tuple[str, str]]:
    """(label, plain English gloss) for each of the story's categories; the lead alert's own `gloss` for
    its category when it has one."""
    out = []
    for c in n.story.categories:
        g = n.lead.gloss if c == n.lead.category and n.lead.gloss else category_gloss(c)
        out.append((category_label(c), one_line(g)))
    return out


def whats_new(n: Notification) -> list[str]:
    """For an update: the categories it adds ("new category: rumors denied (…)") and its new sources."""
    if n.mode != "update" or n.health:
        return []
    story = n.story
    out = [f"new category: {category_label(c)}" + (f" ({category_gloss(c)})" if category_gloss(c) else "")
           for c in story.new_categories]
    langs = {a.source: a.language for a in n.alerts}
    if story.new_sources:
        out.append("new sources: " + ", ".join(f"{s} ({langs.get(s) or '?'})" if langs.get(s) else s
                                               for s in story.new_sources))
    if story.new_languages:
        out.append("new languages: " + ", ".join(story.new_languages))
    return [one_line(x) for x in out]


def story_line(n: Notification) -> str:
    """ "Story #12 · update 2 · 3 sources, languages de, vi" (the parts known)."""
    story = n.story
    parts = [f"Story #{story.id}"] if story.id is not None else []
    if n.mode == "update":
        parts.append(f"update {n.update_no}")
    elif n.mode == "alert":
        parts.append("first alert")
    parts.append(f"{story.so_far()} so far")
    return " · ".join(parts)


def evidence_line(a: Alert) -> str:
    """ "strong match: gián đoạn, không thể thanh toán" — the strength word, terms strongest first."""
    terms = ", ".join(one_line(t) for t in a.terms)
    if a.strength and terms:
        return f"{a.strength} match: {terms}"
    return f"{a.strength} match" if a.strength else (f"matched: {terms}" if terms else "")


def source_line(a: Alert, tz: str) -> str:
    """ "vnexpress (vi) · 2026-12-03 15:40 CET" """
    out = a.source + (f" ({a.language})" if a.language else "")
    if a.published:
        out += f" · {format_time(a.published, tz)}"
    return one_line(out)


def marked_text(segs: list[tuple[str, bool]], mark: tuple[str, str] = ("[", "]")) -> str:
    """The sentence as plain text, marked segments in brackets: "Ứng dụng MoMo [gián đoạn] từ sáng nay"."""
    return "".join(f"{mark[0]}{t}{mark[1]}" if m else t for t, m in segs)


SENTENCE_MAX = 600  # the deciding sentence shown in plain text and HTML, characters


def text_lines(n: Notification) -> list[str]:
    """The body every plain-text medium shows (console, email text part, Apprise), without the title,
    from a `cleaned()` notification: what is new (updates), the glosses, the deciding sentence with its
    marked words in [brackets], the strength and terms, source and time in the route's timezone, the
    story so far, the link; then one line per other alert."""
    tz = n.timezone
    out: list[str] = []
    if n.mode == "digest":
        for a in n.alerts:
            who = f"{a.entity} · " if a.entity and a.kind != HEALTH else ""
            cat = "source health" if a.kind == HEALTH else category_label(a.category)
            out.append(f"* [{cat}] {who}{a.headline}")
            details = [source_line(a, tz)] + ([a.strength] if a.strength else [])
            if a.kind == HEALTH:
                details = [f"{k.lower()}: {v}" for k, v in a.facts(tz)]
            out.append("  " + " · ".join(details))
            out.append(f"  {a.url}")
        return out
    lead = n.lead
    if n.health:
        out.append(" · ".join(f"{k.lower()}: {v}" for k, v in lead.facts(tz)))
        out.append(lead.url)
        out += [f"- {o.headline} {o.url}" for o in n.others]
        return out
    out += [x[0].upper() + x[1:] for x in whats_new(n)]
    if n.mode == "update":
        out.append(lead.headline)
    out += [f"{label}: {gloss}" if gloss else label for label, gloss in glosses(n)]
    segs = shorten_segments(segments(lead), SENTENCE_MAX)
    if segs:
        out.append(f"“{marked_text(segs)}”")
    if evidence_line(lead):
        out.append(evidence_line(lead)[0].upper() + evidence_line(lead)[1:])
    out.append(source_line(lead, tz))
    out.append(story_line(n))
    out.append(lead.url)
    if n.others:
        out.append(f"Also in this message ({len(n.others)}):")
        out += [f"- {o.source}" + (f" ({o.language})" if o.language else "") + f": {o.headline} {o.url}" for o in n.others]
    if n.mode == "update" and n.earlier:
        one = n.earlier == 1
        out.append(f"({n.earlier} earlier alert{'' if one else 's'} for this story {'was' if one else 'were'} sent before)")
    return out


def _best_match(matches: list[Match]) -> Match | None:
    """The match `_snippet_for` quotes when there is no deciding sentence (alerts/evidence.py)."""
    if not matches:
        return None
    # prefer a hit in the text (the title is shown anyway), then the heaviest, then the earliest
    return sorted(matches, key=lambda m: (m.field != "text", -m.weight, m.offset))[0]


def _snippet_for(article: Article, m: Match | None) -> str:
    if m is not None:
        source = article.text if m.field == "text" else article.title
        start = m.offset
        if source[start : start + len(m.text)] != m.text:
            start = source.find(m.text)
        if start >= 0:
            return snippet(source, start, start + len(m.text))
    return collapse_ws((article.summary or article.text)[:200])


def alert_from_article(
    article: Article,
    result: Classification,
    category: str,
    *,
    article_id: int | None,
    story_id: int | None,
    source_tags: list[str],
) -> Alert:
    from alerts.evidence import evidence

    # why it fired: the deciding sentence with its terms marked, the strength, the evidence that
    # counted, strongest first (negative terms are in `newsmon check`, not here)
    ev = evidence(article, result, category)
    positive = [m for m in result.matches if m.category == category and m.weight > 0]
    return Alert(
        category=category,
        source=article.source_id,
        title=article.title,
        url=article.url,
        entity=result.entities[0] if result.entities else None,
        entities=list(result.entities),
        language=article.language or result.language,
        published=article.published,
        score=result.scores.get(category),
        terms=ev.terms,
        snippet=ev.snippet or _snippet_for(article, _best_match(positive)),
        story_id=story_id,
        article_id=article_id,
        tags=list(dict.fromkeys([*source_tags, *article.tags])),
        gloss=category_gloss(category),
        strength=ev.strength,
        sentence=ev.sentence,
    )


def health_alert(source_id: str, url: str, status: str, error: str | None, errors: int) -> Alert:
    return Alert(
        category=HEALTH,
        kind=HEALTH,
        source=source_id,
        title=f"Source {source_id} {status}",
        url=url,
        status=status,
        error=error,
        errors=errors,
    )


def sample_notification(channel: str) -> Notification:
    """The alert `newsmon alerts test` sends: a made-up first alert of a story, with every part a real one
    has (the deciding sentence with its marked words, strength, the story so far)."""
    import uuid

    alert = Alert(
        category="test",
        source="newsmon",
        title="Test alert from newsmon: delivery works",
        url="https://example.com/newsmon-test",
        entity="newsmon",
        entities=["newsmon"],
        language="en",
        published=datetime.now(timezone.utc),
        score=5.0,
        terms=["delivery works", "test"],
        snippet="This is a test alert sent by `newsmon alerts test`: delivery works.",
        story_id=0,
        gloss="test message: the channel is configured correctly",
        strength="strong",
        sentence=[["This is a test alert sent by `newsmon alerts test`: ", False], ["delivery works", True], [".", False]],
        story_categories=["test"],
        story_sources=["newsmon"],
        story_languages=["en"],
        story_articles=1,
    )
    key = f"test-{uuid.uuid4().hex}"
    return Notification(channel=channel, alerts=[alert], idempotency_key=key, thread_id=key)
