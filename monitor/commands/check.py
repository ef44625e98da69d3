"""`newsmon check PATH_OR_URL...`: classify files (plain text or HTML) or URLs and explain why.

Reads the `classify:` section of the config (`-c`, or ./config.yaml when present; else the shipped
defaults). Exit codes: 0 all inputs classified, 1 some input missing or unreachable, 2 invalid config
or keyword files (every problem printed as `file:line reason`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from monitor.classify import ClassifyConfig, RuleSet, classify, clean_plaintext, load_ruleset
from monitor.langid import detect_language
from monitor.models import Classification

HELP = "classify files or URLs with the keyword rules and explain the matches"
BOLD, RESET = "\x1b[1m", "\x1b[0m"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="PATH_OR_URL", help="text or HTML files, or http(s) URLs")
    parser.add_argument("-c", "--config", help="config.yaml (default: ./config.yaml if present)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def load_rules(config: str | None) -> RuleSet:
    """The rules the config names (its classify section), or the shipped defaults. Raises ConfigError
    (KeywordError for keyword files)."""
    path = Path(config) if config else Path("config.yaml")
    if config or path.is_file():
        from monitor.config import load_config

        cfg = load_config(path)
        return load_ruleset(cfg.classify, path.resolve().parent)
    return load_ruleset(ClassifyConfig(), Path.cwd())


@dataclass
class Analysed:
    input: str
    title: str
    text: str
    language: str | None
    published: datetime | None
    result: Classification


def split_plaintext(raw: str) -> tuple[str, str]:
    """Boilerplate removed; the first non-empty line is the title, the rest the text."""
    cleaned = clean_plaintext(raw)
    title, _, text = cleaned.partition("\n")
    return title.strip(), text.strip()


def _published_in_text(raw: str, language: str | None) -> datetime | None:
    try:
        from monitor.dates import find_published_in_text
    except ImportError:
        return None
    return find_published_in_text(raw, language)


def analyse_plaintext(name: str, raw: str, rules: RuleSet, language: str | None = None) -> Analysed:
    title, text = split_plaintext(raw)
    lang = language or detect_language(f"{title}\n{text}")
    published = _published_in_text(raw, lang)   # before cleaning: bylines look like link lists
    return Analysed(name, title, text, lang, published, classify(title, text, lang, rules))


def analyse_html(name: str, body: bytes, url: str, content_type: str | None, rules: RuleSet) -> Analysed:
    from monitor.extract import extract_page

    page = extract_page(body, url, content_type)
    text = clean_plaintext(page.text or "")
    lang = page.language or detect_language(f"{page.title}\n{text}")
    return Analysed(name, page.title or "", text, lang, page.published,
                    classify(page.title or "", text, lang, rules))


def _fetch(url: str) -> tuple[bytes, str | None, str]:
    import requests

    from monitor import USER_AGENT

    resp = requests.get(url, timeout=20, headers={"User-Agent": USER_AGENT})
    resp.raise_for_status()
    return resp.content, resp.headers.get("Content-Type"), resp.url


def _looks_html(path: Path, body: bytes) -> bool:
    if path.suffix.lower() in (".html", ".htm", ".xhtml"):
        return True
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in head


def to_json(a: Analysed) -> dict[str, Any]:
    r = a.result
    return {
        "input": a.input, "language": a.language, "title": a.title, "text": a.text,
        "published": a.published.isoformat() if a.published else None,
        "categories": r.categories, "entities": r.entities, "scores": r.scores,
        "vetoed": r.vetoed, "reasons": r.reasons, "genre": r.genre,
        "matches": [{"category": m.category, "term": m.term, "text": m.text, "field": m.field,
                     "offset": m.offset, "weight": m.weight, "language": m.language, "actor": m.actor,
                     "sentence": m.sentence}
                    for m in r.matches],
    }


def render_text(a: Analysed, rules: RuleSet, out: TextIO, bold: bool) -> None:
    r = a.result
    b, e = (BOLD, RESET) if bold else ("", "")
    out.write(f"== {a.input}\n")
    out.write(f"title:      {a.title}\n")
    out.write(f"language:   {a.language or '?'}    published: {a.published.isoformat() if a.published else '-'}\n")
    out.write(f"categories: {b}{', '.join(r.categories) or '(none)'}{e}\n")
    out.write(f"entities:   {', '.join(r.entities) or '(none)'}\n")
    for name, terms in r.genre.items():
        out.write(f"genre gate: {name} ({', '.join(terms)})\n")
    for cat in sorted(r.scores):
        s = rules.settings(a.language, cat)
        flag = "FLAGGED" if cat in r.categories else "not flagged"
        out.write(f"  {cat}: score {r.scores[cat]:g} / threshold {s.threshold:g} ({flag})\n")
        if cat in r.reasons:
            out.write(f"    why: {r.reasons[cat]}\n")
        for m in (m for m in r.matches if m.category == cat):
            source = a.title if m.field == "title" else a.text
            end = m.offset + len(m.text)
            pre, post = source[max(0, m.offset - 60):m.offset], source[end:end + 60]
            ctx = " ".join(f"{pre}{b}{m.text}{e}{post}".split())
            actor = f" actor {m.actor!r}" if m.actor else ""
            where = "title" if m.field == "title" else f"text@{m.offset}, sentence {m.sentence + 1}"
            out.write(f"    {m.weight:+g}  {m.term!r} [{where}]{actor} …{ctx}…\n")
    out.write("\n")


def run(args: argparse.Namespace) -> int:
    rules = load_rules(args.config)
    status = 0
    bold = sys.stdout.isatty()
    for item in args.inputs:
        try:
            if item.startswith(("http://", "https://")):
                body, ctype, final = _fetch(item)
                analysed = analyse_html(item, body, final, ctype, rules)
            else:
                path = Path(item)
                if not path.is_file():
                    print(f"newsmon check: {item}: no such file", file=sys.stderr)
                    status = 1
                    continue
                body = path.read_bytes()
                if _looks_html(path, body):
                    analysed = analyse_html(item, body, path.resolve().as_uri(), None, rules)
                else:
                    analysed = analyse_plaintext(item, body.decode("utf-8", errors="replace"), rules)
        except Exception as exc:  # one input's failure (network, unreadable file) must not stop the rest
            print(f"newsmon check: {item}: {exc}", file=sys.stderr)
            status = 1
            continue
        if args.format == "json":
            print(json.dumps(to_json(analysed), ensure_ascii=False))
        else:
            render_text(analysed, rules, sys.stdout, bold)
    return status
