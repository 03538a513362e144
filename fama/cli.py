"""The ``fama`` command line: one sub-command module per job under ``fama.commands``.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` (taking the parsed namespace, returning an exit code). Modules are imported only
to build the parser, and heavy imports stay inside the command functions.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "fama.commands.tau2",
    "fama.commands.tau_bench",
    "fama.commands.run",
    "fama.commands.report",
    "fama.commands.compare",
    "fama.commands.view",
    "fama.commands.export",
    "fama.commands.import_run",
    "fama.commands.analyze",
    "fama.commands.study",
    "fama.commands.taxonomy",
    "fama.commands.graph",
    "fama.commands.serve",
    "fama.commands.data",
    "fama.commands.bench_model",
    "fama.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="fama",
        description="Failure-aware helpers for small open LLM agents in multi-turn tool use.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
