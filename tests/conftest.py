"""Shared test fixtures. The seeds and the third-party corpus sit beside the checkout in ../shared
(NEWSMON_CORPUS=DIR, or its older name NEWSMON_SHARED, points elsewhere). A test that reads them is marked `conformance`: `make test`
deselects those (`-m "not conformance"`, the repository's own files alone), `make conformance` runs
only those, and fails at once when ../shared is missing rather than skipping anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSMON_CORPUS") or os.environ.get("NEWSMON_SHARED") or ROOT.parent / "shared")
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: reads the seeds and corpus in ../shared (make conformance)")


@pytest.hookimpl(trylast=True)  # after -m has deselected: only the tests that will run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not (CORPUS.is_dir() and SEEDS.is_dir()) and any(item.get_closest_marker("conformance") for item in items):
        raise pytest.UsageError(f"conformance tests selected, but the shared seeds and corpus are not at {SHARED} "
                                "(set NEWSMON_CORPUS, or deselect them with -m 'not conformance')")


@pytest.fixture(scope="session")
def corpus() -> Path:
    assert CORPUS.is_dir(), f"the shared corpus is expected at {CORPUS}"
    return CORPUS


def run_newsmon(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `newsmon` command line in a subprocess (each crawl needs a fresh Twisted reactor)."""
    full_env = dict(os.environ)
    full_env.pop("NEWSMON_CONFIG", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_until(check: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `check` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


_apt_updated = False


def system_tool(command: str, package: str) -> str:
    """The path of a program a test drives (Chromium, zsh, systemd-analyze), installed from Debian's
    packages when it is missing and we may (root, apt-get): a test needing it never silently skips."""
    global _apt_updated
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not _apt_updated:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
            _apt_updated = True
        result = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                                env=env, capture_output=True, text=True, timeout=900)
        found = shutil.which(command)
        if found:
            return found
        pytest.fail(f"{command} is needed and `apt-get install {package}` failed: {result.stderr[-500:]}")
    pytest.fail(f"{command} is needed by this test: install it (Debian/Ubuntu: apt-get install {package})")
