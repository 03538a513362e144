"""Customer behaviour and success of stored tau2 runs, e.g. the chat vs transcript user style.

Usage: python benchmarks/user_style_study.py --db RUNS.sqlite RUN_ID [RUN_ID ...]

For each run: episodes, how many the simulator could finish (scored), the share whose first
customer message states the request (``fama.runs.user_turns``), the share whose first
customer message is agent talk, and the tasks solved (reward 1).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fama.benchmarks.registry import load_benchmark, options_from_config
from fama.runs.store import RunStore
from fama.runs.user_turns import summarize


def reason_for_call(task: Any) -> str:
    """A tau2 task's reason for the call (the whole instructions when unstructured)."""
    instructions = task.user_scenario.instructions
    return instructions if isinstance(instructions, str) else instructions.reason_for_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("run_ids", nargs="+")
    args = parser.parse_args()
    print("| run | user style | model | episodes | scored | states request | agent talk | solved |")
    print("|---|---|---|---|---|---|---|---|")
    with RunStore(args.db, create=False) as store:
        for run_id in args.run_ids:
            config = store.load_run(run_id).config
            loaded = load_benchmark(config["env"], options_from_config(config))
            reasons = {loaded.task_id(t): reason_for_call(t) for t in loaded.tasks}
            episodes = store.episodes(run_id)
            summary = summarize(
                [(e.records, e.reward) for e in episodes], [reasons[e.task_id] for e in episodes]
            )
            n = summary.episodes
            print(
                f"| {run_id} | {config.get('user_style', 'chat')} | {config['user_model']} | {n} "
                f"| {summary.scored} | {summary.states_request}/{n} "
                f"({summary.share(summary.states_request):.0%}) | {summary.agent_talk}/{n} "
                f"| {summary.solved}/{n} |"
            )


if __name__ == "__main__":
    main()
