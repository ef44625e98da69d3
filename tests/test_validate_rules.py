"""`newsmon validate` cross-checks (a subprocess over real files and a real store): category names that
no rule defines, in `classify.categories`, in routes and in active silences, each with file:line and a
"did you mean"; every keyword-file problem (terms that can never match once folded included) with
file:line, all in one pass, also when the config has problems elsewhere; and the store left untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import run_newsmon

KEYWORDS = """\
language: en
categories:
  outage:
    strong:
      - a
      - "x*y"
      - "ـــ"
      - "\\u200b"
  recall:
    strong: [product recall]
"""

CONFIG = """\
store: {path: news.db}
classify:
  keywords: [kw/]
  categories:
    rumour: {threshold: 3}
    recall: {enabled: false}
channels:
  ops: {type: console}
routes:
  - match: {category: outgae}
    channels: [ops]
    continue: true
  - match:
      category:
        - fraud
        - frod
        - "~zzz.*"
        - Recall
    channels: [ops]
    continue: true
  - match: {category: source_health}
    channels: [ops]
"""

KNOWN = "fraud, outage, recall, rumor"


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def newsmon(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    proc = run_newsmon(*args, cwd=tmp_path)
    return proc.returncode, proc.stdout, proc.stderr


def test_every_unknown_category_and_keyword_problem_in_one_pass(tmp_path: Path) -> None:
    (tmp_path / "kw").mkdir()
    kw = (tmp_path / "kw" / "en.yaml").resolve()
    kw.write_text(KEYWORDS, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    # silences, added and expired through the real command line
    for match in (["category=recal"], ["category=bogus"], ["category=fraud", "category=phish"], ["entity=Acme"]):
        args = [a for m in match for a in ("--match", m)]
        code, out, err = newsmon(tmp_path, "silence", "add", "-c", "config.yaml", *args, "--for", "1h")
        assert code == 0, err
    assert newsmon(tmp_path, "silence", "expire", "-c", "config.yaml", "2")[0] == 0
    store = (tmp_path / "news.db").resolve()
    before = snapshot(tmp_path)

    code, out, err = newsmon(tmp_path, "validate", "-c", "config.yaml")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[:4] == [
        f'config.yaml:5 classify.categories.rumour: unknown category "rumour" (did you mean "rumor"?) (known: {KNOWN})',
        f'config.yaml:10 routes[0].match.category: unknown category "outgae" (did you mean "outage"?) '
        f"(known: {KNOWN}, source_health)",
        f'config.yaml:16 routes[1].match.category[1]: unknown category "frod" (did you mean "fraud"?) '
        f"(known: {KNOWN}, source_health)",
        f'config.yaml:17 routes[1].match.category[2]: category "~zzz.*" matches no category (known: {KNOWN}, source_health)',
    ]
    # keyword problems: the loader's messages, each with its file, line and path
    assert [x.split(": ", 1)[0] for x in lines[4:8]] == [
        f"{kw}:5 categories.outage.strong[0]", f"{kw}:6 categories.outage.strong[1]",
        f"{kw}:7 categories.outage.strong[2]", f"{kw}:8 categories.outage.strong[3]",
    ]
    assert '"a"' in lines[4] and '"x*y"' in lines[5] and "ـــ" in lines[6] and "\u200b" in lines[7]
    # active silences only (2 was expired; 4 has no category)
    assert lines[8:] == [
        f'{store} silences[1].category: unknown category "recal" (did you mean "recall"?) '
        f'(known: {KNOWN}, source_health); end it with "newsmon silence expire 1"',
        f'{store} silences[3].category[1]: unknown category "phish" (known: {KNOWN}, source_health); '
        'end it with "newsmon silence expire 3"',
        "newsmon validate: 10 problem(s), nothing loaded",
    ]
    assert snapshot(tmp_path) == before, "validate reads the store without writing"


def test_keyword_problems_are_reported_with_the_configs_own(tmp_path: Path) -> None:
    (tmp_path / "kw").mkdir()
    kw = (tmp_path / "kw" / "en.yaml").resolve()
    kw.write_text(KEYWORDS, encoding="utf-8")
    (tmp_path / "config.yaml").write_text("crawl: {delay: soon}\nclassify: {keywords: [kw/]}\n", encoding="utf-8")
    code, out, err = newsmon(tmp_path, "validate", "-c", "config.yaml")
    assert code == 2
    lines = err.splitlines()
    assert lines[0] == 'config.yaml:1 crawl.delay: not a duration: "soon" (use e.g. "30s", "5m", "2h", "1d")'
    assert [x.split(": ", 1)[0] for x in lines[1:5]] == [f"{kw}:{n} categories.outage.strong[{n - 5}]" for n in (5, 6, 7, 8)]
    assert lines[5:] == ["newsmon validate: 5 problem(s), nothing loaded"]
    assert not (tmp_path / "news.db").exists() and not (tmp_path / "newsmon.db").exists()


def test_categories_that_exist_pass_and_the_store_is_neither_created_nor_changed(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("""\
store: {path: data/news.db}
classify:
  categories:
    rumor: {enabled: false}
channels:
  ops: {type: console}
routes:
  - match: {category: [Outage, rumor]}
    channels: [ops]
    continue: true
  - match: {category: "~fraud|outage"}
    channels: [ops]
    continue: true
  - match: {category: source_health}
    channels: [ops]
""", encoding="utf-8")
    code, out, err = newsmon(tmp_path, "validate", "-c", "config.yaml")
    assert code == 0, err
    assert out.startswith("config.yaml: OK — 0 sources, 1 channels, 3 routes; categories: ")
    categories = out.split("categories: ")[1].split(";")[0].split(", ")
    assert {"fraud", "outage"} <= set(categories) and "rumor" not in categories, "rumor is switched off"
    assert not (tmp_path / "data").exists(), "no store is created"

    assert newsmon(tmp_path, "silence", "add", "-c", "config.yaml", "--match", "category=~fraud|rumor",
                   "--for", "1h")[0] == 0
    before = snapshot(tmp_path / "data")
    code, out, err = newsmon(tmp_path, "validate", "-c", "config.yaml")
    assert (code, err) == (0, "")
    assert snapshot(tmp_path / "data") == before


def test_an_unknown_override_alone_is_one_problem_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("classify:\n  categories:\n    outage: {threshold: 4}\n    frud: {enabled: false}\n",
                                          encoding="utf-8")
    code, out, err = newsmon(tmp_path, "validate", "-c", "config.yaml")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        'config.yaml:4 classify.categories.frud: unknown category "frud" (did you mean "fraud"?) '
        "(known: fraud, outage, rumor)",
        "newsmon validate: 1 problem(s), nothing loaded",
    ]
