"""Scoring hits into a Classification (pure).

Per category, for the rules of the article's language plus language-neutral rules:

* each distinct term counts once, with its weight times the title multiplier when it hit the title
  (a term scoped to `title` or `text` counts only there);
* a hit inside a longer hit of the same category is dropped ("anti-fraud" consumes "fraud",
  "netzausfall" consumes "*ausfall");
* context terms count only together with triggers (strong/medium/weak): they add at most
  CONTEXT_CAP (2) and never more than the triggers' sum;
* negative terms subtract their weight; a veto term blocks the category;
* the category is flagged when score >= threshold, it is not vetoed, its context requirement holds
  (`require_context`: a strong term, or a trigger plus a context term) and, with `require_entity`,
  a watchlist entity was found.
"""

from __future__ import annotations

from monitor.classify.normalize import WORD_CHARS, Folded, word_char
from monitor.classify.rules import RuleSet, Term
from monitor.models import Classification, Match

TRIGGERS = ("strong", "trigger")


_PRIORITY = {"veto": 0, "negative": 1, "strong": 2, "trigger": 3, "context": 4}
CONTEXT_CAP = 2.0   # context terms add at most this much, and never more than the triggers


def _whole_word(text: str, start: int, end: int, term: Term) -> tuple[int, int]:
    """Widen a wildcard hit to the whole word for display: "*ausfall" shows "Netzausfall"."""
    cache = WORD_CHARS
    if not term.left:
        while start > 0:
            ch = text[start - 1]
            w = cache.get(ch)
            if w is None:
                w = word_char(ch)
            if not w:
                break
            start -= 1
    if not term.right:
        n = len(text)
        while end < n:
            ch = text[end]
            w = cache.get(ch)
            if w is None:
                w = word_char(ch)
            if not w:
                break
            end += 1
    return start, end


def score(fields: dict[str, tuple[str, Folded]], hits: list[tuple[str, int, int, Term]],
          language: str | None, rules: RuleSet) -> Classification:
    """`fields` maps "title"/"text" to (original, folded); `hits` are (field, start, end, term) in
    folded coordinates."""
    entities: list[str] = []
    # sort key: category, field, start, longest first, kind priority, heaviest first, then hit order
    keyed: list[tuple[str, str, int, int, int, float, int, Term]] = []
    for i, (fld, start, end, t) in enumerate(hits):
        kind = t.kind
        if kind == "entity":
            if t.entity not in entities:
                entities.append(t.entity)
            continue
        if t.field != "any" and t.field != fld:
            continue
        if not (t.left and t.right):
            start, end = _whole_word(fields[fld][1].text, start, end, t)
        keyed.append((t.category, fld, start, -end, _PRIORITY[kind], -t.weight, i, t))
    # a hit contained in a longer (or equal, higher-priority) hit of the same category and field is
    # dropped: "anti-fraud" consumes "fraud", "netzausfall" consumes "*ausfall"
    keyed.sort()
    rule_hits: list[tuple[str, int, int, Term]] = []
    last_cat = last_fld = None
    last_end = -1
    for cat, fld, start, neg_end, _, _, _, t in keyed:
        if cat != last_cat or fld != last_fld:
            last_cat, last_fld, last_end = cat, fld, -1
        if -neg_end <= last_end:
            continue
        rule_hits.append((fld, start, -neg_end, t))
        last_end = -neg_end

    # best contribution per (category, pattern): weight x field multiplier, first best hit kept
    best: dict[tuple[str, str], tuple[float, tuple[str, int, int, Term]]] = {}
    title_weight: dict[str, float] = {}
    for h in rule_hits:
        t = h[3]
        if h[0] == "title":
            mult = title_weight.get(t.category)
            if mult is None:
                mult = title_weight[t.category] = rules.settings(language, t.category).title_weight
            value = t.weight * mult
        else:
            value = t.weight
        key = (t.category, t.pattern)
        old = best.get(key)
        if old is None or value > old[0]:
            best[key] = (value, h)

    per_cat: dict[str, dict[str, float]] = {}
    vetoed: dict[str, list[str]] = {}
    chosen: dict[str, list[tuple[float, tuple[str, int, int, Term]]]] = {}
    for (cat, _), (value, h) in best.items():
        kind = h[3].kind
        acc = per_cat.get(cat)
        if acc is None:
            acc = per_cat[cat] = {"strong": 0.0, "trigger": 0.0, "context": 0.0, "negative": 0.0}
            chosen[cat] = []
        if kind == "veto":
            vetoed.setdefault(cat, []).append(h[3].term)
        else:
            acc[kind] += value
        chosen[cat].append((value, h))

    scores: dict[str, float] = {}
    flagged: list[str] = []
    matches: list[Match] = []
    for cat, acc in per_cat.items():
        if acc["strong"] + acc["trigger"] + acc["negative"] == 0 and cat not in vetoed:
            continue  # context terms alone say nothing
        settings = rules.settings(language, cat)
        trig = acc["strong"] + acc["trigger"]
        ctx = min(acc["context"], CONTEXT_CAP, trig)
        total = round(trig + ctx - acc["negative"], 3)
        scores[cat] = total
        context_ok = not settings.require_context or acc["strong"] > 0 or (trig > 0 and acc["context"] > 0)
        if (total >= settings.threshold and cat not in vetoed and context_ok
                and (not settings.require_entity or entities)):
            flagged.append(cat)
        for value, (fld, start, end, t) in chosen[cat]:
            original, folded = fields[fld]
            lo, hi = folded.original_span(start, end)
            weight = -value if t.kind == "negative" else (0.0 if t.kind == "context" and trig == 0 else value)
            matches.append(Match(cat, t.term, original[lo:hi], fld, lo, round(weight, 3), t.language))
    matches.sort(key=lambda m: (m.category, m.field != "title", m.offset))
    flagged.sort(key=rules.categories.index)
    return Classification(categories=flagged, scores=scores, matches=matches, entities=entities,
                          language=language, vetoed=vetoed)
