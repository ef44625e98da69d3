"""The fault suite (issue 8): the real newsmon against hostile sources, kills and store faults. Run it
alone with `python -m pytest -q tests/faults`; `make faults` makes it bigger: NEWSMON_FAULTS_SCALE=N (the
hostile-source variants, tests/faults/hostile.py), NEWSMON_FAULTS_KILLS / NEWSMON_FAULTS_STORIES (the
kill -9 torture).

test_hostile_corpus.py cuts real-world feeds, sitemaps and pages from ../shared/corpus: it is marked
`conformance` (run by `make conformance`, deselected by `make test`). Every other test here generates its
inputs and always runs.
"""
