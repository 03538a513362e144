"""``fama tau2 ...``: utilities on the tau2 environments (gold replay)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``tau2`` command and its sub-commands."""
    parser = subparsers.add_parser("tau2", help="tau2-bench environment utilities")
    commands = parser.add_subparsers(dest="tau2_command", required=True, metavar="SUBCOMMAND")
    replay = commands.add_parser(
        "replay",
        help="replay every task's gold actions; print one JSON line per task",
        description=(
            "Replay the gold actions of each task through the environment and print "
            '{"task_id", "db_hash", "outputs"} per task, one JSON object per line.'
        ),
    )
    replay.add_argument("--domain", required=True, choices=["retail", "airline", "telecom"])
    replay.add_argument("--data-dir", help="tau2 data folder (holding domains/)")
    replay.add_argument(
        "--task-set",
        choices=["current", "legacy"],
        default="current",
        help="legacy: the 2025 v0.2 sets (retail and airline only)",
    )
    replay.add_argument("--tasks-file", help="a tasks.json to use instead of the task set's")
    replay.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    """Replay the gold actions of a domain's tasks and print the JSON lines."""
    from fama.envs.tau2.environment import load_domain
    from fama.envs.tau2.replay import replay_all
    from fama.envs.tau2.tasks import load_tasks

    try:
        tasks = load_tasks(
            args.domain,
            task_set=args.task_set,
            data_dir=args.data_dir,
            tasks_file=args.tasks_file,
        )
        domain = load_domain(args.domain, args.data_dir)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    for result in replay_all(domain, tasks):
        out.write(result.to_json() + "\n")
    out.flush()
    return 0
