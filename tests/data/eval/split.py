"""Split the written evaluation set once, at random, into `tune` (60%) and `test` (40%).

    python tests/data/eval/split.py LANG [LANG...]

Reads written/LANG.jsonl, shuffles each stratum (positives per category, hard negatives per kind,
ordinary negatives) with a fixed seed, writes tune/LANG.jsonl and test/LANG.jsonl and removes the
written file. A language already split is refused: the split is made once and committed. Rules are
changed looking at `tune` only; `test` is what newsmon reports.
"""

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261203
TUNE_SHARE = 0.6


def stratum(r: dict) -> str:
    if r["kind"] == "positive":
        return "positive:" + "+".join(sorted(r["labels"]))
    return f"{r['kind']}:{r['hard_kind']}"


def split(lang: str) -> None:
    src = HERE / "written" / f"{lang}.jsonl"
    tune, test = HERE / "tune" / f"{lang}.jsonl", HERE / "test" / f"{lang}.jsonl"
    if tune.exists() or test.exists():
        raise SystemExit(f"{lang}: already split ({tune}, {test})")
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(f"{SEED}:{lang}")
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(stratum(r), []).append(r)
    out: dict[str, list[dict]] = {"tune": [], "test": []}
    carry = 0.0
    for key in sorted(groups):
        g = groups[key]
        rng.shuffle(g)
        want = len(g) * TUNE_SHARE + carry
        k = round(want)
        carry = want - k
        out["tune"] += g[:k]
        out["test"] += g[k:]
    for name, part in out.items():
        part.sort(key=lambda r: r["id"])
        path = HERE / name / f"{lang}.jsonl"
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
    src.unlink()
    print(f"{lang}: {len(out['tune'])} tune, {len(out['test'])} test")


if __name__ == "__main__":
    for code in sys.argv[1:]:
        split(code)
