"""`python -m benchmarks` (`make bench`): run every benchmarks/bench_*.py module's `main()` in turn, with
its default settings, and exit non-zero if any of them failed or returned non-zero."""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path


def modules() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(f"benchmarks.{p.stem}" for p in here.glob("bench_*.py"))


def main() -> int:
    failed = []
    for name in modules():
        print(f"== {name}", flush=True)
        start = time.monotonic()
        try:
            module = importlib.import_module(name)
            code = module.main()
        except SystemExit as exc:   # a main() that calls sys.exit()
            code = exc.code
        except Exception:
            traceback.print_exc()
            code = 1
        if code not in (None, 0):
            failed.append(name)
        print(f"== {name}: {'failed' if name in failed else 'done'} in {time.monotonic() - start:.0f}s\n", flush=True)
    if failed:
        print(f"benchmarks failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
