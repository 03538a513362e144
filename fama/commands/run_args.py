"""The command line of ``fama run``: its options, their parsing, and the command that
reproduces a run (``fama study`` and ``fama demo`` build on the same options)."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fama.core.paths import DEFAULT_DB
from fama.envs.user_transcript import USER_STYLES
from fama.runs.spec import (
    AGENTS,
    DEFAULT_CIRCUIT_BREAKER,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_RETRIES,
)


class UsageError(ValueError):
    """Invalid combination of options (reported without a traceback, exit code 2)."""


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """The task-selection options shared by every command that takes tasks."""
    group = parser.add_argument_group("tasks")
    group.add_argument(
        "--data-dir",
        type=Path,
        help="the benchmark's data folder (tau2: the folder holding domains/; default: "
        "$FAMA_DATA_DIR, $FAMA_ACEBENCH_DATA_DIR, $FAMA_TAU_TRAIT_DATA_DIR)",
    )
    group.add_argument(
        "--task-set", choices=["current", "legacy"], default="current", help="tau2 task set"
    )
    group.add_argument("--tasks-file", type=Path, help="tau2: a tasks.json replacing the set's")
    group.add_argument("--split", help="task split (base/train/test; default: all tasks)")
    group.add_argument("--lang", choices=["en", "zh"], help="ACEBench language (default en)")
    group.add_argument(
        "--traits",
        help="tau-trait user traits, e.g. impatience=high,confusion=low "
        "(impatience, confusion, skeptical, incoherence; low|medium|high)",
    )
    group.add_argument(
        "--solo",
        action="store_true",
        help="tau2:telecom solo mode: no user, the agent works the task's ticket alone "
        "(official solo rules and scoring)",
    )
    group.add_argument(
        "--task-ids",
        nargs="+",
        metavar="ID",
        help="only these task ids (space or comma separated)",
    )


def add_fama_arguments(group: Any) -> None:
    """The FAMA knobs (with --agent fama); each is stored in the run's ``RunSpec``."""
    group.add_argument(
        "--allow-overlap",
        action="store_true",
        help="run a --fama-config derived from some of the evaluated tasks (flagged); "
        "refused otherwise",
    )
    group.add_argument("--helper-model", help="model of FAMA's helpers (default: --model)")
    group.add_argument("--helper-base-url", help="server of --helper-model (default --base-url)")
    group.add_argument(
        "--guidance-budget", type=int, help="guidance tokens per decision (default 500)"
    )
    group.add_argument(
        "--helpers",
        help="helper pool, e.g. constraints_extractor,memory (overrides the configuration's)",
    )
    group.add_argument(
        "--tool-use", choices=["fc", "react"], help="FAMA's tool-use node (default fc)"
    )
    group.add_argument(
        "--max-redecisions",
        type=int,
        help="re-decisions after a blocked write before it is refused (default 1)",
    )


FAMA_KNOBS = (
    "allow_overlap",
    "helper_model",
    "helper_base_url",
    "guidance_budget",
    "helpers",
    "tool_use",
    "max_redecisions",
)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of ``fama run``."""
    parser.add_argument(
        "--env", required=True, help="environment, e.g. tau2:retail, acebench:multi_turn"
    )
    add_task_arguments(parser)
    parser.add_argument("--trials", type=int, default=1, help="trials per task (default 1)")
    agent = parser.add_argument_group("agent")
    agent.add_argument("--agent", choices=AGENTS, default="fc", help="agent kind (default fc)")
    agent.add_argument(
        "--mode",
        choices=["static", "dynamic", "all"],
        help="FAMA helper mode (with --agent fama; default static)",
    )
    agent.add_argument("--fama-config", type=Path, help="FAMA configuration (JSON)")
    add_fama_arguments(agent)
    agent.add_argument(
        "--max-steps",
        type=int,
        help="step limit (default: the benchmark's, 200 for tau2, 40 for ACEBench)",
    )
    agent.add_argument(
        "--max-errors",
        type=int,
        help="tool error limit (default: the benchmark's, 10 for tau2, 40 for ACEBench)",
    )
    agent.add_argument(
        "--tool-call-mode",
        choices=["native", "tolerant", "constrained"],
        default="native",
        help="how tool calls are read from the model (default native)",
    )
    models = parser.add_argument_group("models (provider:model, e.g. openai:gpt-4o, local:NAME)")
    models.add_argument("--model", required=True, help="agent model")
    models.add_argument("--user-model", help="user simulator model (default: --model)")
    models.add_argument(
        "--user-style",
        choices=USER_STYLES,
        help="user simulator prompt: chat (official role-flipped chat) or transcript "
        "(Agent:/Customer: lines, for small models; tau2 retail/airline); default: "
        "transcript for local: user models, else chat",
    )
    judge = models.add_mutually_exclusive_group()
    judge.add_argument("--judge-model", help="NL-assertion judge (default: --user-model)")
    judge.add_argument(
        "--no-judge", action="store_true", help="skip NL_ASSERTION (the report says so)"
    )
    models.add_argument(
        "--base-url",
        help="OpenAI-compatible server for all three models; several replicas comma-separated "
        "(least-loaded, failover)",
    )
    models.add_argument("--user-base-url", help="server(s) of the user model (default --base-url)")
    models.add_argument("--judge-base-url", help="server(s) of the judge (default --base-url)")
    models.add_argument("--temperature", type=float, default=0.0, help="(default 0.0)")
    models.add_argument(  # bounded generation (issue 16)
        "--max-output-tokens",
        metavar="ROLE=TOKENS,...",
        help="output-token limit per role, e.g. agent=1024,user=256,helper:planner=192 "
        "(defaults: agent 1024, user 256, judge 1024, helpers 128-256)",
    )
    execution = parser.add_argument_group("execution")
    execution.add_argument("--run-id", help="run id (default: generated); reuse it to resume")
    execution.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"run store (default {DEFAULT_DB})"
    )
    execution.add_argument(
        "--concurrency", type=int, default=4, help="episodes at once (default 4)"
    )
    execution.add_argument(
        "--retry-errors",
        action="store_true",
        help="on resume, re-run episodes stored as infrastructure_error or error",
    )
    execution.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    # --- reliability (issue 12) ---
    execution.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        metavar="SECONDS",
        help=f"per model request (default {DEFAULT_REQUEST_TIMEOUT_S:.0f}: suits a CPU model)",
    )
    execution.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_RETRIES,
        help=f"retries of a failed model request, with backoff (default {DEFAULT_RETRIES})",
    )
    execution.add_argument(
        "--circuit-breaker",
        type=int,
        default=DEFAULT_CIRCUIT_BREAKER,
        metavar="N",
        help="stop the run after N consecutive infrastructure errors (default "
        f"{DEFAULT_CIRCUIT_BREAKER}; 0: never)",
    )
    agent.add_argument(
        "--force-config",
        action="store_true",
        help="run a FAMA configuration made for another environment",
    )
    # --- issue 14: tracing (fama.runs.tracing) ---
    execution.add_argument(
        "--trace",
        choices=["langsmith", "otel"],
        help="send traces (run/episode/decision metadata on every span): langsmith (needs "
        "LANGSMITH_API_KEY) or otel (OTLP if configured, else JSON lines in --trace-file)",
    )
    execution.add_argument(
        "--trace-file",
        type=Path,
        default=Path("fama-traces.jsonl"),
        help="span file of --trace otel without OTLP (default fama-traces.jsonl)",
    )


def parse_traits(text: str | None) -> dict[str, str]:
    """``"impatience=high,confusion=low"`` -> ``{"impatience": "high", "confusion": "low"}``."""
    if not text:
        return {}
    traits: dict[str, str] = {}
    for part in text.split(","):
        name, sep, level = part.strip().partition("=")
        if not sep or not name.strip() or not level.strip():
            raise UsageError(f"--traits: expected TRAIT=LEVEL pairs, got {part.strip()!r}")
        traits[name.strip()] = level.strip()
    return traits


def split_ids(values: Sequence[str] | None) -> list[str] | None:
    """Task ids given space- and/or comma-separated."""
    if values is None:
        return None
    return [part for value in values for part in value.split(",") if part.strip()]


def command_line(args: argparse.Namespace, run_id: str) -> str:
    """The ``fama run`` command that reproduces (and resumes) this run."""
    argv = ["fama", "run"]
    for name in _COMMAND_OPTIONS:
        value = run_id if name == "run_id" else getattr(args, name, None)
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return shlex.join(argv)


_COMMAND_OPTIONS = (
    "env",
    "data_dir",
    "task_set",
    "tasks_file",
    "split",
    "lang",
    "traits",
    "solo",
    "task_ids",
    "trials",
    "agent",
    "mode",
    "fama_config",
    *FAMA_KNOBS,
    "max_steps",
    "max_errors",
    "tool_call_mode",
    "model",
    "user_model",
    "user_style",
    "judge_model",
    "no_judge",
    "base_url",
    "user_base_url",
    "judge_base_url",
    "temperature",
    "max_output_tokens",
    "run_id",
    "db",
    "concurrency",
    "request_timeout",
    "retries",
    "circuit_breaker",
    "force_config",
)
