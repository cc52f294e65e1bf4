"""`tally debug sys|config|data`: what tally sees and why it chose what it did."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from tally.cli.options import add_common, add_table_flags, overrides_from

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the `debug` command."""
    parser = commands.add_parser("debug", help="show sys, config or data details")
    add_common(parser)
    add_table_flags(parser, ("tally:counts", "tally:engine", "run:branch"))
    parser.add_argument("topic", choices=("sys", "config", "data"))
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the chosen topic."""
    from tally import env
    from tally.api import Coverage
    from tally.config.readers import load_config
    from tally.data.sqlite import CoverageData
    from tally.version import __version__

    config = load_config(args.rcfile, overrides=overrides_from(args))
    out = sys.stdout.write
    if args.topic == "sys":
        cov = Coverage(config=config)
        out(f"tally_version: {__version__}\n")
        out(f"python: {platform.python_implementation()} {platform.python_version()}\n")
        out(f"platform: {platform.platform()}\n")
        out(f"sys.monitoring: {'yes' if env.HAS_MONITORING else 'no'}\n")
        out(f"gil_enabled: {env.GIL_ENABLED}\n")
        out(f"engine: {cov.choice.name}\n")
        for reason in cov.choice.reasons:
            out(f"engine_reason: {reason}\n")
        for warning in cov.warnings:
            out(f"warning: {warning}\n")
        out(f"config_files: {', '.join(config.files) or 'none'}\n")
        out(f"data_file: {cov.data_file}\n")
    elif args.topic == "config":
        for key, value, origin in config.describe():
            out(f"{key} = {value!r}  ({origin})\n")
        for name, patterns in config.paths.items():
            out(f"paths:{name} = {patterns!r}\n")
        for warning in config.warnings:
            out(f"warning: {warning}\n")
    else:
        data = CoverageData(config.text("run:data_file"))
        for key, value in sorted(data.meta().items()):
            out(f"meta {key}: {value}\n")
        for path in data.measured_files():
            lines = data.lines(path) or []
            hits = sum(data.counts(path).values())
            out(
                f"{path}: {len(lines)} lines"
                + (f", {hits} hits" if data.has_counts() else "")
                + "\n"
            )
    return 0
