"""`newsmon completion bash|zsh`: scripts generated from the real parser. The bash script is sourced in a
real bash and its completion function called as bash calls it; the zsh one is syntax-checked by a real zsh
(installed by the test when missing) and loaded through compinit."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from monitor.cli import COMMANDS, main
from monitor.commands.completion import script
from tests.conftest import ROOT, system_tool


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "newsmon.bash"
    path.write_text(script("bash"), encoding="utf-8")
    return path


def complete(bash_script: Path, line: str, cwd: Path = ROOT) -> list[str]:
    """What bash offers for `line` (the word under the cursor is the last one; a trailing space starts a
    new, empty word), by calling the function `complete -p newsmon` names with COMP_WORDS/COMP_CWORD."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    program = (f"source {shlex.quote(str(bash_script))}\n"
               "spec=$(complete -p newsmon) || exit 3\n"
               'func=$(sed -n "s/.*-F \\([^ ]*\\) newsmon$/\\1/p" <<< "$spec")\n'
               f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
               f"COMP_CWORD={len(words) - 1}\n"
               f"COMP_LINE={shlex.quote(line)}\nCOMP_POINT=${{#COMP_LINE}}\n"
               '"$func" newsmon "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
               'printf "%s\\n" "${COMPREPLY[@]}"\n')
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], cwd=cwd, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return sorted(w for w in result.stdout.splitlines() if w)


def test_bash_script_is_valid_and_registers_newsmon(bash_script: Path) -> None:
    check = subprocess.run(["bash", "-n", str(bash_script)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    spec = subprocess.run(["bash", "--norc", "-c", f"source {shlex.quote(str(bash_script))}; complete -p newsmon"],
                          capture_output=True, text=True, timeout=30)
    assert spec.returncode == 0 and spec.stdout.strip().endswith("newsmon"), spec.stdout + spec.stderr


def test_bash_completes_commands(bash_script: Path) -> None:
    assert complete(bash_script, "newsmon st") == ["status", "stories"]
    assert complete(bash_script, "newsmon so") == ["sources"]
    assert complete(bash_script, "newsmon ") == sorted(COMMANDS)
    assert complete(bash_script, "newsmon compl") == ["completion"]


def test_bash_completes_subcommands_options_and_choices(bash_script: Path) -> None:
    assert complete(bash_script, "newsmon sources ") == ["export", "import", "list", "test"]
    assert complete(bash_script, "newsmon sources im") == ["import"]
    assert {"--write", "--interval", "--tag", "--config"} <= set(complete(bash_script, "newsmon sources import --"))
    assert complete(bash_script, "newsmon completion ") == ["bash", "zsh"]
    assert complete(bash_script, "newsmon sources list --format ") == ["json", "text"]
    assert complete(bash_script, "newsmon stories ") == ["merge", "show", "split"]


def test_bash_completes_config_paths(bash_script: Path, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("")
    (tmp_path / "feeds.opml").write_text("")
    assert complete(bash_script, "newsmon validate -c conf", cwd=tmp_path) == ["config.yaml"]
    assert complete(bash_script, "newsmon sources import fee", cwd=tmp_path) == ["feeds.opml"]


def test_zsh_script(tmp_path: Path) -> None:
    text = script("zsh")
    assert text.startswith("#compdef newsmon")
    for name in [*COMMANDS, "export", "import", "--write", "--interval"]:
        assert name in text, name
    zsh = system_tool("zsh", "zsh")
    path = tmp_path / "_newsmon"
    path.write_text(text, encoding="utf-8")
    check = subprocess.run([zsh, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    # loaded by compinit from $fpath, it defines the completion function
    program = (f"fpath=({shlex.quote(str(tmp_path))} $fpath); autoload -Uz compinit; compinit -u -D; "
               "autoload -Uz _newsmon; (( $+functions[_newsmon] )) && print -r -- ${_comps[newsmon]}")
    run = subprocess.run([zsh, "-f", "-c", program], capture_output=True, text=True, timeout=60,
                         env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0 and run.stdout.strip() == "_newsmon", run.stdout + run.stderr


def test_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    assert capsys.readouterr().out == script("bash").rstrip("\n") + "\n"
    with pytest.raises(SystemExit) as info:
        main(["completion", "fish"])
    assert info.value.code == 2
