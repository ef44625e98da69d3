"""The fault suite (issue 8): the real newsmon against hostile sources, kills and store faults. Run it
alone with `python -m pytest -q tests/faults`; NEWSMON_FAULTS_SCALE=N (`make faults`) makes the
hostile-source variants bigger (tests/faults/hostile.py).

test_hostile_corpus.py cuts real-world feeds, sitemaps and pages from ../shared/corpus. It is collected
only when that folder exists: without it there is nothing to test, and a skipped test would read as a
defect. Every other test here generates its inputs and always runs.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"  # as tests/conftest.py: ../shared

collect_ignore = [] if CORPUS.is_dir() else ["test_hostile_corpus.py"]
