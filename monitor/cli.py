"""The `newsmon` command line. Each subcommand lives in monitor/commands/<name>.py and provides
`HELP`, `add_arguments(parser)` and `run(args) -> int` (the exit code)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from monitor import __version__
from monitor.errors import ConfigError, StoreError
from monitor.logs import setup_logging

# Subcommands, each the module of that name under monitor.commands, in the order --help shows them.
COMMANDS = ["run", "crawl", "validate", "check", "backtest", "replay", "status", "stories", "alerts", "silence", "demo",
            "sources", "completion"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsmon",
        description="Monitor news for outages, fraud and rumor rebuttals, and alert.",
    )
    parser.add_argument("--version", action="version", version=f"newsmon {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"monitor.commands.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    if not logging.getLogger().handlers:
        setup_logging("text", "info", verbose=args.verbose)
    try:
        return int(args._run(args) or 0)
    except ConfigError as exc:  # every command: each problem as file:line key.path: reason, exit 2
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"newsmon {args.command}: {len(exc.problems)} problem(s), nothing loaded", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"newsmon {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsmon status | head`
        return 0
