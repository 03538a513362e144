"""``fama export RUN_ID``: every stored episode as one JSON object per line (JSONL)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from fama.core.paths import DEFAULT_DB


def register(subparsers: Any) -> None:
    """Add the ``export`` sub-command."""
    parser = subparsers.add_parser(
        "export",
        help="export a stored run as JSONL (one episode per line, with messages)",
        description="Write one JSON object per episode per line: every stored field (status, "
        "termination, reward and its breakdown, usage, timings, ...) and the messages.",
    )
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"run store (default {DEFAULT_DB})"
    )
    parser.add_argument("-o", "--output", type=Path, help="output file (default: stdout)")
    parser.set_defaults(func=run_export)


def write_jsonl(episodes: list[Any], out: TextIO) -> int:
    """Write episodes (``EpisodeRecord``) as JSON lines; returns how many were written."""
    for episode in episodes:
        out.write(json.dumps(episode.to_json(), ensure_ascii=False) + "\n")
    return len(episodes)


def run_export(args: argparse.Namespace) -> int:
    """Export ``args.run_id`` to ``args.output`` or stdout."""
    from fama.runs.store import RunStore, StoreError

    try:
        with RunStore(args.db, create=False) as store:
            episodes = store.episodes(args.run_id)
    except StoreError as exc:
        print(f"fama export: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        write_jsonl(episodes, sys.stdout)
        return 0
    try:
        with args.output.open("w", encoding="utf-8") as out:
            count = write_jsonl(episodes, out)
    except OSError as exc:
        print(f"fama export: cannot write {args.output}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {count} episodes to {args.output}", file=sys.stderr)
    return 0
