"""``fama demo``: the main job on the embedded default, baseline vs FAMA side by side.

It gets the tau2 data (``--data-dir`` / ``FAMA_DATA_DIR`` / pulled copy, pulling it when
missing), sets up and starts the local model server (one-time build and model assembly are
cached), runs the function-calling baseline and the FAMA agent (static mode) on a handful of
retail tasks with the same model as agent and user simulator, and prints success, tokens,
latency and the helpers used, plus the commands that show the full reports.

The demo's FAMA configuration is the helper set the paper found most often recommended for
small Qwen models (domain-constraints extractor + memory, k = 6 for retail); it is written
beside the run store. For a configuration derived from your own failures, run
``fama analyze`` on a baseline run of the train split.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

DEFAULT_DEMO_MODEL = "local:qwen2.5-coder-0.5b"
"""The 0.5B model: on these 2-core AVX2 machines the 1.5B reads prompts at about 21 tokens/s
(4 minutes for the first 5k-token tau2 call), too slow for a demo; pass --model for it."""
DEMO_HELPERS = ["constraints_extractor", "memory"]
RUNS = ("demo-baseline", "demo-fama")


def register(subparsers: Any) -> None:
    """Add ``fama demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="run the baseline and FAMA on a few retail tasks and compare them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default=DEFAULT_DEMO_MODEL, help="agent and user model")
    parser.add_argument("--base-url", help="use this OpenAI-compatible server (no local one)")
    parser.add_argument(
        "--user-model",
        help="user simulator model (default --model; the embedded Qwen2.5-Coder models role-play "
        "the customer poorly, so a larger model here gives a more meaningful comparison)",
    )
    parser.add_argument("--user-base-url", help="server of --user-model")
    parser.add_argument("--tasks", type=int, default=2, help="number of retail tasks (default 2)")
    parser.add_argument("--task-ids", nargs="+", metavar="ID", help="these retail task ids")
    parser.add_argument("--max-steps", type=int, default=24, help="step limit per episode")
    parser.add_argument("--data-dir", type=Path, help="tau2 data folder (default: resolved)")
    parser.add_argument("--out", type=Path, default=Path("fama-demo"), help="output folder")
    parser.set_defaults(func=demo_command)


def _step(number: int, text: str) -> None:
    print(f"[{number}/5] {text}", file=sys.stderr, flush=True)


def _data_dir(explicit: Path | None) -> Path:
    from fama.core.paths import pulled_data_dir
    from fama.envs.tau2.data import DataNotFoundError, resolve_data_dir
    from fama.serving.tau2_data import pull_tau2

    try:
        return resolve_data_dir(explicit)
    except DataNotFoundError:
        if explicit is not None:
            raise
    dest = pulled_data_dir("tau2")
    pull_tau2(dest)
    return dest


def _serve(stack: ExitStack, model: str) -> str:
    """Start the local server of a ``local:`` model for the rest of the demo; its base URL."""
    from fama.serving import local_server_for

    server = stack.enter_context(local_server_for(model))
    print(f"      {model} served at {server.base_url}", file=sys.stderr)
    return str(server.base_url)


def demo_task_ids(data_dir: Path, count: int) -> list[str]:
    """The first retail test tasks whose reward needs no LLM judge (no NL assertions)."""
    from fama.envs.tau2.tasks import load_tasks

    chosen = []
    for task in load_tasks("retail", split="test", data_dir=data_dir):
        criteria = task.evaluation_criteria
        if criteria is not None and not criteria.nl_assertions:
            chosen.append(task.id)
        if len(chosen) == count:
            break
    return chosen


def _write_config(path: Path, model: str) -> None:
    from fama.core.fama_config import FamaConfig

    FamaConfig(
        backbone=model,
        environment="tau2:retail",
        helpers=DEMO_HELPERS,
        params={"memory": {"k": 6}},
        derived_from={
            "source": "demo default: the helpers the FAMA paper most often recommends for "
            "Qwen backbones (memory + domain-constraints extractor); not derived from a run"
        },
    ).save(path)


def _run(argv: list[str]) -> int:
    """Run a ``fama`` sub-command in a child process (each run owns its event loop and HTTP
    clients; langchain-openai's shared client does not survive a second ``asyncio.run``)."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "fama.cli", *argv], check=False).returncode


def _summary(store: Any, run_id: str) -> dict[str, Any]:
    from fama.helpers.registry import HELPERS
    from fama.runs.metrics import is_success

    episodes = store.episodes(run_id, messages=False)
    nodes = {t["node"] for e in episodes for t in e.node_timings}
    calls = [c for e in episodes for c in e.llm_calls]
    return {
        "successes": sum(1 for e in episodes if is_success(e.reward)),
        "episodes": len(episodes),
        "input_tokens": sum(c["input_tokens"] for c in calls),
        "output_tokens": sum(c["output_tokens"] for c in calls),
        "seconds": sum(e.duration_s or 0.0 for e in episodes),
        "helpers": [h for h in HELPERS if f"helper:{h}" in nodes],
    }


def render_side_by_side(baseline: dict[str, Any], fama: dict[str, Any]) -> str:
    """The demo's comparison table."""

    def tokens(s: dict[str, Any]) -> int:
        return int(s["input_tokens"] + s["output_tokens"])

    overhead = (
        f"{100.0 * (tokens(fama) - tokens(baseline)) / tokens(baseline):+.1f}%"
        if tokens(baseline)
        else "n/a"
    )
    lines = [
        f"{'':22}{'baseline (fc)':>16}{'FAMA (static)':>16}",
        f"{'tasks solved':22}{baseline['successes']:>10} / {baseline['episodes']:<3}"
        f"{fama['successes']:>10} / {fama['episodes']:<3}",
        f"{'tokens (in + out)':22}{tokens(baseline):>16,}{tokens(fama):>16,}",
        f"{'token overhead':22}{'':>16}{overhead:>16}",
        f"{'wall time (s)':22}{baseline['seconds']:>16.0f}{fama['seconds']:>16.0f}",
    ]
    lines.append(f"FAMA helpers used: {', '.join(fama['helpers']) or 'none'}")
    return "\n".join(lines)


def write_pages(store: Any, out: Path) -> list[Path]:
    """The comparison report and one viewer page per run, as static HTML files in ``out``."""
    from fama.runs.compare import build_comparison
    from fama.runs.compare_render import render_html
    from fama.view import write_view

    comparison = out / "compare.html"
    comparison.write_text(
        render_html(build_comparison(store, ["demo-baseline", "demo-fama"])), encoding="utf-8"
    )
    views = [write_view(store, run, out / f"view-{run}.html") for run in RUNS]
    return [comparison, *views]


def demo_command(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    from fama.envs.tau2.data import DataNotFoundError
    from fama.runs.store import RunStore

    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "runs.sqlite"
    config_path = args.out / "fama_config.json"
    _step(1, "tau2 data")
    try:
        data_dir = _data_dir(args.data_dir)
    except DataNotFoundError as exc:
        print(f"fama demo: {exc}", file=sys.stderr)
        return 2
    task_ids = args.task_ids or demo_task_ids(data_dir, args.tasks)
    print(f"      data: {data_dir}; retail tasks {', '.join(task_ids)}", file=sys.stderr)
    _write_config(config_path, args.model)
    with ExitStack() as stack:
        _step(2, "model servers (first time: build llama-server + install the model)")
        base_url = args.base_url or _serve(stack, args.model)
        user_base_url = args.user_base_url
        if args.user_model and not user_base_url:
            user_base_url = base_url if args.user_model == args.model else None
            if user_base_url is None and args.user_model.startswith("local:"):
                user_base_url = _serve(stack, args.user_model)
        common = [
            "--env", "tau2:retail", "--data-dir", str(data_dir), "--task-ids", *task_ids,
            "--trials", "1", "--model", args.model, "--base-url", base_url, "--no-judge",
            "--tool-call-mode", "tolerant", "--max-steps", str(args.max_steps),
            "--concurrency", "1", "--db", str(db),
        ]  # fmt: skip
        if args.user_model:
            common += ["--user-model", args.user_model]
        if user_base_url:
            common += ["--user-base-url", user_base_url]
        _step(3, "baseline: function-calling agent")
        if _run(["run", *common, "--agent", "fc", "--run-id", "demo-baseline"]) != 0:
            return 1
        _step(4, "FAMA: static helpers " + ", ".join(DEMO_HELPERS))
        fama_args = ["--agent", "fama", "--mode", "static", "--fama-config", str(config_path)]
        if _run(["run", *common, *fama_args, "--run-id", "demo-fama"]) != 0:
            return 1
    _step(5, "comparison")
    store = RunStore(db, create=False)
    print(render_side_by_side(_summary(store, "demo-baseline"), _summary(store, "demo-fama")))
    pages = write_pages(store, args.out)
    minutes = (time.monotonic() - started) / 60.0
    print(f"\ndemo finished in {minutes:.1f} min. Pages (open in a browser):")
    for page in pages:
        print(f"  {page}")
    print("Full reports:")
    print(f"  fama compare demo-baseline demo-fama --db {db}")
    print(f"  fama report demo-fama --db {db} --baseline demo-baseline")
    print(f"  fama report demo-baseline --db {db}")
    print(f"  fama export demo-fama --db {db} -o demo-fama.jsonl")
    return 0
