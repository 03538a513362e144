"""Benchmarks a run can use, behind one interface: ``load_benchmark("acebench:multi_turn", ...)``.

Each benchmark package has an adapter module with ``load_benchmark(domain, options) ->
LoadedBenchmark``: it loads the tasks, names the agent prompt and the loop settings the
benchmark needs, and builds the per-episode executor (environment, user simulator, scoring).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from fama.core.retry import RetryPolicy
    from fama.runs.runner import AgentSetup, GraphEpisodeExecutor

# benchmark prefix of --env -> adapter module
ADAPTERS: dict[str, str] = {
    "tau2": "fama.benchmarks.tau2",
    "acebench": "fama.benchmarks.acebench",
    "tau-trait": "fama.benchmarks.tau_trait",
    "tau-bench": "fama.benchmarks.tau_bench",
    "python": "fama.benchmarks.python_env",  # python:MODULE:FACTORY, a user's own domain
}

# every --env value a run accepts (benchmark:domain)
ENVIRONMENTS: tuple[str, ...] = (
    "tau2:retail",
    "tau2:airline",
    "tau2:telecom",
    "acebench:multi_turn",
    "acebench:multi_step",
    "tau-trait:retail",
    "tau-trait:airline",
    "tau-trait:telecom",
    "tau-trait:telehealth",
    "tau-bench:retail",
    "tau-bench:airline",
)


@dataclass(frozen=True)
class BenchmarkOptions:
    """Task selection and benchmark-specific options (each benchmark reads what it knows)."""

    data_dir: Path | None = None  # the benchmark's own data folder (None: env var / default)
    split: str | None = None
    task_ids: list[str] | None = None
    tasks_file: Path | None = None
    task_set: str = "current"  # tau2 only: current | legacy
    lang: str = "en"  # acebench only: en | zh
    traits: dict[str, str] = field(default_factory=dict)  # tau-trait: trait -> low|medium|high


@dataclass(frozen=True)
class ExecutorParts:
    """What a run supplies to build a benchmark's episode executor."""

    agent: AgentSetup
    agent_model: BaseChatModel
    user_model: BaseChatModel
    judge_model: BaseChatModel | None
    judge_model_name: str
    retry: RetryPolicy
    context_options: Mapping[str, Any]  # loop options of the run (max_steps, ...)


@dataclass(frozen=True)
class LoadedBenchmark:
    """A benchmark domain with its selected tasks, ready to run."""

    env: str  # e.g. "acebench:multi_turn"
    domain: str  # stored with each episode, e.g. "acebench_multi_turn"
    tasks: Sequence[Any]
    task_id: Callable[[Any], str]
    policy: str  # the domain policy (analysis, prompt refs)
    agent_prompt: str  # registry prompt rendered with policy=... (fc and fama agents)
    data_refs: list[dict[str, str]]  # sha256 refs of prompt texts that come from the data
    config: dict[str, Any]  # benchmark entries of the run configuration
    loop_defaults: dict[str, Any]  # episode-loop options the benchmark needs
    make_executor: Callable[[ExecutorParts], GraphEpisodeExecutor]


def sha256_text(text: str) -> str:
    """Hex SHA-256 of a text (references of data-provided prompts, task digests)."""
    return hashlib.sha256(text.encode()).hexdigest()


def parse_env(env: str) -> tuple[str, str]:
    """``"tau2:retail"`` -> ``("tau2", "retail")``; a clear ``ValueError`` when unknown."""
    benchmark, _, domain = env.partition(":")
    if benchmark == "python" and domain:
        return benchmark, domain
    if env not in ENVIRONMENTS:
        raise ValueError(
            f"unknown environment {env!r} (choose from {', '.join(ENVIRONMENTS)}, "
            "or python:MODULE:FACTORY for your own domain)"
        )
    return benchmark, domain


def load_benchmark(env: str, options: BenchmarkOptions | None = None) -> LoadedBenchmark:
    """Load the benchmark domain named by ``env`` with ``options``."""
    benchmark, domain = parse_env(env)
    module = importlib.import_module(ADAPTERS[benchmark])
    loaded: LoadedBenchmark = module.load_benchmark(domain, options or BenchmarkOptions())
    return loaded


def options_from_config(
    config: Mapping[str, Any], data_dir: Path | None = None
) -> BenchmarkOptions:
    """The benchmark options a stored run was made with (``data_dir`` overrides the stored one)."""
    stored_dir = config.get("data_dir")
    return BenchmarkOptions(
        data_dir=data_dir or (Path(stored_dir) if stored_dir else None),
        split=config.get("split"),
        task_ids=[str(i) for i in config.get("task_ids") or []] or None,
        tasks_file=Path(config["tasks_file"]) if config.get("tasks_file") else None,
        task_set=config.get("task_set") or "current",
        lang=config.get("lang") or "en",
        traits=dict(config.get("traits") or {}),
    )


def run_policy(config: Mapping[str, Any], data_dir: Path | None = None) -> str:
    """The domain policy of a stored run: stored with it (imported runs), else reloaded."""
    if isinstance(config.get("policy"), str):
        return str(config["policy"])
    return load_benchmark(str(config.get("env")), options_from_config(config, data_dir)).policy
