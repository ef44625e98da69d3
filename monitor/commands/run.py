"""`newsmon run [-c config.yaml]`: the daemon (what `make run` starts). See monitor/daemon.py."""

from __future__ import annotations

import argparse

HELP = "run the monitor: poll sources on schedule, classify, alert, until stopped"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")


def run(args: argparse.Namespace) -> int:
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.logs import setup_logging

    config = load_config(args.config)
    setup_logging(config.log.format, config.log.level, verbose=args.verbose)
    return Daemon(args.config).run()
