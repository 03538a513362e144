"""Differential checks against the official code: seeded random calls through both sides.

Needs the upstream repositories (not shipped with FAMA; nothing of them is committed):

- ``$FAMA_TAU_BENCH_DIR`` (or ``--tau-bench-dir``): a sierra-research/tau-bench checkout;
- ``$FAMA_ACEBENCH_REPO`` (or ``--acebench-dir``): a chenchen0103/ACEBench checkout;

plus the FAMA data folders (tau-trait, ACEBench). A section whose upstream or data is missing
is skipped with the reason. Sections:

- ``tau-bench-gold``: every v1 task's gold data hash, upstream ``Env.calculate_reward`` vs
  ``fama.envs.tau_trait.reward.gold_hash`` on the v1 domain, and the initial data hashes;
- ``tau-bench-tools``: random sequences of (mutated) gold tool calls through upstream's
  ``Env.step`` and our environment: every observation and the final data hash;
- ``calculate``: random expressions and non-string arguments through upstream's
  ``Calculate.invoke`` and ours;
- ``acebench``: random sequences of (mutated) milestone calls on the official API classes
  and ours (``ApiSession``): every return value or error, and the scored state.

Run ``python -m tests.differential_upstream [--seed N] [--sequences N] [--steps N]``; it
prints one line per section and the first mismatches, and exits 1 if any section mismatched.
``tests/test_differential_upstream.py`` runs a small seed of each in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import inspect
import io
import json
import os
import random
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fama.envs.acebench.calls import parse_call_list
from fama.envs.acebench.data import load_initial_state, load_tasks
from fama.envs.acebench.evaluation import milestone_lists
from fama.envs.acebench.session import API_CLASSES, SAVED_ATTRIBUTES, ApiSession
from fama.envs.tau2.common import calculate_expression
from fama.envs.tau2.data import DataNotFoundError
from fama.envs.tau_bench.domain import load_v1_domain
from fama.envs.tau_bench.tasks import SPLITS, find_package, load_v1_tasks
from fama.envs.tau_trait.data import resolve_data_dir as tau_trait_dir
from fama.envs.tau_trait.reward import data_hash, gold_hash

ACEBENCH_ENV = "FAMA_ACEBENCH_REPO"
ODD_VALUES: tuple[Any, ...] = (None, 5, -1, 2.5, True, "", "x", {}, [], {"a": 1}, ["1"])
MAX_SHOWN = 8


@dataclass
class Section:
    """The outcome of one section: checks made, mismatches found, or why it was skipped."""

    name: str
    checks: int = 0
    mismatches: list[str] = field(default_factory=list)
    skipped: str | None = None

    def compare(self, where: str, ours: Any, theirs: Any) -> None:
        """Count one check; record a mismatch when the two differ."""
        self.checks += 1
        if ours != theirs:
            self.mismatches.append(f"{where}: ours {_short(ours)} != upstream {_short(theirs)}")

    def summary(self) -> str:
        """One line: ``name: checks, mismatches`` or ``name: skipped (reason)``."""
        if self.skipped:
            return f"{self.name}: skipped ({self.skipped})"
        return f"{self.name}: {self.checks} checks, {len(self.mismatches)} mismatches"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` as JSON data, or ``"<ExceptionType>: <message>"``."""
    try:
        value = function(*args, **kwargs)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return json.loads(json.dumps(value, default=str, sort_keys=True, ensure_ascii=False))


# --- upstream imports ------------------------------------------------------------------------


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def upstream_tau_bench(explicit: Path | None) -> None:
    """Import upstream's ``tau_bench`` from a checkout (litellm stubbed: no LLM is called)."""
    package = find_package(explicit)
    if package is None:
        raise DataNotFoundError(f"no tau-bench checkout (set ${'FAMA_TAU_BENCH_DIR'})")
    if "litellm" not in sys.modules:
        stub = types.ModuleType("litellm")
        stub.completion = None  # type: ignore[attr-defined]
        sys.modules["litellm"] = stub
    with _on_path(package.parent):
        importlib.import_module("tau_bench.envs")


def tau_bench_sides(
    section: Section, tau_bench_dir: Path | None, data_dir: Path | None
) -> Path | None:
    """Import upstream and find the tau-trait data; None (the section skipped) if either lacks."""
    try:
        upstream_tau_bench(tau_bench_dir)
        return tau_trait_dir(data_dir).resolve()
    except DataNotFoundError as exc:
        section.skipped = str(exc)
        return None


def upstream_env(domain: str, split: str) -> Any:
    """An upstream ``Mock<Domain>DomainEnv`` with the human user (never asked anything)."""
    module = importlib.import_module(f"tau_bench.envs.{domain}")
    cls = getattr(module, f"Mock{domain.capitalize()}DomainEnv")
    return cls(user_strategy="human", user_model="none", task_split=split, task_index=0)


def acebench_repo(explicit: Path | None) -> Path:
    """The ACEBench checkout (holding ``model_inference/multi_turn``)."""
    value = explicit or os.environ.get(ACEBENCH_ENV)
    if not value:
        raise DataNotFoundError(f"no ACEBench checkout (set ${ACEBENCH_ENV})")
    path = Path(value)
    if not (path / "model_inference" / "multi_turn").is_dir():
        raise DataNotFoundError(f"{path} is not an ACEBench checkout (no model_inference/)")
    return path


# --- tau-bench v1 ----------------------------------------------------------------------------


def check_tau_bench_gold(
    tau_bench_dir: Path | None, data_dir: Path | None, limit: int | None = None
) -> Section:
    """Gold data hashes of every v1 task (the first ``limit`` per list), and the initial data."""
    section = Section("tau-bench-gold")
    root = tau_bench_sides(section, tau_bench_dir, data_dir)
    if root is None:
        return section
    for domain, splits in SPLITS.items():
        ours_domain = load_v1_domain(domain, root)
        for split in splits:
            env = upstream_env(domain, split)
            section.compare(
                f"{domain} initial data",
                data_hash(ours_domain.fresh_data()),
                env.get_data_hash(),
            )
            tasks = load_v1_tasks(domain, split, data_root=root, tau_bench_dir=tau_bench_dir)
            for index, task in enumerate(tasks.tasks[:limit]):
                env.task, env.actions = env.tasks[index], []
                env.calculate_reward()
                section.compare(
                    f"{domain} {task.id}", gold_hash(ours_domain, task), env.get_data_hash()
                )
    return section


def mutate(
    rng: random.Random, kwargs: dict[str, Any], pool: dict[str, list[Any]]
) -> dict[str, Any]:
    """A copy of ``kwargs``: unchanged, a key dropped, a value swapped or odd, or a key added."""
    result = copy.deepcopy(kwargs)
    roll = rng.random()
    keys = sorted(result)
    if roll < 0.4 or not keys:
        return result
    key = rng.choice(keys)
    if roll < 0.55:
        del result[key]
    elif roll < 0.75 and pool.get(key):
        result[key] = copy.deepcopy(rng.choice(pool[key]))
    elif roll < 0.9:
        result[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    else:
        result["x"] = 1
    return result


def check_tau_bench_tools(
    tau_bench_dir: Path | None, data_dir: Path | None, seed: int, sequences: int, steps: int
) -> Section:
    """Random sequences of mutated gold calls: each observation and the final data hash."""
    section = Section("tau-bench-tools")
    root = tau_bench_sides(section, tau_bench_dir, data_dir)
    if root is None:
        return section
    from tau_bench.types import Action  # type: ignore[import-not-found]

    rng = random.Random(seed)
    for domain in SPLITS:
        ours_domain = load_v1_domain(domain, root)
        env = upstream_env(domain, "test")
        tasks = load_v1_tasks(domain, "test", data_root=root, tau_bench_dir=tau_bench_dir).tasks
        calls = [
            (a.name, a.kwargs)
            for t in tasks
            for a in t.actions
            if a.name not in ours_domain.tools.terminal_tools
        ] + [("no_such_tool", {}), ("think", {"thought": "hmm"})]
        pool: dict[str, list[Any]] = {}
        for _, kwargs in calls:
            for key, value in kwargs.items():
                pool.setdefault(key, []).append(value)
        for sequence in range(sequences):
            env.data = env.data_load_func()
            ours = ours_domain.new_environment()
            for step in range(steps):
                name, kwargs = rng.choice(calls)
                arguments = mutate(rng, kwargs, pool)
                theirs = env.step(Action(name=name, kwargs=copy.deepcopy(arguments))).observation
                mine = ours.execute(name, copy.deepcopy(arguments)).content
                section.compare(
                    f"{domain} seq {sequence} step {step} {name}({arguments})", mine, theirs
                )
            section.compare(
                f"{domain} seq {sequence} data", data_hash(ours.data), env.get_data_hash()
            )
    return section


def random_expression(rng: random.Random, depth: int = 0) -> str:
    """A random arithmetic text: numbers, + - * / // (at most small powers), parentheses."""
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        number = rng.choice(["0", "7", "12", "3.5", ".5", "007", "1e3", "100", "2.", "1_0"])
        return rng.choice(["", " ", "-"]) + number
    if roll < 0.45:
        return f"({random_expression(rng, depth + 1)})"
    op = rng.choice(["+", "-", "*", "/", "//", " * ", "**", "%", "x"])
    left, right = random_expression(rng, depth + 1), random_expression(rng, depth + 1)
    if op == "**":  # keep upstream's eval fast: a small exponent
        right = rng.choice(["2", "0.5", "-1", "3"])
    return left + op + right + rng.choice(["", "", ")", " "])


def check_calculate(tau_bench_dir: Path | None, seed: int, count: int) -> Section:
    """Random expressions and odd arguments: upstream's Calculate.invoke vs ours (v1 and tau2)."""
    section = Section("calculate")
    try:
        upstream_tau_bench(tau_bench_dir)
    except DataNotFoundError as exc:
        section.skipped = str(exc)
        return section
    from tau_bench.envs.retail.tools.calculate import Calculate  # type: ignore[import-not-found]

    from fama.envs.tau_trait.retail import calculate

    def tau2_style(expression: Any) -> Any:
        """tau2's tool raises instead of answering "Error: ..."; compare the texts."""
        try:
            return calculate_expression(expression)
        except Exception as exc:
            return f"Error: {exc}"

    rng = random.Random(seed)
    arguments: list[Any] = [random_expression(rng) for _ in range(count)]
    arguments += [list(ODD_VALUES), *ODD_VALUES, ["1", "2"], ["12"], {"1": 2}]
    for argument in arguments:
        theirs = outcome(Calculate.invoke, {}, expression=argument)
        section.compare(f"v1 {argument!r}", outcome(calculate, {}, argument), theirs)
        if isinstance(argument, str) and isinstance(theirs, str):
            lower = theirs.replace("Error: invalid characters", "Error: Invalid characters")
            section.compare(f"tau2 {argument!r}", tau2_style(argument), lower)
    return section


# --- ACEBench --------------------------------------------------------------------------------


def _upstream_instances(
    lang: str, classes: tuple[str, ...], config: dict[str, Any]
) -> dict[str, Any]:
    instances = {}
    for name in classes:
        folder = "phone_platform." if name != "Travel" else ""
        module_name = {
            "BaseApi": "base_api",
            "MessageApi": "message",
            "ReminderApi": "reminder",
            "FoodPlatform": "food_services",
            "Travel": "travel",
        }[name]
        module = importlib.import_module(
            f"model_inference.multi_turn.scenarios{lang}.{folder}{module_name}"
        )
        instance = getattr(module, name)()
        instance._load_scenario(copy.deepcopy(config.get(name, {})), long_context=False)
        instance._load_scenario(copy.deepcopy(config.get("BaseApi", {})), long_context=False)
        instances[name] = instance
    return instances


def _upstream_call(instances: dict[str, Any], name: str, arguments: dict[str, Any]) -> Any:
    result = None
    with contextlib.redirect_stdout(io.StringIO()):  # upstream prints as it goes
        for instance in instances.values():
            method = getattr(instance, name, None)
            if method is not None and not name.startswith("_") and inspect.ismethod(method):
                result = method(**arguments)
    return result


def _upstream_state(instances: dict[str, Any]) -> Any:
    captured = [
        {name: {attr: getattr(instance, attr) for attr in SAVED_ATTRIBUTES[name]}}
        for name, instance in instances.items()
    ]
    return json.loads(json.dumps(captured, ensure_ascii=False, default=str))


def check_acebench(
    acebench_dir: Path | None, data_dir: Path | None, seed: int, sequences: int, steps: int
) -> Section:
    """Random sequences of mutated milestone calls on the official API classes and ours."""
    section = Section("acebench")
    try:
        repo = acebench_repo(acebench_dir)
        tasks = {lang: load_tasks("multi_turn", lang, data_dir=data_dir) for lang in ("en", "zh")}
        seeds = {lang: load_initial_state(lang, data_dir=data_dir) for lang in ("en", "zh")}
    except DataNotFoundError as exc:
        section.skipped = str(exc)
        return section
    rng = random.Random(seed)
    with _on_path(repo):
        for sequence in range(sequences):
            lang = rng.choice(["en", "zh"])
            task = rng.choice(tasks[lang])
            calls = [
                call
                for milestones in milestone_lists(task.mile_stone)
                for text in milestones
                for call in parse_call_list(text) or []
            ]
            pool: dict[str, list[Any]] = {}
            for _, kwargs in calls:
                for key, value in kwargs.items():
                    pool.setdefault(key, []).append(value)
            theirs = _upstream_instances(lang, task.involved_classes, task.initial_config)
            ours = ApiSession(task.involved_classes, task.initial_config, seeds[lang], lang)
            signatures = {
                name: list(inspect.signature(getattr(API_CLASSES[c], name)).parameters)[1:]
                for c in task.involved_classes
                for name in ours.method_names
                if hasattr(API_CLASSES[c], name)
            }
            for step in range(steps):
                if rng.random() < 0.5:  # a milestone call
                    name, kwargs = rng.choice(calls)
                else:  # any API, arguments drawn for its parameters
                    name = rng.choice(sorted(signatures))
                    kwargs = {
                        p: rng.choice(pool.get(p) or list(ODD_VALUES)) for p in signatures[name]
                    }
                if name not in ours.method_names:
                    continue  # unknown names are the executor's business (documented)
                arguments = mutate(rng, kwargs, pool)
                where = f"{task.id} {lang} seq {sequence} step {step} {name}({arguments})"
                section.compare(
                    where,
                    outcome(ours.call, name, copy.deepcopy(arguments)),
                    outcome(_upstream_call, theirs, name, copy.deepcopy(arguments)),
                )
                section.compare(f"{where} state", ours.capture(), _upstream_state(theirs))
    return section


# --- command line ----------------------------------------------------------------------------


def run_all(args: argparse.Namespace) -> list[Section]:
    """Every section with the options of ``args``."""
    return [
        check_tau_bench_gold(args.tau_bench_dir, args.tau_trait_dir, args.gold_limit),
        check_tau_bench_tools(
            args.tau_bench_dir, args.tau_trait_dir, args.seed, args.sequences, args.steps
        ),
        check_calculate(args.tau_bench_dir, args.seed, args.sequences * args.steps),
        check_acebench(
            args.acebench_dir, args.acebench_data_dir, args.seed, args.sequences, args.steps
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the sections; print a line each and the first mismatches; 1 if any mismatched."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tau-bench-dir", type=Path, help="tau-bench checkout")
    parser.add_argument("--acebench-dir", type=Path, help="ACEBench checkout")
    parser.add_argument("--tau-trait-dir", type=Path, help="tau-trait data folder")
    parser.add_argument("--acebench-data-dir", type=Path, help="ACEBench data folder")
    parser.add_argument("--gold-limit", type=int, help="tasks per v1 list (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sequences", type=int, default=20, help="random sequences per section")
    parser.add_argument("--steps", type=int, default=15, help="calls per sequence")
    args = parser.parse_args(argv)
    sections = run_all(args)
    for section in sections:
        print(section.summary())
        for mismatch in section.mismatches[:MAX_SHOWN]:
            print(f"  {mismatch}")
    return 1 if any(s.mismatches for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
