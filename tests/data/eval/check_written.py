"""Check one language file of the evaluation set as written (before the tune/test split).

    python tests/data/eval/check_written.py tests/data/eval/written/de.jsonl
"""

import json
import sys
from collections import Counter

LABELS = {"outage", "fraud", "rumor"}
KINDS = {"positive", "hard", "ordinary"}
HARD = {"genre", "sense", "background"}
STYLES = {"wire", "local", "tech", "press"}


def main(path: str) -> int:
    problems, rows, ids = [], [], set()
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{n}: not JSON: {exc}")
                continue
            rows.append(r)
            where = f"{path}:{n} {r.get('id')}"
            if set(r) != {"id", "language", "title", "text", "labels", "kind", "hard_kind", "style"}:
                problems.append(f"{where}: keys must be id, language, title, text, labels, kind, hard_kind, style")
                continue
            if r["id"] in ids:
                problems.append(f"{where}: duplicate id")
            ids.add(r["id"])
            size = len(r["title"]) + len(r["text"])
            if not 300 <= size <= 1500:
                problems.append(f"{where}: title+text is {size} characters (300-1500)")
            if not set(r["labels"]) <= LABELS:
                problems.append(f"{where}: unknown label in {r['labels']}")
            if r["kind"] not in KINDS:
                problems.append(f"{where}: kind must be one of {sorted(KINDS)}")
            if (r["kind"] == "positive") != bool(r["labels"]):
                problems.append(f"{where}: positives have labels, negatives have none")
            if (r["kind"] == "hard") != (r["hard_kind"] in HARD):
                problems.append(f"{where}: hard negatives need hard_kind in {sorted(HARD)}, others null")
            if r["style"] not in STYLES:
                problems.append(f"{where}: style must be one of {sorted(STYLES)}")
    kinds = Counter(r["kind"] for r in rows)
    labels = Counter(label for r in rows for label in r["labels"])
    hard = Counter(r["hard_kind"] for r in rows if r["kind"] == "hard")
    print(f"{len(rows)} articles; {dict(kinds)}; labels {dict(labels)}; hard {dict(hard)}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
