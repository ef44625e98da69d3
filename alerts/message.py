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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

from monitor.models import Article, Classification, Match
from monitor.textutil import collapse_ws, snippet

HEALTH = "source_health"

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

    def cleaned(self) -> Alert:
        """A copy with every text field, and every text in a list field, through `one_line`."""
        def clean(v: object) -> object:
            if isinstance(v, str):
                return one_line(v)
            return [clean(x) for x in v] if isinstance(v, list) else v

        return replace(self, **{k: clean(v) for k, v in vars(self).items()})

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["published"] = self.published.astimezone(timezone.utc).isoformat() if self.published else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Alert:
        d = dict(d)
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

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) pairs shown under the headline, plain text."""
        if self.kind == HEALTH:
            out = [("Source", self.source), ("Status", self.status or "")]
            if self.error:
                out.append(("Error", one_line(self.error)))
            return out
        out = [("Category", self.category)]
        if self.entity:
            out.append(("Entity", ", ".join(self.entities or [self.entity])))
        out.append(("Source", self.source))
        out.append(("Language", self.language or "unknown"))
        if self.published:
            out.append(("Published", format_time(self.published)))
        if self.score is not None:
            out.append(("Score", f"{self.score:g}"))
        return out


@dataclass
class Notification:
    """One message to one channel. `mode`: "alert" (a new group), "update" (more alerts for a group
    already notified; `earlier` of them were in previous messages) or "digest" (a period's summary)."""

    channel: str
    alerts: list[Alert]
    idempotency_key: str
    mode: str = "alert"
    group_key: str = ""
    earlier: int = 0
    id: int | None = None
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def cleaned(self) -> Notification:
        """A copy with every alert `cleaned()` and the group key (it holds an entity) on one line."""
        return replace(self, alerts=[a.cleaned() for a in self.alerts], group_key=one_line(self.group_key))

    @property
    def lead(self) -> Alert:
        return self.alerts[0]

    @property
    def others(self) -> list[Alert]:
        return self.alerts[1:]

    @property
    def title(self) -> str:
        """The message's one-line title (email subject, Slack header, console first line); `one_line`."""
        n = len(self.alerts)
        if self.mode == "digest":
            cats = sorted({a.category for a in self.alerts})
            return one_line(f"Digest: {n} alert{'s' if n != 1 else ''} ({', '.join(cats)})")
        prefix = f"[{self.lead.category}" + (f" · {self.lead.entity}" if self.lead.entity else "") + "] "
        if self.mode == "update":
            rest = f"{n} more source{'s' if n != 1 else ''}: {self.lead.headline}"
        else:
            rest = self.lead.headline + (f" (+{n - 1} more source{'s' if n != 2 else ''})" if n > 1 else "")
        return one_line(prefix + rest)


def more_sources(n: int) -> str:
    return f"{n} more source{'s' if n != 1 else ''}"


def format_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _best_match(matches: list[Match]) -> Match | None:
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
    matches = [m for m in result.matches if m.category == category]
    # the evidence that counted, strongest first (negative terms are in `newsmon check`, not here)
    terms = list(dict.fromkeys(m.text for m in sorted(matches, key=lambda m: -m.weight) if m.weight > 0))
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
        terms=terms,
        snippet=_snippet_for(article, _best_match(matches)),
        story_id=story_id,
        article_id=article_id,
        tags=list(dict.fromkeys([*source_tags, *article.tags])),
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
    """The alert `newsmon alerts test` sends."""
    alert = Alert(
        category="test",
        source="newsmon",
        title="Test alert from newsmon: delivery works",
        url="https://example.com/newsmon-test",
        entity="newsmon",
        entities=["newsmon"],
        language="en",
        published=datetime.now(timezone.utc),
        score=1.0,
        terms=["test"],
        snippet="This is a test alert sent by `newsmon alerts test` to check the channel configuration.",
    )
    import uuid

    return Notification(channel=channel, alerts=[alert], idempotency_key=f"test-{uuid.uuid4().hex}")
