"""`newsmon validate [-c config.yaml]`: check the config and every keyword file it uses.
Exit 0 when valid; otherwise print every problem (file:line key.path: reason) and exit 2."""

from __future__ import annotations

import argparse

HELP = "check config.yaml and the keyword files it uses"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")


def run(args: argparse.Namespace) -> int:
    from monitor.classify import load_ruleset
    from monitor.config import load_config

    config = load_config(args.config)
    rules = load_ruleset(config.classify, config.base_dir)
    cats = ", ".join(rules.categories)
    print(
        f"{args.config}: OK — {len(config.sources)} sources, {len(config.channels)} channels, "
        f"{len(config.routes)} routes; categories: {cats}; {len(rules.files)} keyword files"
    )
    return 0
