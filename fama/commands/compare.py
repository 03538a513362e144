"""``fama compare RUN_A RUN_B [...]``: paired comparison of runs on the same tasks and trials.

Examples::

    fama compare base-fc fama-static                 # terminal tables
    fama compare base-fc fama-static fama-dynamic --out compare.html
    fama compare fama-static base-fc --baseline base-fc --format markdown

Only episodes (task, trial) stored in every run are compared. Differences to the baseline
(the first run unless --baseline) come with a 95% bootstrap interval over tasks and an exact
sign test; tokens per role, latency, FAMA helper activations and failure categories (from
``fama analyze``) are reported side by side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fama.core.paths import DEFAULT_DB

FORMATS = ("table", "markdown", "html", "json")
SUFFIX_FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
}


def register(subparsers: Any) -> None:
    """Add the ``compare`` sub-command."""
    parser = subparsers.add_parser(
        "compare",
        help="compare runs on their common episodes (pass^k, CIs, tokens, failure categories)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_ids", nargs="+", metavar="RUN", help="run ids (two or more)")
    parser.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"run store (default {DEFAULT_DB})"
    )
    parser.add_argument(
        "--baseline", metavar="RUN", help="baseline run (default: the first; added if not listed)"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="output format (default: table, or from the --out suffix .md/.html/.json)",
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="write to FILE, not stdout")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="count infrastructure/internal errors as failures (default: drop those episodes)",
    )
    parser.add_argument(
        "--resamples", type=int, default=10_000, help="bootstrap resamples (default 10000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.set_defaults(func=compare_command)


def output_format(fmt: str | None, out: Path | None) -> str:
    """The explicit format, else the one the output file's suffix names, else ``table``."""
    if fmt is not None:
        return fmt
    if out is not None:
        return SUFFIX_FORMATS.get(out.suffix.lower(), "table")
    return "table"


def compare_command(args: argparse.Namespace) -> int:
    """Compare the runs; exit 2 for unknown runs, bad options or nothing in common."""
    from fama.runs.compare import CompareError, build_comparison
    from fama.runs.compare_render import render_html, render_json, render_markdown, render_text
    from fama.runs.store import RunStore, StoreError

    if args.resamples < 1:
        print("fama compare: --resamples must be at least 1", file=sys.stderr)
        return 2
    try:
        with RunStore(args.db, create=False) as store:
            comparison = build_comparison(
                store,
                args.run_ids,
                baseline=args.baseline,
                convention="strict" if args.strict else "official",
                resamples=args.resamples,
                seed=args.seed,
            )
    except (StoreError, CompareError) as exc:
        print(f"fama compare: {exc}", file=sys.stderr)
        return 2
    renderers = {
        "table": render_text,
        "markdown": render_markdown,
        "html": render_html,
        "json": render_json,
    }
    text = renderers[output_format(args.format, args.out)](comparison)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"fama compare: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
