"""``fama taxonomy show FILE``: print a failure taxonomy as a table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``taxonomy`` sub-command."""
    parser = subparsers.add_parser("taxonomy", help="inspect a failure taxonomy (taxonomy.json)")
    actions = parser.add_subparsers(dest="taxonomy_command", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print categories with counts, shares and examples")
    show.add_argument("file", type=Path, metavar="FILE")
    show.add_argument(
        "--examples", type=int, default=3, help="example episodes per category (default 3)"
    )
    show.set_defaults(func=show_command)


def show_command(args: argparse.Namespace) -> int:
    """Print the taxonomy table; exit code 2 for a missing or invalid file."""
    from fama.analysis.taxonomy import Taxonomy, format_table

    try:
        taxonomy = Taxonomy.load(args.file)
    except ValueError as exc:
        print(f"fama taxonomy: {exc}", file=sys.stderr)
        return 2
    print(format_table(taxonomy, examples=max(0, args.examples)))
    return 0
