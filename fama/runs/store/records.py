"""What the run store holds, as plain records, and how they map to table rows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:  # type-only: keeps ``fama <command> --help`` free of LangChain imports
    from fama.core.state import LLMCall, NodeTiming
    from fama.core.trajectory import InvalidToolCallRecord, MessageRecord, ToolCallRecord

EpisodeStatus = Literal["done", "infrastructure_error", "error"]
RunStatus = Literal["running", "finished", "interrupted", "failed"]
FAILED_STATUSES: frozenset[str] = frozenset({"infrastructure_error", "error"})

# Options that may change between the first run and a resume without changing results.
RESUME_IGNORED_KEYS: frozenset[str] = frozenset(
    {"concurrency", "progress", "retry_errors", "command"}
    | {"request_timeout_s", "retries", "circuit_breaker"}  # how patiently, not what
    # where the models are served, not which: a local: server gets a new port every start
    | {"base_url", "user_base_url", "judge_base_url", "helper_base_url"}
)

EPISODE_COLUMNS = (
    "task_id, trial, domain, split, status, termination, reward, reward_info, steps, "
    "tool_errors, error_detail, started_at, duration_s, agent_kind, extra"
)


class StoreError(RuntimeError):
    """The store file is unusable, or a run is missing or inconsistent."""


class RunNotFoundError(StoreError, KeyError):
    """No run with this id in the store."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "run not found"


class RunConfigMismatchError(StoreError):
    """Resuming a run with a configuration different from the stored one."""


@dataclass
class EpisodeOutcome:
    """What an executor returns for one finished episode (identity and timing added later)."""

    status: EpisodeStatus
    termination: str | None
    reward: float | None
    reward_info: dict[str, Any] = field(default_factory=dict)
    records: list[MessageRecord] = field(default_factory=list)
    llm_calls: list[LLMCall] = field(default_factory=list)
    node_timings: list[NodeTiming] = field(default_factory=list)
    steps: int = 0
    tool_errors: int = 0
    error_detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class EpisodeRecord(EpisodeOutcome):
    """Everything stored about one episode (one trial of one task): its outcome, which
    episode of which run it is, and when it ran."""

    run_id: str
    task_id: str
    trial: int
    domain: str
    split: str | None
    started_at: str = ""
    duration_s: float = 0.0
    agent_kind: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """The (task id, trial) pair identifying the episode inside its run."""
        return (self.task_id, self.trial)

    def to_json(self) -> dict[str, Any]:
        """Every field as plain JSON data; the trajectory is under ``messages``."""
        data = asdict(self)
        data["messages"] = data.pop("records")
        return data


@dataclass(frozen=True)
class EpisodeLabelRow:
    """One failure category attributed to an episode.

    ``primary``: the error that made the episode fail (``False``: recovered from, or only
    flagged by an analyst). ``evidence_steps`` index the episode's trajectory records.
    """

    task_id: str
    trial: int
    category: str
    primary: bool
    rationale: str = ""
    evidence_steps: tuple[int, ...] = ()
    source: str = "analyze"


@dataclass(frozen=True)
class RunInfo:
    """The stored header of a run."""

    run_id: str
    config: dict[str, Any]
    prompt_refs: list[dict[str, str]]
    status: RunStatus
    created_at: str
    updated_at: str


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (seconds precision)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def config_differences(
    stored: Mapping[str, Any], new: Mapping[str, Any], ignored: Iterable[str] = RESUME_IGNORED_KEYS
) -> list[str]:
    """Human-readable differences between two run configurations, ignoring ``ignored`` keys."""
    skip = set(ignored)
    diffs = []
    for key in sorted((stored.keys() | new.keys()) - skip):
        old_value, new_value = stored.get(key, "<absent>"), new.get(key, "<absent>")
        # Compare the JSON forms so a tuple equals the list it was stored as.
        if json.loads(dumps(old_value)) != json.loads(dumps(new_value)):
            diffs.append(f"{key}: stored {old_value!r}, now {new_value!r}")
    return diffs


def message_row(episode_id: int | None, idx: int, m: MessageRecord) -> tuple[Any, ...]:
    calls = m.get("tool_calls")
    invalid = m.get("invalid_tool_calls")
    error = m.get("error")
    return (
        episode_id,
        idx,
        m["role"],
        m["content"],
        None if calls is None else dumps(calls),
        m.get("tool_call_id"),
        m.get("name"),
        m.get("requestor"),
        None if error is None else int(error),
        None if invalid is None else dumps(invalid),
    )


def message_record(row: tuple[Any, ...]) -> MessageRecord:
    role, content, calls, call_id, name, requestor, error, invalid = row
    record: MessageRecord = {"role": role, "content": content}
    if calls is not None:
        record["tool_calls"] = cast("list[ToolCallRecord]", json.loads(calls))
    if invalid is not None:
        record["invalid_tool_calls"] = cast("list[InvalidToolCallRecord]", json.loads(invalid))
    if call_id is not None:
        record["tool_call_id"] = call_id
    if name is not None:
        record["name"] = name
    if requestor is not None:
        record["requestor"] = requestor
    if error is not None:
        record["error"] = bool(error)
    return record


LLM_CALL_COLUMNS = (
    "node, model, input_tokens, output_tokens, latency_ms, finish_reason, usage_missing"
)


def llm_call_row(episode_id: int | None, idx: int, c: LLMCall) -> tuple[Any, ...]:
    return (
        episode_id,
        idx,
        c["node"],
        c["model"],
        c["input_tokens"],
        c["output_tokens"],
        c["latency_ms"],
        c.get("finish_reason"),
        1 if c.get("usage_missing") else None,
    )


def llm_call_record(row: tuple[Any, ...]) -> LLMCall:
    node, model, inp, out, latency, finish_reason, usage_missing = row
    record: LLMCall = {
        "node": node,
        "model": model,
        "input_tokens": inp,
        "output_tokens": out,
        "latency_ms": latency,
    }
    if finish_reason is not None:
        record["finish_reason"] = finish_reason
    if usage_missing:
        record["usage_missing"] = True
    return record


def node_timing_record(row: tuple[Any, ...]) -> NodeTiming:
    return {"node": row[0], "latency_ms": row[1]}
