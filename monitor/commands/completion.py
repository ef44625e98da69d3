"""`newsmon completion bash|zsh`: print a shell completion script for newsmon, generated (by shtab) from
the real command-line parser, so it completes every command, subcommand and option this newsmon has.

    newsmon completion bash > ~/.local/share/bash-completion/completions/newsmon
    newsmon completion zsh > "${fpath[1]}/_newsmon"      # or any directory in $fpath; then compinit
    source <(newsmon completion bash)                     # this shell only
"""

from __future__ import annotations

import argparse
import sys

HELP = "print a bash or zsh completion script"
SHELLS = ("bash", "zsh")
# Options and arguments naming files or directories, by destination: completed as paths.
_FILES = {"config", "output", "file", "examples", "inputs", "keywords", "against", "dir"}
_DIRS = {"against", "keywords", "dir"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (HELP + ". Install: `newsmon completion bash > ~/.local/share/bash-completion/completions/newsmon`"
                     ", or `newsmon completion zsh > DIR/_newsmon` with DIR in $fpath")
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    """Tell shtab which arguments are paths (it completes nothing for them otherwise)."""
    import shtab

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _mark_paths(sub)
        elif action.dest in _FILES and not action.choices and not getattr(action, "complete", None):
            action.complete = shtab.DIRECTORY if action.dest in _DIRS else shtab.FILE  # type: ignore[attr-defined]


def script(shell: str) -> str:
    import shtab

    from monitor.cli import build_parser

    parser = build_parser()
    _mark_paths(parser)
    return shtab.complete(parser, shell=shell)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell).rstrip("\n") + "\n")
    return 0
