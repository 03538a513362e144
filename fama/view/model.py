"""The run viewer's data: one stored run as a JSON-ready view model.

The model holds everything the page shows, already paired and aggregated so the page only
renders: the run header (configuration, prompts), summary numbers, and per episode the
trajectory (each tool call linked to its result and back), the FAMA decisions (keyed by the
index of the agent message they preceded), agent issues, the reward breakdown, usage and the
failure labels. Message indices are the trajectory's record indices, the indices the
labels' evidence steps use.

Outcomes: ``passed`` (scored with reward 1), ``failed`` (scored, reward below 1) and
``error`` (infrastructure or internal error: not scored, excluded from the official
metrics as in ``fama report``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from fama.runs.metrics import is_success, pass_hat_k
from fama.runs.store import FAILED_STATUSES, EpisodeLabelRow, EpisodeRecord, RunInfo

if TYPE_CHECKING:
    from fama.core.trajectory import MessageRecord
    from fama.runs.store import RunStore

VIEW_SCHEMA = 1
Labels = Mapping[tuple[str, int], Sequence[EpisodeLabelRow]]

# Run configuration entries shown in the page header, in this order (label, config key).
HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("Environment", "env"),
    ("Domain", "domain"),
    ("Split", "split"),
    ("Agent", "agent"),
    ("FAMA mode", "mode"),
    ("Agent model", "model"),
    ("User model", "user_model"),
    ("Judge model", "judge_model"),
    ("Tool-call mode", "tool_call_mode"),
    ("Trials", "trials"),
    ("Max steps", "max_steps"),
    ("Max errors", "max_errors"),
    ("Temperature", "temperature"),
)
# Episode ``extra`` entries the page shows in their own sections.
_SHOWN_EXTRA = frozenset({"fama_decisions", "agent_issues"})


def outcome(episode: EpisodeRecord) -> str:
    """``passed``, ``failed`` or ``error`` (see the module docstring)."""
    if episode.status in FAILED_STATUSES:
        return "error"
    return "passed" if is_success(episode.reward) else "failed"


def message_views(records: Sequence[MessageRecord]) -> list[dict[str, Any]]:
    """The trajectory with each tool call linked to its result message and back.

    Every call (valid or not) gets ``result_index`` and ``result_error``; every tool result
    gets ``call_index``, the message that made its call. Call ids are paired in order (a
    model may reuse an id: a result answers the latest unanswered call with that id).
    """
    views: list[dict[str, Any]] = []
    pending: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for index, record in enumerate(records):
        view: dict[str, Any] = {
            "index": index,
            "role": record["role"],
            "content": record.get("content", ""),
        }
        for key in ("tool_calls", "invalid_tool_calls"):
            calls = [
                {**dict(call), "result_index": None, "result_error": None}
                for call in cast("list[Mapping[str, Any]]", record.get(key, []))
            ]
            for call in calls:
                pending[str(call.get("id", ""))].append((index, call))
            if calls:
                view[key] = calls
        if record["role"] == "tool":
            error = bool(record.get("error", False))
            call_id = record.get("tool_call_id", "")
            view.update(
                tool_call_id=call_id,
                name=record.get("name", ""),
                requestor=record.get("requestor", "assistant"),
                error=error,
                call_index=None,
            )
            waiting = pending.get(call_id)
            if waiting:
                owner, call = waiting.pop()
                call.update(result_index=index, result_error=error)
                view["call_index"] = owner
        elif "requestor" in record:
            view["requestor"] = record["requestor"]
        views.append(view)
    return views


def _usage(episode: EpisodeRecord) -> dict[str, Any]:
    """Tokens and latency per LLM-calling node, and wall time per graph node."""
    by_node: dict[str, dict[str, Any]] = {}
    for call in episode.llm_calls:
        row = by_node.setdefault(
            call["node"],
            {"calls": 0, "input_tokens": 0, "output_tokens": 0, "latency_ms": 0.0, "models": []},
        )
        row["calls"] += 1
        row["input_tokens"] += call["input_tokens"]
        row["output_tokens"] += call["output_tokens"]
        row["latency_ms"] += call["latency_ms"]
        if call["model"] not in row["models"]:
            row["models"].append(call["model"])
    timings: dict[str, dict[str, Any]] = {}
    for timing in episode.node_timings:
        row = timings.setdefault(timing["node"], {"count": 0, "total_ms": 0.0})
        row["count"] += 1
        row["total_ms"] += timing["latency_ms"]
    return {
        "input_tokens": sum(r["input_tokens"] for r in by_node.values()),
        "output_tokens": sum(r["output_tokens"] for r in by_node.values()),
        "llm_calls": len(episode.llm_calls),
        "llm_latency_ms": sum(r["latency_ms"] for r in by_node.values()),
        "by_node": by_node,
        "node_timings": timings,
    }


def label_view(label: EpisodeLabelRow) -> dict[str, Any]:
    """One failure label."""
    return {
        "category": label.category,
        "primary": label.primary,
        "rationale": label.rationale,
        "evidence_steps": list(label.evidence_steps),
        "source": label.source,
    }


def episode_view(
    index: int, episode: EpisodeRecord, labels: Sequence[EpisodeLabelRow]
) -> dict[str, Any]:
    """Everything the page shows about one episode."""
    ordered = sorted(labels, key=lambda lab: not lab.primary)  # primary first, stable
    extra = episode.extra
    return {
        "index": index,
        "task_id": episode.task_id,
        "trial": episode.trial,
        "domain": episode.domain,
        "split": episode.split,
        "status": episode.status,
        "outcome": outcome(episode),
        "termination": episode.termination,
        "reward": episode.reward,
        "reward_info": episode.reward_info,
        "steps": episode.steps,
        "tool_errors": episode.tool_errors,
        "error_detail": episode.error_detail,
        "started_at": episode.started_at,
        "duration_s": episode.duration_s,
        "agent_kind": episode.agent_kind,
        "categories": list(dict.fromkeys(lab.category for lab in ordered)),
        "labels": [label_view(lab) for lab in ordered],
        "messages": message_views(episode.records),
        "fama_decisions": list(extra.get("fama_decisions", [])),
        "agent_issues": list(extra.get("agent_issues", [])),
        "extra": {k: v for k, v in extra.items() if k not in _SHOWN_EXTRA},
        "usage": _usage(episode),
    }


def episode_row(
    index: int, episode: EpisodeRecord, labels: Sequence[EpisodeLabelRow]
) -> dict[str, Any]:
    """The episode's line in the page's list (and what the run summary counts)."""
    return {
        "index": index,
        "task_id": episode.task_id,
        "trial": episode.trial,
        "domain": episode.domain,
        "status": episode.status,
        "outcome": outcome(episode),
        "termination": episode.termination,
        "reward": episode.reward,
        "categories": list(
            dict.fromkeys(lab.category for lab in sorted(labels, key=lambda lab: not lab.primary))
        ),
        "input_tokens": sum(c["input_tokens"] for c in episode.llm_calls),
        "output_tokens": sum(c["output_tokens"] for c in episode.llm_calls),
        "fama_decisions": len(episode.extra.get("fama_decisions", [])),
    }


def summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts, official metrics (errors excluded), tokens, domains and categories of
    ``episode_row`` rows."""
    outcomes = Counter(e["outcome"] for e in rows)
    scored = [e for e in rows if e["outcome"] != "error"]
    by_task: dict[str, list[bool]] = defaultdict(list)
    for e in scored:
        by_task[f"{e['domain']}\x00{e['task_id']}"].append(e["outcome"] == "passed")
    rewards = [float(e["reward"]) for e in scored if e["reward"] is not None]
    categories: Counter[str] = Counter(c for e in rows for c in e["categories"])
    return {
        "episodes": len(rows),
        "tasks": len({(e["domain"], e["task_id"]) for e in rows}),
        "passed": outcomes["passed"],
        "failed": outcomes["failed"],
        "errors": outcomes["error"],
        "labelled": sum(1 for e in rows if e["categories"]),
        "avg_reward": sum(rewards) / len(rewards) if rewards else None,
        "pass_hat_k": {str(k): v for k, v in sorted(pass_hat_k(dict(by_task)).items())},
        "input_tokens": sum(e["input_tokens"] for e in rows),
        "output_tokens": sum(e["output_tokens"] for e in rows),
        "fama_decisions": sum(e["fama_decisions"] for e in rows),
        "domains": dict(sorted(Counter(e["domain"] for e in rows).items())),
        "categories": dict(sorted(categories.items())),
        "terminations": dict(
            sorted(Counter(e["termination"] or e["status"] for e in rows).items())
        ),
    }


def run_header(info: RunInfo) -> dict[str, Any]:
    """The run's identity, chosen configuration entries, FAMA helpers and prompts."""
    config = info.config
    fields = [[label, config[key]] for label, key in HEADER_FIELDS if config.get(key) is not None]
    fama = config.get("fama_config")
    if isinstance(fama, Mapping) and fama.get("helpers"):
        fields.append(["FAMA helpers", ", ".join(str(h) for h in fama["helpers"])])
    if config.get("fairness_warning"):
        fields.append(["NOT HELD-OUT", f"--allow-overlap: {config['fairness_warning']}"])
    return {
        "run_id": info.run_id,
        "status": info.status,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "fields": fields,
        "command": config.get("command"),
        "prompts": list(info.prompt_refs),
        "config": config,
    }


def select(
    rows: Sequence[dict[str, Any]], *, failed_only: bool = False, limit: int | None = None
) -> list[dict[str, Any]]:
    """The rows the page lists: not passed only (errors included), at most ``limit``,
    renumbered from 0 (the page's episode index)."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit}")
    chosen = [r for r in rows if not failed_only or r["outcome"] != "passed"][:limit]
    return [{**row, "index": i} for i, row in enumerate(chosen)]


def view_model(
    info: RunInfo,
    rows: Sequence[dict[str, Any]],
    *,
    failed_only: bool = False,
    limit: int | None = None,
) -> dict[str, Any]:
    """The page's model: run header, summary of every row, and the rows the page lists.

    The episodes' details are not in it: the page loads them on demand (``fama.view.site``).
    """
    listed = select(rows, failed_only=failed_only, limit=limit)
    return {
        "schema": VIEW_SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": run_header(info),
        "summary": summary(rows),
        "selection": {"failed_only": failed_only, "limit": limit, "listed": len(listed)},
        "episodes": listed,
    }


def light_rows(store: RunStore, run_id: str, labels: Labels) -> list[dict[str, Any]]:
    """Every episode's row, read without messages."""
    episodes = (ep for batch in store.episode_batches(run_id, messages=False) for ep in batch)
    return [episode_row(i, ep, labels.get(ep.key, ())) for i, ep in enumerate(episodes)]


def build_view(
    store: RunStore,
    run_id: str,
    *,
    labels: Labels | None = None,
    failed_only: bool = False,
    limit: int | None = None,
) -> dict[str, Any]:
    """The page's model of a stored run (``view_model``), read without messages; ``labels``
    default to the store's. An unknown run raises the store's ``RunNotFoundError``."""
    info = store.load_run(run_id)
    rows = light_rows(store, run_id, store.episode_labels(run_id) if labels is None else labels)
    return view_model(info, rows, failed_only=failed_only, limit=limit)


def episode_details(
    store: RunStore,
    run_id: str,
    rows: list[dict[str, Any]],
    labels: Labels,
    *,
    failed_only: bool = False,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The detail of each episode the page lists (``select``), in order, while ``rows`` is
    filled with every episode's row; ``rows`` is complete once the iterator is exhausted.

    Without ``limit`` one pass reads every episode with its messages; with a limit, rows
    are read without messages first and only the listed episodes' messages are read.
    """
    if limit is None:
        listed = 0
        for batch in store.episode_batches(run_id, batch=100):
            for ep in batch:
                rows.append(episode_row(len(rows), ep, labels.get(ep.key, ())))
                if not failed_only or rows[-1]["outcome"] != "passed":
                    yield episode_view(listed, ep, labels.get(ep.key, ()))
                    listed += 1
        return
    rows.extend(light_rows(store, run_id, labels))
    index = {
        (r["task_id"], r["trial"]): r["index"]
        for r in select(rows, failed_only=failed_only, limit=limit)
    }
    for batch in store.episode_batches(run_id, only=index.keys(), batch=100):
        for ep in batch:
            yield episode_view(index[ep.key], ep, labels.get(ep.key, ()))
