"""Paired comparison of runs on the same (task, trial) episodes, with intervals and tests.

Pairing: an episode key is (domain, task id, trial); only keys stored in EVERY compared run
are used, and how many episodes each run loses to this is reported. Episodes that ended in
an infrastructure or internal error follow one of the two conventions of ``fama report``
(see ``fama.runs.report``):

* ``official`` (default): a key where any run has such an error is dropped for all runs
  (counted in ``dropped_for_errors``), like upstream tau2 excludes infrastructure errors;
* ``strict``: those episodes stay and count as failures with reward 0.

Rates (success rate = pass^1, mean reward, pass^k) are means over tasks of per-task values,
which equal the per-episode means when every task has the same number of trials. Differences
to the baseline come with a percentile bootstrap interval over tasks and an exact sign test on
discordant episodes (``fama.runs.stats``).

Token roles: ``user`` (user simulator), ``judge`` (NL-assertion judge), ``helpers`` (FAMA's
``helper:<name>`` nodes plus its ``orchestrator`` and ``mitigation`` nodes) and ``agent``
(everything else: the tool-use model calls).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from fama.runs.metrics import is_success, pass_hat_k
from fama.runs.reply_stats import reply_counts, usage_note
from fama.runs.report import token_role
from fama.runs.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    SignTest,
    Summary,
    bootstrap_means,
    paired_sign_test,
    summarize,
    task_pass_hat_k,
)
from fama.runs.store import FAILED_STATUSES, EpisodeLabelRow, EpisodeRecord, RunStore

Convention = Literal["official", "strict"]
EpisodeKey = tuple[str, str, int]  # (domain, task id, trial)
TaskKey = tuple[str, str]  # (domain, task id)

ROLES = ("agent", "helpers", "user", "judge")
NON_DECISION_NODES = frozenset({"user", "user_tools", "tools"})
SEQUENTIAL_HELPER_NODES = frozenset({"helper:decision_verifier"})


class CompareError(ValueError):
    """The runs cannot be compared (fewer than two, or nothing in common)."""


# ------------------------------------------------------------------------------ data model


@dataclass(frozen=True)
class RunMeta:
    """What a run is: its id, agent and mode, models, environment and stored size."""

    run_id: str
    label: str
    model: str
    env: str
    split: str | None
    status: str
    stored_episodes: int
    split_flag: str | None = None  # its FAMA configuration was made from evaluated tasks


@dataclass(frozen=True)
class RunMetrics:
    """One run's scores on the paired episodes of a section."""

    tasks: int
    episodes: int
    successes: int
    success_rate: Interval  # pass^1 with the run's own bootstrap interval over tasks
    mean_reward: float
    pass_hat_k: dict[int, float]
    components: dict[str, float]
    errors_as_failures: int  # strict convention only: error episodes counted as failures


@dataclass(frozen=True)
class PairedDelta:
    """Run minus baseline on the same episodes."""

    success_rate: Interval
    mean_reward: Interval
    pass_hat_k: dict[int, Interval]
    sign_test: SignTest


@dataclass(frozen=True)
class Row:
    """One run in a section; ``delta`` is None for the baseline."""

    run_id: str
    metrics: RunMetrics
    delta: PairedDelta | None


@dataclass(frozen=True)
class Section:
    """Every run on one set of paired episodes (all of them, or one domain's)."""

    name: str
    tasks: int
    episodes: int
    rows: list[Row]


@dataclass(frozen=True)
class TokenUsage:
    """Mean tokens (input + output) per episode by role, and % over the baseline."""

    per_episode: dict[str, float]  # ROLES plus "agent+helpers" and "total"
    overhead_pct: dict[str, float | None]  # None: baseline itself, or baseline value 0


@dataclass(frozen=True)
class Latency:
    """Episode wall time (s), agent model node (ms) and whole decisions (ms)."""

    episode_s: Summary | None
    agent_ms: Summary | None
    decision_ms: Summary | None


@dataclass(frozen=True)
class HelperActivity:
    """How often each FAMA helper was active: decisions and episodes it was active in."""

    sources: list[str]  # fama_decisions | diagnosis | active_helpers (last decision only)
    decisions: int
    activations: dict[str, int]
    episodes: dict[str, int]


@dataclass(frozen=True)
class FailureCounts:
    """Primary failure categories over the run's failed paired episodes."""

    failures: int
    labelled_failures: int
    counts: dict[str, int]


@dataclass(frozen=True)
class CategoryChange:
    """One category's count in every run; which runs have fewer (more) than the baseline."""

    category: str
    counts: dict[str, int]
    went_down_in: list[str]
    went_up_in: list[str]


@dataclass(frozen=True)
class Dropped:
    """Episodes of a run left out of the comparison."""

    not_in_every_run: int
    for_errors: int  # official convention: keys where some run had an infra/internal error


@dataclass(frozen=True)
class Comparison:
    """Everything ``fama compare`` reports; ``to_json()`` gives plain JSON data."""

    baseline: str
    runs: list[RunMeta]
    convention: Convention
    resamples: int
    confidence: float
    seed: int
    tasks: int
    episodes: int
    trials_per_task: tuple[int, int]
    dropped: dict[str, Dropped]
    overall: Section
    domains: list[Section]
    tokens: dict[str, TokenUsage]
    latency: dict[str, Latency]
    helpers: dict[str, HelperActivity]
    failures: dict[str, FailureCounts | None]  # None: no labels on the paired episodes
    categories: list[CategoryChange]
    notes: list[str] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        """Run ids, baseline first."""
        return [r.run_id for r in self.runs]

    def meta(self, run_id: str) -> RunMeta:
        """The description of one compared run."""
        return next(r for r in self.runs if r.run_id == run_id)

    def to_json(self) -> dict[str, Any]:
        """The comparison as JSON-ready data (pass^k keys become strings)."""
        return json.loads(json.dumps(asdict(self)))


# -------------------------------------------------------------------------------- building


def _is_error(episode: EpisodeRecord) -> bool:
    return episode.status in FAILED_STATUSES or episode.reward is None


def _reward(episode: EpisodeRecord) -> float:
    return 0.0 if _is_error(episode) or episode.reward is None else episode.reward


def _success(episode: EpisodeRecord) -> bool:
    return not _is_error(episode) and is_success(episode.reward)


def _run_label(config: Mapping[str, Any]) -> str:
    agent = str(config.get("agent") or "?")
    mode = config.get("mode")
    return f"{agent}/{mode}" if mode and agent == "fama" else agent


def _pair(
    by_run: Mapping[str, Mapping[EpisodeKey, EpisodeRecord]], convention: Convention
) -> tuple[list[EpisodeKey], dict[str, Dropped]]:
    """The keys stored in every run (minus error keys when official) and what was dropped."""
    common = set.intersection(*(set(eps) for eps in by_run.values()))
    errors = {k for k in common if any(_is_error(eps[k]) for eps in by_run.values())}
    kept = common - errors if convention == "official" else common
    dropped = {
        run_id: Dropped(
            not_in_every_run=len(set(eps) - common),
            for_errors=len(errors) if convention == "official" else 0,
        )
        for run_id, eps in by_run.items()
    }
    return sorted(kept), dropped


def _by_task(keys: Iterable[EpisodeKey]) -> dict[TaskKey, list[EpisodeKey]]:
    grouped: dict[TaskKey, list[EpisodeKey]] = defaultdict(list)
    for key in keys:
        grouped[(key[0], key[1])].append(key)
    return dict(sorted(grouped.items()))


def _components(episodes: Iterable[EpisodeRecord]) -> dict[str, float]:
    values: dict[str, list[float]] = defaultdict(list)
    for episode in episodes:
        if episode.status != "done":
            continue
        for name, value in (episode.reward_info.get("components") or {}).items():
            if isinstance(value, int | float):
                values[name].append(float(value))
    return {name: sum(v) / len(v) for name, v in sorted(values.items())}


def _section(
    name: str,
    keys: Sequence[EpisodeKey],
    by_run: Mapping[str, Mapping[EpisodeKey, EpisodeRecord]],
    baseline: str,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> Section:
    """Metrics and paired deltas of every run on ``keys``."""
    tasks = _by_task(keys)
    k_max = min(len(trials) for trials in tasks.values())
    outcomes = {
        run_id: [[_success(eps[k]) for k in trials] for trials in tasks.values()]
        for run_id, eps in by_run.items()
    }
    rewards = {
        run_id: [sum(_reward(eps[k]) for k in trials) / len(trials) for trials in tasks.values()]
        for run_id, eps in by_run.items()
    }
    columns: dict[str, list[float]] = {}
    for run_id in by_run:
        columns[f"{run_id}\0success"] = [sum(o) / len(o) for o in outcomes[run_id]]
        if run_id == baseline:
            continue
        base_success = columns[f"{baseline}\0success"]
        columns[f"{run_id}\0d_success"] = [
            r - b for r, b in zip(columns[f"{run_id}\0success"], base_success, strict=True)
        ]
        columns[f"{run_id}\0d_reward"] = [
            r - b for r, b in zip(rewards[run_id], rewards[baseline], strict=True)
        ]
        for k in range(2, k_max + 1):
            columns[f"{run_id}\0d_pass{k}"] = [
                task_pass_hat_k(r, k) - task_pass_hat_k(b, k)
                for r, b in zip(outcomes[run_id], outcomes[baseline], strict=True)
            ]
    intervals = bootstrap_means(columns, resamples=resamples, confidence=confidence, seed=seed)
    rows = []
    for run_id, eps in by_run.items():
        episodes = [eps[k] for k in keys]
        successes = {f"{d}/{t}": o for (d, t), o in zip(tasks, outcomes[run_id], strict=True)}
        metrics = RunMetrics(
            tasks=len(tasks),
            episodes=len(keys),
            successes=sum(_success(e) for e in episodes),
            success_rate=intervals[f"{run_id}\0success"],
            mean_reward=sum(rewards[run_id]) / len(tasks),
            pass_hat_k=pass_hat_k(successes),
            components=_components(episodes),
            errors_as_failures=sum(_is_error(e) for e in episodes),
        )
        delta = None
        if run_id != baseline:
            d_success = intervals[f"{run_id}\0d_success"]
            delta = PairedDelta(
                success_rate=d_success,
                mean_reward=intervals[f"{run_id}\0d_reward"],
                pass_hat_k={
                    k: d_success if k == 1 else intervals[f"{run_id}\0d_pass{k}"]
                    for k in range(1, k_max + 1)
                },
                sign_test=paired_sign_test(
                    [_success(by_run[baseline][k]) for k in keys],
                    [_success(eps[k]) for k in keys],
                ),
            )
        rows.append(Row(run_id=run_id, metrics=metrics, delta=delta))
    return Section(name=name, tasks=len(tasks), episodes=len(keys), rows=rows)


def _role_tokens(episode: EpisodeRecord) -> dict[str, int]:
    tokens = dict.fromkeys(ROLES, 0)
    for call in episode.llm_calls:
        tokens[token_role(call["node"])] += call["input_tokens"] + call["output_tokens"]
    return tokens


def _tokens(episodes: Sequence[EpisodeRecord]) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for episode in episodes:
        totals.update(_role_tokens(episode))
    per = {role: totals[role] / len(episodes) for role in ROLES}
    per["agent+helpers"] = per["agent"] + per["helpers"]
    per["total"] = sum(per[role] for role in ROLES)
    return per


def _overhead(run: Mapping[str, float], base: Mapping[str, float]) -> dict[str, float | None]:
    return {
        role: (value - base[role]) / base[role] * 100 if base[role] else None
        for role, value in run.items()
    }


def decision_latencies(timings: Sequence[Mapping[str, Any]]) -> list[float]:
    """Wall time of each agent decision (ms) from an episode's node timings.

    A decision is a run of consecutive agent-side timings (everything but user and tool
    nodes): the tool-use ``agent`` node and, for FAMA, orchestrator, mitigation, helpers and
    verifier. Guidance helpers run in parallel, so a decision counts their longest one.
    """
    result: list[float] = []
    sequential, parallel, open_ = 0.0, 0.0, False
    for timing in timings:
        node, ms = timing["node"], float(timing["latency_ms"])
        if node in NON_DECISION_NODES:
            if open_:
                result.append(sequential + parallel)
            sequential, parallel, open_ = 0.0, 0.0, False
        elif node.startswith("helper:") and node not in SEQUENTIAL_HELPER_NODES:
            parallel, open_ = max(parallel, ms), True
        else:
            sequential, open_ = sequential + ms, True
    if open_:
        result.append(sequential + parallel)
    return result


def _latency(episodes: Sequence[EpisodeRecord]) -> Latency:
    return Latency(
        episode_s=summarize([e.duration_s for e in episodes]),
        agent_ms=summarize(
            [t["latency_ms"] for e in episodes for t in e.node_timings if t["node"] == "agent"]
        ),
        decision_ms=summarize([ms for e in episodes for ms in decision_latencies(e.node_timings)]),
    )


def _helpers(episodes: Sequence[EpisodeRecord]) -> HelperActivity:
    """Helper activations, from the richest record each episode has."""
    sources: set[str] = set()
    decisions = 0
    activations: Counter[str] = Counter()
    episodes_with: Counter[str] = Counter()
    for episode in episodes:
        extra = episode.extra
        records = extra.get("fama_decisions")
        runs = (extra.get("diagnosis") or {}).get("helper_runs")
        mine: Counter[str] = Counter()
        if isinstance(records, list) and records:
            sources.add("fama_decisions")
            decisions += len(records)
            for record in records:
                mine.update(set(record.get("active_helpers") or []))
        elif isinstance(runs, dict) and runs:
            sources.add("diagnosis")
            decisions += int((extra.get("diagnosis") or {}).get("decisions", 0))
            mine.update({str(h): int(n) for h, n in runs.items()})
        elif extra.get("active_helpers"):
            sources.add("active_helpers")
            mine.update(set(extra["active_helpers"]))
        activations.update(mine)
        episodes_with.update(h for h, n in mine.items() if n > 0)
    return HelperActivity(
        sources=sorted(sources),
        decisions=decisions,
        activations=dict(sorted(activations.items(), key=lambda kv: (-kv[1], kv[0]))),
        episodes=dict(sorted(episodes_with.items())),
    )


def _failures(
    episodes: Sequence[EpisodeRecord], labels: Mapping[tuple[str, int], list[EpisodeLabelRow]]
) -> FailureCounts | None:
    failed = [e for e in episodes if not _success(e)]
    primary = {
        e.key: [label.category for label in labels.get(e.key, []) if label.primary] for e in failed
    }
    if not any(primary.values()):
        return None
    counts = Counter(c for categories in primary.values() for c in set(categories))
    return FailureCounts(
        failures=len(failed),
        labelled_failures=sum(bool(c) for c in primary.values()),
        counts=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def _category_changes(
    failures: Mapping[str, FailureCounts | None], baseline: str
) -> list[CategoryChange]:
    base = failures[baseline]
    names = {c for f in failures.values() if f is not None for c in f.counts}
    changes = []
    for name in sorted(names, key=lambda c: (-(base.counts.get(c, 0) if base else 0), c)):
        counts = {r: f.counts.get(name, 0) for r, f in failures.items() if f is not None}
        comparable = [r for r in counts if r != baseline and base is not None]
        changes.append(
            CategoryChange(
                category=name,
                counts=counts,
                went_down_in=[r for r in comparable if counts[r] < counts[baseline]],
                went_up_in=[r for r in comparable if counts[r] > counts[baseline]],
            )
        )
    return changes


def _notes(
    comparison_runs: Sequence[RunMeta], failures: Mapping[str, FailureCounts | None]
) -> list[str]:
    notes = []
    for meta in comparison_runs:
        counts = failures[meta.run_id]
        split = f" --split {meta.split}" if meta.split else ""
        if counts is None:
            notes.append(
                f"run {meta.run_id} has no failure labels on these episodes: run "
                f"`fama analyze {meta.run_id}{split}` (with --categories taxonomy.json to "
                "share the baseline's categories)"
            )
        elif counts.labelled_failures < counts.failures:
            notes.append(
                f"run {meta.run_id}: {counts.labelled_failures} of {counts.failures} failed "
                "episodes have a primary failure label; category counts cover only those"
            )
    return notes


def _usage_notes(paired: Mapping[str, Sequence[EpisodeRecord]]) -> list[str]:
    """A note for each run whose paired episodes have calls without server usage."""
    notes = []
    for run_id, episodes in paired.items():
        counts = reply_counts((c for e in episodes for c in e.llm_calls), token_role, ROLES)
        note = usage_note(counts, f"run {run_id}: ")
        if note:
            notes.append(note)
    return notes


def build_comparison(
    store: RunStore,
    run_ids: Sequence[str],
    *,
    baseline: str | None = None,
    convention: Convention = "official",
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Comparison:
    """Compare runs of ``store`` on their common episodes (baseline: the first run).

    A ``baseline`` not among ``run_ids`` is added to them. Raises ``CompareError`` for fewer
    than two distinct runs or no common episodes, and the store's ``RunNotFoundError`` for an
    unknown run.
    """
    ids = list(dict.fromkeys(run_ids))
    baseline = baseline or (ids[0] if ids else "")
    ids = [baseline, *(r for r in ids if r != baseline)]
    if len(ids) < 2:
        raise CompareError("compare needs at least two different runs")
    infos = {r: store.load_run(r) for r in ids}
    by_run = {
        r: {(e.domain, e.task_id, e.trial): e for e in store.episodes(r, messages=False)}
        for r in ids
    }
    keys, dropped = _pair(by_run, convention)
    if not keys:
        common = len(set.intersection(*(set(eps) for eps in by_run.values())))
        raise CompareError(
            "the runs have no common scored episodes (same domain, task and trial): "
            + ", ".join(f"{r} has {len(by_run[r])}" for r in ids)
            + f"; {common} in common"
            + (" before dropping infrastructure errors" if common else "")
        )

    def section(name: str, section_keys: Sequence[EpisodeKey]) -> Section:
        return _section(
            name,
            section_keys,
            by_run,
            baseline,
            resamples=resamples,
            confidence=confidence,
            seed=seed,
        )

    overall = section("all", keys)
    domains = sorted({k[0] for k in keys})
    paired = {r: [by_run[r][k] for k in keys] for r in ids}
    tokens = {r: _tokens(paired[r]) for r in ids}
    failures = {r: _failures(paired[r], store.episode_labels(r)) for r in ids}
    runs = [
        RunMeta(
            run_id=r,
            label=_run_label(infos[r].config),
            model=str(infos[r].config.get("model") or "?"),
            env=str(infos[r].config.get("env") or "?"),
            split=infos[r].config.get("split"),
            status=infos[r].status,
            stored_episodes=len(by_run[r]),
            split_flag=infos[r].config.get("fairness_warning"),
        )
        for r in ids
    ]
    trials = [len(t) for t in _by_task(keys).values()]
    return Comparison(
        baseline=baseline,
        runs=runs,
        convention=convention,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        tasks=overall.tasks,
        episodes=len(keys),
        trials_per_task=(min(trials), max(trials)),
        dropped=dropped,
        overall=overall,
        domains=[section(d, [k for k in keys if k[0] == d]) for d in domains]
        if len(domains) > 1
        else [],
        tokens={
            r: TokenUsage(
                per_episode=tokens[r],
                overhead_pct=dict.fromkeys(tokens[r])
                if r == baseline
                else _overhead(tokens[r], tokens[baseline]),
            )
            for r in ids
        },
        latency={r: _latency(paired[r]) for r in ids},
        helpers={r: _helpers(paired[r]) for r in ids},
        failures=failures,
        categories=_category_changes(failures, baseline),
        notes=[*_notes(runs, failures), *_usage_notes(paired)],
    )
