"""Scoring hits into a story-level decision (pure).

A category fires when the article *reports the event*, not when its words add up:

* **evidence tied to an actor**: a trigger (strong/medium/weak term, or a `A NEAR/n B` / `A PRE/n B`
  rule) counts only when an actor — a watchlist entity or a term of the file's `actors` list (bank,
  operator, app, network, police...) — stands in the same sentence (the title is one sentence);
  where a language's rules name no actors (a user's own file), or a category says
  `require_actor: false`, every trigger counts;
* **where it is told**: triggers tied to an actor worth POSITION_WEIGHT (2: a medium one, or a weak
  one in the headline) in the headline and the lead (the first LEAD_SENTENCES sentences of the text),
  or at least two strong ones in the body (or one, with evidence in the body worth threshold +
  BODY_MARGIN);
* **enough of it**: each distinct term counts once, with its weight, times the title multiplier in
  the title; context terms add at most CONTEXT_CAP (and never more than the triggers); negative terms
  subtract; a veto term blocks the category; score >= threshold;
* **not another genre**: when the genre markers of one kind (review, screen, sport, markets,
  celebrity, history...) reach GENRE_GATE — a marker in the headline counts 2, in the text 1 — every
  category is suppressed unless the headline itself carries a strong trigger tied to an actor and no
  marker of that genre;
* the category's `require_context` and `require_entity` settings hold.

A hit inside a longer hit of the same category is dropped ("anti-fraud" consumes "fraud",
"netzausfall" consumes "*ausfall"). Every decision carries a one-line reason (Classification.reasons),
for `newsmon check`, `newsmon backtest` and the alerts.
"""

from __future__ import annotations

from bisect import bisect_right

from monitor.classify.normalize import WORD_CHARS, Folded, is_unbounded_script, word_char
from monitor.classify.rules import CategorySettings, RuleSet, Term
from monitor.models import Classification, Match

TRIGGERS = ("strong", "trigger")
_PRIORITY = {"veto": 0, "negative": 1, "strong": 2, "trigger": 3, "context": 4}
CONTEXT_CAP = 2.0     # context terms add at most this much, and never more than the triggers
LEAD_SENTENCES = 2    # the lead: this many first sentences of the text
GENRE_GATE = 3.0      # genre markers of one kind needed to gate (headline 2 each, text 1 each)
DENIAL_REACH = 6     # words after a denial that still say what is denied
BODY_MARGIN = 2.0     # evidence told in the body alone needs this much above the threshold
POSITION_WEIGHT = 2.0  # triggers worth this much in the headline and lead tell the event (a medium one,
                       # or a weak one in the headline)
_UNSPACED = frozenset({"zh", "ja", "th"})


def _wildcards(term: Term) -> tuple[bool, bool]:
    """Whether the term as written has a wildcard at its start, at its end ("*ausfall", "outage*")."""
    raw = term.term.strip()
    if raw.startswith("="):
        raw = raw[1:].strip()
    return raw.startswith("*"), raw.endswith("*") and len(raw) > 1


def _whole_word(text: str, start: int, end: int, term: Term) -> tuple[int, int]:
    """Widen a wildcard hit to the whole word for display: "*ausfall" shows "Netzausfall".

    Only on a side the term has a wildcard, and only where the pattern's character there belongs to
    a spaced script: a term that needs no boundary because it is Chinese, Japanese or Thai (服务中断)
    is shown as written, never with the digits or Latin letters next to it ("6服务中断", "App服务中断")."""
    left_wild, right_wild = _wildcards(term)
    cache = WORD_CHARS
    if left_wild and not term.left and not is_unbounded_script(text[start]):
        while start > 0:
            ch = text[start - 1]
            w = cache.get(ch)
            if w is None:
                w = word_char(ch)
            if not w:
                break
            start -= 1
    if right_wild and not term.right and not is_unbounded_script(text[end - 1]):
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


_ENDS = (". ", "! ", "? ", "… ", "。", "！", "？", "؟", "\n")


def sentence_starts(text: str) -> list[int]:
    """Offsets where the sentences of a (folded) text start: after . ! ? … followed by a space, and
    after 。！？؟ or a line break. str.find runs in C: cheaper than a regular expression here."""
    starts = [0]
    find = text.find
    for mark in _ENDS:
        i = find(mark)
        while i >= 0:
            starts.append(i + 1)
            i = find(mark, i + 1)
    if len(starts) > 1:
        starts.sort()
    return starts


def _words_between(text: str, a: int, b: int, unspaced: bool) -> int:
    gap = text[a:b] if a < b else ""
    if unspaced:
        return len(gap.replace(" ", "")) // 2
    return len(gap.split())


Hit = tuple[str, int, int, Term]

# A brand or organisation the watchlist does not know, by its shape: an acronym (МТС, HSBC, BBVA) or
# a name with a capital inside (WhatsApp, PayPal, iPhone, ВКонтакте). Only scripts with case.
_NAME = None
_DATELINE = None   # "WASHINGTON (AP) —", "BERLIN, 3. Dezember": a wire dateline names no actor
NOT_ORGANISATIONS = frozenset({"AP", "AFP", "DPA", "ANSA", "EFE", "TASS", "RIA", "UPI", "PTI", "IANS", "KNA", "APA",
                       "SDA", "BNA", "WAM", "SPA", "QNA", "KUNA", "MENA", "VNA", "ANTARA", "ТАСС", "РИА", "CNA",
                       # places written as acronyms are not organisations
                       "TP", "HCM", "TPHCM", "UK", "US", "USA", "EU", "UN", "UAE", "KSA", "DKI", "NYC", "РФ", "США",
                       # and units are not either
                       "kV", "kW", "kWh", "MW", "MWh", "GW", "GWh", "MHz", "GHz", "mAh", "GB", "TB", "MB"})


def _name_in_sentence(field: tuple[str, Folded], starts: list[int], sent: int, fld: str,
                      actors: dict[tuple[str, int], tuple[int, int]]) -> bool:
    """Whether sentence `sent` of the field names an organisation by its shape; remembered in
    `actors` (as a folded span) so that the match can show it."""
    global _NAME, _DATELINE
    if _NAME is None:
        import regex

        _DATELINE = regex.compile(r"\W*\p{Lu}{2,}[\p{Lu}\s.,'/-]*(?:\(|,|:|—|–|-|\Z)")

        _NAME = regex.compile(r"(?<!\w)(?:\p{Lu}{2,}\d*|\p{Ll}+\p{Lu}\w*|\p{Lu}\p{Ll}+\p{Lu}\w*|\p{Lu}{2,}\p{Ll}\w*)(?!\w)")
    original, folded = field
    f0 = starts[sent]
    f1 = starts[sent + 1] if sent + 1 < len(starts) else len(folded.text)
    lo, hi = folded.original_span(f0, f1)
    piece = original[lo:hi]
    letters = sum(ch.isalpha() for ch in piece)
    if not letters or sum(ch.isupper() for ch in piece) * 2 > letters:
        return False   # an all-capitals line says nothing about names
    m = next((m for m in _NAME.finditer(piece) if m.group() not in NOT_ORGANISATIONS
              and not (fld == "text" and sent == 0 and _DATELINE.match(piece[:m.end() + 1]))), None)
    if m is None:
        return False
    actors[(fld, sent)] = (f0, f1) if folded.offsets is not None else (lo + m.start(), lo + m.end())
    return True


def _near_hits(near: list[tuple[str, int, int, int, Term]], rules: RuleSet, fields: dict[str, tuple[str, Folded]],
               unspaced: bool) -> list[tuple[str, int, int, Term, int]]:
    """Pairs of NEAR operands (one of each side) in one sentence, within the rule's distance."""
    by_rule: dict[int, list[tuple[str, int, int, int, Term]]] = {}
    for h in near:
        by_rule.setdefault(h[4].near, []).append(h)
    out: list[tuple[str, int, int, Term, int]] = []
    for idx, hs in by_rule.items():
        rule = rules.near[idx]
        left = [h for h in hs if h[4].side == 0]
        right = [h for h in hs if h[4].side == 1]
        found = 0
        for fa, sa, a0, a1, _ in left:
            for fb, sb, b0, b1, _ in right:
                if fa != fb or sa != sb or (a0 < b1 and b0 < a1):
                    continue
                if rule.side and b0 < a0:
                    continue  # PRE/n: the left operand first
                text = fields[fa][1].text
                gap = _words_between(text, a1, b0, unspaced) if a1 <= b0 else _words_between(text, b1, a0, unspaced)
                if gap <= rule.distance:
                    out.append((fa, min(a0, b0), max(a1, b1), rule, sa))
                    found += 1
                    break
            if found >= 3:
                break
    return out


def score(fields: dict[str, tuple[str, Folded]], hits: list[Hit], language: str | None,
          rules: RuleSet) -> Classification:
    """`fields` maps "title"/"text" to (original, folded); `hits` are (field, start, end, term) in
    folded coordinates."""
    starts = {fld: sentence_starts(f.text) if fld == "text" else [0] for fld, (_, f) in fields.items()}

    def sentence(fld: str, pos: int) -> int:
        return bisect_right(starts[fld], pos) - 1

    unspaced = language in _UNSPACED
    entities: list[str] = []
    actors: dict[tuple[str, int], tuple[int, int]] = {}     # (field, sentence) -> first actor span there
    cat_actors: dict[tuple[str, str, int], tuple[int, int]] = {}   # (category, field, sentence) -> span
    genre: dict[str, dict[str, float]] = {}                  # genre -> term -> weight (2 title, 1 text)
    near: list[tuple[str, int, int, int, Term]] = []
    keyed: list[tuple[str, str, int, int, int, float, int, Term, int]] = []
    for i, (fld, start, end, t) in enumerate(hits):
        kind = t.kind
        if kind == "entity" or kind == "actor":
            if kind == "entity" and t.entity not in entities:
                entities.append(t.entity)
            if t.category:   # an actor of one category only
                cat_actors.setdefault((t.category, fld, sentence(fld, start)), (start, end))
            else:
                actors.setdefault((fld, sentence(fld, start)), (start, end))
            continue
        if kind == "genre":
            seen = genre.setdefault(t.entity, {})
            seen[t.term] = max(seen.get(t.term, 0.0), 2.0 if fld == "title" else 1.0)
            continue
        if t.field != "any" and t.field != fld:
            continue
        if kind == "near":
            near.append((fld, sentence(fld, start), start, end, t))
            continue
        if not (t.left and t.right) and not t.words:
            start, end = _whole_word(fields[fld][1].text, start, end, t)
        keyed.append((t.category, fld, start, -end, _PRIORITY[kind], -t.weight, i, t, sentence(fld, start)))
    for k, (fld, start, end, rule, sent) in enumerate(_near_hits(near, rules, fields, unspaced)):
        if rule.kind == "genre":   # a proximity genre marker ("vor PRE/1 Jahren")
            seen = genre.setdefault(rule.entity, {})
            seen[rule.term] = max(seen.get(rule.term, 0.0), 2.0 if fld == "title" else 1.0)
            continue
        keyed.append((rule.category, fld, start, -end, _PRIORITY[rule.kind], -rule.weight, len(hits) + k, rule, sent))

    # a hit contained in a longer (or equal, higher-priority) hit of the same category and field is dropped
    keyed.sort()
    rule_hits: list[tuple[str, int, int, Term, int]] = []
    last_cat = last_fld = None
    last_end = -1
    for cat, fld, start, neg_end, _, _, _, t, sent in keyed:
        if cat != last_cat or fld != last_fld:
            last_cat, last_fld, last_end = cat, fld, -1
        if -neg_end <= last_end:
            continue
        rule_hits.append((fld, start, -neg_end, t, sent))
        last_end = -neg_end

    gate_terms = {g: sorted(ts) for g, ts in genre.items() if sum(ts.values()) >= GENRE_GATE}
    title_genre = {g for g, ts in genre.items() if 2.0 in ts.values()}

    memo: dict[str, CategorySettings] = {}

    def conf(category: str) -> CategorySettings:
        c = memo.get(category)
        if c is None:
            c = memo[category] = rules.settings(language, category)
        return c

    nameless: set[tuple[str, int]] = set()   # sentences already searched for a name, in vain

    def is_bound(fld: str, sent: int, t: Term) -> bool:
        if ((fld, sent) in actors or (t.category, fld, sent) in cat_actors
                or not conf(t.category).require_actor):
            return True
        if t.kind not in TRIGGERS or (fld, sent) in nameless:
            return False
        if _name_in_sentence(fields[fld], starts[fld], sent, fld, actors):
            return True
        nameless.add((fld, sent))
        return False

    # what an actor denies (a strong hit of a `denial: true` category, rumor, and the few words after
    # it) reports no event of another category: "X denies reports of an outage" is no outage
    denied = [(fld, sent, start, end) for fld, start, end, t, sent in rule_hits
              if t.kind == "strong" and conf(t.category).denial and is_bound(fld, sent, t)]

    def in_what_is_denied(fld: str, sent: int, start: int) -> bool:
        """Inside a denial, or within DENIAL_REACH words after it ("denies reports of an outage")."""
        for dfld, dsent, d0, d1 in denied:
            if dfld == fld and dsent == sent and start >= d0 and (
                    start < d1 or _words_between(fields[fld][1].text, d1, start, unspaced) <= DENIAL_REACH):
                return True
        return False

    # per (category, pattern): the best hit, tied to an actor before one that is not
    best: dict[tuple[str, str], tuple[bool, float, tuple[str, int, int, Term, int]]] = {}
    body_strong: dict[str, int] = {}
    unbound: dict[str, list[str]] = {}
    in_denial: dict[str, list[str]] = {}
    for h in rule_hits:
        fld, start, end, t, sent = h
        bound = is_bound(fld, sent, t)
        if (bound and denied and t.kind in TRIGGERS and not conf(t.category).denial
                and in_what_is_denied(fld, sent, start)):
            bound = False
            in_denial.setdefault(t.category, []).append(fields[fld][1].text[start:end])
        if t.kind in TRIGGERS:
            if bound and t.kind == "strong" and fld == "text" and sent >= LEAD_SENTENCES:
                body_strong[t.category] = body_strong.get(t.category, 0) + 1
            if not bound:
                unbound.setdefault(t.category, []).append(fields[fld][1].text[start:end])
        value = t.weight * (conf(t.category).title_weight if fld == "title" else 1.0)
        key = (t.category, t.pattern)
        old = best.get(key)
        rank = (bound or t.kind not in TRIGGERS, value)
        if old is None or rank > old[:2]:
            best[key] = (rank[0], value, h)

    scores: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    flagged: list[str] = []
    matches: list[Match] = []
    reasons: dict[str, str] = {}
    vetoed: dict[str, list[str]] = {}
    per_cat: dict[str, list[tuple[bool, float, tuple[str, int, int, Term, int]]]] = {}
    for (cat, _), entry in best.items():
        per_cat.setdefault(cat, []).append(entry)
    for cat, entries in per_cat.items():
        acc = {"strong": 0.0, "trigger": 0.0, "context": 0.0, "negative": 0.0}
        lead = 0.0            # triggers tied to an actor in the headline or the lead
        heavy = 0.0           # the heaviest trigger tied to an actor: weak ones only support
        title_strong = False  # the headline carries a strong (or a medium, x2) trigger tied to an actor
        for bound, value, (fld, _, _, t, sent) in entries:
            if t.kind == "veto":
                vetoed.setdefault(cat, []).append(t.term)
            elif t.kind in TRIGGERS:
                if bound:
                    acc[t.kind] += value
                    heavy = max(heavy, t.weight)
                    if fld == "title" or sent < LEAD_SENTENCES:
                        lead += value
                    if fld == "title" and (t.kind == "strong" or value >= 2 * POSITION_WEIGHT):
                        title_strong = True
            else:
                acc[t.kind] += value
        trig = acc["strong"] + acc["trigger"]
        if trig == 0 and cat not in unbound and cat not in in_denial:
            continue  # context, negative and veto terms alone say nothing
        settings = conf(cat)
        ctx = min(acc["context"], CONTEXT_CAP, trig)
        total = round(trig + ctx - acc["negative"], 3)
        scores[cat] = total
        thresholds[cat] = settings.threshold
        context_ok = not settings.require_context or acc["strong"] > 0 or (trig > 0 and acc["context"] > 0)
        told = lead >= min(POSITION_WEIGHT, settings.threshold)
        # told in the body: two strong hits, or one with enough other evidence around it
        body = body_strong.get(cat, 0)
        repeated = body >= 2 or (body >= 1 and trig - lead >= settings.threshold + BODY_MARGIN)
        if cat in vetoed:
            why = f"not flagged: vetoed by {', '.join(vetoed[cat])}"
        elif trig == 0 and cat in in_denial:
            why = f"not flagged: only in what is denied ({', '.join(dict.fromkeys(in_denial[cat]))})"
        elif trig == 0:
            loose = ", ".join(dict.fromkeys(unbound.get(cat, [])))
            why = (f"not flagged: no evidence tied to an organisation or service in the same sentence ({loose})"
                   if loose else "not flagged: no evidence")
        elif heavy < settings.require_trigger:
            need = "strong" if settings.require_trigger > 2 else "medium"
            why = f"not flagged: no {need} evidence (require_trigger: {need}; weaker terms only support it)"
        elif total < settings.threshold:
            why = f"not flagged: score {total:g} below threshold {settings.threshold:g}"
        elif not (told or repeated):
            why = ("not flagged: the headline and lead do not report it, and the body has fewer than 2 strong "
                   f"hits (or 1 with evidence worth {settings.threshold + BODY_MARGIN:g})")
        elif not context_ok:
            why = "not flagged: weak evidence without a context term"
        elif gate_terms and not (title_strong and not any(g in title_genre for g in gate_terms)):
            g = next(iter(gate_terms))
            tail = (f"the headline itself has {g} markers" if title_strong
                    else "the headline reports no strong event tied to an actor")
            why = f"not flagged: {g} article ({', '.join(gate_terms[g])}); {tail}"
        elif settings.require_entity and not entities:
            why = "not flagged: no watchlist entity (require_entity)"
        else:
            where = "headline/lead" if told else "body (repeated)"
            why = f"flagged: score {total:g} >= {settings.threshold:g}, evidence in the {where}, tied to an actor"
            flagged.append(cat)
        reasons[cat] = why
        for bound, value, (fld, start, end, t, sent) in entries:
            if t.kind in TRIGGERS and not bound:
                continue
            if t.kind == "context" and trig == 0:
                continue
            original, folded = fields[fld]
            lo, hi = folded.original_span(start, end)
            actor = ""
            span = actors.get((fld, sent)) or cat_actors.get((cat, fld, sent))
            if span is not None and t.kind in TRIGGERS:
                a0, a1 = folded.original_span(*span)
                actor = original[a0:a1]
            weight = -value if t.kind == "negative" else value
            matches.append(Match(cat, t.term, original[lo:hi], fld, lo, round(weight, 3), t.language, actor, sent,
                                 t.kind))
    matches.sort(key=lambda m: (m.category, m.field != "title", -m.weight if m.weight > 0 else 1, m.offset))
    flagged.sort(key=rules.categories.index)
    return Classification(categories=flagged, scores=scores, matches=matches, entities=entities,
                          language=language, vetoed=vetoed, reasons=reasons, genre=gate_terms,
                          thresholds=thresholds)
