"""The command line as a user meets it: `newsmon validate`, and the shared handling of bad config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from tests.conftest import ROOT


def test_validate_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-c", str(ROOT / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{ROOT / 'config.yaml'}: OK — 15 sources, 0 channels, 0 routes; categories: fraud, outage, rumor;")


@pytest.mark.parametrize("command", [["validate"], ["status"], ["crawl", "--once"], ["alerts", "list"],
                                     ["silence", "list"], ["check", "x.txt"], ["run"]],
                         ids=["validate", "status", "crawl", "alerts", "silence", "check", "run"])
def test_every_command_reports_config_problems_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("crawl:\n  delay: soon\nsources:\n  - {id: a, type: feed, url: 'ftp://x'}\n", encoding="utf-8")
    assert main([*command, "-c", str(cfg)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f'{cfg}:2 crawl.delay: not a duration: "soon" (use e.g. "30s", "5m", "2h", "1d")',
        f"{cfg}:4 sources[0].url: not an http(s) URL",
        f"newsmon {command[0]}: 2 problem(s), nothing loaded",
    ]


def test_invalid_keyword_file_is_reported_by_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kw.yaml").write_text("language: en\ncategories:\n  outage:\n    strong: [\"net* down\"]\n",
                                      encoding="utf-8")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("classify: {keywords: [kw.yaml]}\n", encoding="utf-8")
    assert main(["validate", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f'{tmp_path / "kw.yaml"}:4 categories.outage.strong[0]: term "net* down": '
                      '"*" is only allowed at the start or end of a term')
