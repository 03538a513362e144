"""Imported conversations as a run of the run store (through ``RunStore``'s public API).

Each conversation becomes one finished episode (trial 0) whose reward is its label (1.0
success, 0.0 failure, component ``OUTCOME``, the reason in the details), so ``fama
analyze``, ``report``, ``view`` and ``compare`` read it like a benchmark episode. The run
configuration records the source file (path, format, sha256), the policy the analysts get
and the tool schemas; the token usage logged with agent messages becomes ``agent`` LLM calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

from fama.core.state import LLMCall
from fama.core.trajectory import to_records
from fama.runs.imported import Format
from fama.runs.imported.formats import Conversation
from fama.runs.store import EpisodeRecord, RunStore, utc_now

AGENT_KIND = "imported"


@dataclass(frozen=True)
class ImportSource:
    """Where the conversations came from."""

    path: str
    sha256: str
    format: Format


def common_policy(conversations: Sequence[Conversation]) -> tuple[str | None, int]:
    """The most common policy of the conversations and how many distinct ones they carry."""
    counts = Counter(c.policy for c in conversations if c.policy)
    if not counts:
        return None, 0
    return counts.most_common(1)[0][0], len(counts)


def _usage(conversation: Conversation) -> list[LLMCall]:
    calls: list[LLMCall] = []
    for message in conversation.messages:
        usage = message.usage_metadata if isinstance(message, AIMessage) else None
        if usage:
            calls.append(
                {
                    "node": "agent",
                    "model": conversation.model or "unknown",
                    "input_tokens": int(usage.get("input_tokens", 0)),
                    "output_tokens": int(usage.get("output_tokens", 0)),
                    "latency_ms": 0.0,
                }
            )
    return calls


def episode_record(run_id: str, conversation: Conversation, policy: str | None) -> EpisodeRecord:
    """The run-store episode of one conversation."""
    reward = 1.0 if conversation.success else 0.0
    label = "success" if conversation.success else "failure"
    extra: dict[str, Any] = {"source": conversation.source, **conversation.extra}
    if conversation.policy and conversation.policy != policy:
        extra["policy"] = conversation.policy
    return EpisodeRecord(
        run_id=run_id,
        task_id=conversation.id,
        trial=0,
        domain=conversation.domain,
        split=conversation.split,
        status="done",
        termination=None,
        reward=reward,
        reward_info={
            "reward": reward,
            "components": {"OUTCOME": reward},
            "reward_basis": ["OUTCOME"],
            "details": {"label": label, "reason": conversation.reason},
        },
        records=to_records(conversation.messages),
        llm_calls=_usage(conversation),
        steps=len(conversation.messages),
        tool_errors=sum(
            isinstance(m, ToolMessage) and m.status == "error" for m in conversation.messages
        ),
        started_at=utc_now(),
        agent_kind=AGENT_KIND,
        extra=extra,
    )


def run_config(
    conversations: Sequence[Conversation],
    source: ImportSource,
    *,
    policy: str | None,
    model: str | None,
    errors: Sequence[str],
) -> dict[str, Any]:
    """The stored configuration of an imported run."""
    domains = sorted({c.domain for c in conversations})
    models = sorted({c.model for c in conversations if c.model})
    tools: dict[str, dict[str, Any]] = {}
    for conversation in conversations:
        for schema in conversation.tools or []:
            function = schema.get("function", schema)
            tools.setdefault(str(function.get("name", len(tools))), schema)
    return {
        "env": f"import:{domains[0]}" if len(domains) == 1 else "import",
        "domain": domains[0] if len(domains) == 1 else "imported",
        "domains": domains,
        "agent": AGENT_KIND,
        "model": model or (models[0] if len(models) == 1 else "unknown"),
        "split": None,
        "task_ids": [c.id for c in conversations],
        "trials": 1,
        "policy": policy,
        "tools": list(tools.values()),
        "source": {"path": source.path, "format": source.format, "sha256": source.sha256},
        "import_errors": list(errors),
    }


def save_imported_run(
    store: RunStore,
    run_id: str,
    conversations: Sequence[Conversation],
    config: dict[str, Any],
    prompt_refs: list[dict[str, str]],
) -> bool:
    """Create (or re-import into, when the configuration is the same) the run and save every
    conversation; returns True when the run existed."""
    existed = store.create_or_resume_run(run_id, config, prompt_refs)
    for conversation in conversations:
        store.save_episode(run_id, episode_record(run_id, conversation, config.get("policy")))
    store.set_run_status(run_id, "finished")
    return existed
