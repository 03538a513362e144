"""``fama tau-bench ...``: utilities on tau-bench v1 (gold replay)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``tau-bench`` command and its sub-commands."""
    parser = subparsers.add_parser("tau-bench", help="tau-bench v1 utilities")
    commands = parser.add_subparsers(dest="tau_bench_command", required=True, metavar="SUBCOMMAND")
    replay = commands.add_parser(
        "replay",
        help="replay every task's gold actions as an episode and score it with the v1 reward",
        description=(
            "Run each task's gold actions as the agent's tool calls (the agent also states the "
            "task's outputs), score the episode with tau-bench v1's reward and print "
            '{"task_id", "reward", "components", "data_hash", "errors", "skipped"} per task, '
            "one JSON line each; a summary goes to stderr. Exit code 1 when a task scores "
            "below 1."
        ),
    )
    replay.add_argument("--domain", required=True, choices=["retail", "airline"])
    replay.add_argument(
        "--split", default="test", help="test (both), train or dev (retail); default test"
    )
    replay.add_argument("--data-dir", type=Path, help="tau-trait data folder (data, policy)")
    replay.add_argument(
        "--tau-bench-dir",
        type=Path,
        help="a tau-bench checkout to read the task lists from (default $FAMA_TAU_BENCH_DIR, "
        "an installed tau_bench, else the verified lists in the tau-trait data)",
    )
    replay.add_argument("--task-ids", nargs="+", metavar="ID", help="only these tasks")
    replay.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    """Replay and score the selected v1 tasks; print the JSON lines and a summary."""
    from fama.envs.tau_bench.domain import load_v1_domain
    from fama.envs.tau_bench.replay import replay_all
    from fama.envs.tau_bench.tasks import UPSTREAM, load_v1_tasks
    from fama.envs.tau_trait.data import resolve_data_dir

    try:
        root = resolve_data_dir(args.data_dir).resolve()
        selected = load_v1_tasks(
            args.domain,
            args.split,
            data_root=root,
            tau_bench_dir=args.tau_bench_dir,
            task_ids=args.task_ids,
        )
        domain = load_v1_domain(args.domain, root)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    below: list[str] = []
    with_errors = 0
    for result in replay_all(domain, selected.tasks):
        sys.stdout.write(result.to_json() + "\n")
        sys.stdout.flush()
        below += [result.task_id] if result.reward < 1.0 else []
        with_errors += bool(result.errors)
    origin = UPSTREAM if selected.pinned else "NOT the pinned upstream list"
    print(
        f"tau-bench {args.domain} {selected.split}: {len(selected.tasks)} tasks, "
        f"{len(selected.tasks) - len(below)} reward 1, {len(below)} below"
        f"{' (' + ', '.join(below) + ')' if below else ''}; {with_errors} with gold actions "
        f"that answer an error; list from {selected.source} ({origin})",
        file=sys.stderr,
    )
    return 1 if below else 0
