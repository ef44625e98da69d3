"""`newsmon run [-c config.yaml]`: the daemon (what `make run` starts). See monitor/daemon.py.

Exit 2, with one line naming the other daemon's pid, when a daemon already runs on the config's store."""

from __future__ import annotations

import argparse
import sys

HELP = "run the monitor: poll sources on schedule, classify, alert, until stopped"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")


def run(args: argparse.Namespace) -> int:
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.logs import setup_logging
    from monitor.runinfo import AlreadyRunning

    config = load_config(args.config)
    setup_logging(config.log.format, config.log.level, verbose=args.verbose)
    try:
        daemon = Daemon(args.config)
    except AlreadyRunning as exc:
        print(f"newsmon run: {exc}", file=sys.stderr)
        return 2
    return daemon.run()
