# newsmon — the two commands a new user needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config.yaml

.PHONY: run test conformance faults bench lint clean

$(STAMP): pyproject.toml requirements.lock requirements-test.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock -r requirements-test.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/newsmon run -c $(CONFIG)

# The repository's own files alone: tests that read ../shared are marked `conformance` and left out.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not conformance"

# The real-world checks against the seeds and corpus in ../shared (NEWSMON_CORPUS=DIR points elsewhere;
# NEWSMON_SHARED is its older name). Fails, never passes silently, when they are missing.
SHARED ?= $(or $(NEWSMON_CORPUS),$(NEWSMON_SHARED),../shared)
conformance: $(STAMP)
	@test -d $(SHARED)/seeds -a -d $(SHARED)/corpus || { echo "make conformance: no seeds and corpus in $(SHARED)" >&2; exit 2; }
	NEWSMON_CORPUS=$(abspath $(SHARED)) $(BIN)/python -m pytest -q -m conformance

# The fault suite at full size: 50 kill -9s over 30 stories, bigger hostile sources, more fuzz examples.
faults: $(STAMP)
	NEWSMON_FAULTS_KILLS=50 NEWSMON_FAULTS_STORIES=30 NEWSMON_FAULTS_SCALE=10 NEWSMON_FUZZ_EXAMPLES=2000 \
	NEWSMON_HYPOTHESIS_EXAMPLES=2000 $(BIN)/python -m pytest -q -s -m "not conformance" tests/faults \
	tests/test_config_fuzz.py tests/test_properties.py tests/test_alerts_escaping.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check ruff==0.17.6
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
