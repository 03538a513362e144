"""``fama report RUN_ID``: metrics, errors, tokens and latencies of a stored run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fama.core.paths import DEFAULT_DB


def register(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="summarise a stored run (pass^k, rewards, errors, tokens, latency)",
        description="Summarise a stored run: pass^1..k official (infra errors excluded) and "
        "strict (infra errors as failures), reward components, terminations, errors, tokens "
        "per role, latency per node and one row per episode.",
    )
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"run store (default {DEFAULT_DB})"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--baseline",
        metavar="RUN_ID",
        help="baseline run (same store) for the FAMA token overhead on common tasks",
    )
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Print the report of ``args.run_id``."""
    from fama.runs.report import build_report, render_report, report_json
    from fama.runs.store import RunStore, StoreError

    try:
        with RunStore(args.db, create=False) as store:
            report = build_report(store, args.run_id, baseline_id=args.baseline)
    except StoreError as exc:
        print(f"fama report: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(report_json(report) + "\n" if args.json else render_report(report))
    return 0
