"""Failure analysis: rendering, tolerant parsing, the analysis graph, proposals, mitigation."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from fama.analysis.context import AnalysisContext
from fama.analysis.episodes import FailedEpisode, episode_key, from_stored
from fama.analysis.jsonparse import parse_json_object
from fama.analysis.llm import ask_json
from fama.analysis.mitigation import (
    aggregate_config,
    choose_helpers,
    helper_params,
    is_minimal_cover,
    normalise_helper_names,
)
from fama.analysis.proposals import merge_proposals, similar, slugify
from fama.analysis.render import render_evaluation, render_transcript
from fama.analysis.schemas import AnalystAnswer, Proposal, ProposerAnswer, Recommendation
from fama.core.categories import SEED_CATEGORIES, SEED_CATEGORY_IDS
from fama.core.trajectory import MessageRecord
from fama.graph.analysis_graph import build_analysis_graph
from fama.helpers.registry import HELPERS, minimal_cover, registry_order
from fama.runs.analysis import AnalysisSettings, analyze_episodes, run_analysis_graph
from tests.fakes import ScriptedChatModel

POLICY = "Before any write action, list the details and obtain explicit user confirmation (yes)."
DB_FAILED = {
    "reward": 0.0,
    "components": {"DB": 0.0, "COMMUNICATE": 1.0},
    "reward_basis": ["DB", "COMMUNICATE"],
    "details": {"db_match": False},
}
COMMUNICATE_FAILED = {
    "reward": 0.0,
    "components": {"DB": 1.0, "COMMUNICATE": 0.0},
    "reward_basis": ["DB", "COMMUNICATE"],
    "details": {"missing_communicate_info": ["54.04"]},
}


def call(name: str, **arguments: Any) -> MessageRecord:
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": f"c-{name}", "name": name, "arguments": arguments}],
    }


def tool(name: str, content: str, *, error: bool = False) -> MessageRecord:
    return {
        "role": "tool",
        "content": content,
        "tool_call_id": f"c-{name}",
        "name": name,
        "requestor": "assistant",
        "error": error,
    }


def say(role: str, text: str) -> MessageRecord:
    return {"role": role, "content": text}  # type: ignore[typeddict-item]


def cancel_without_confirmation() -> FailedEpisode:
    """The agent cancels order #W001 without asking the user to confirm."""
    records = [
        say("assistant", "Hi! How can I help you today?"),
        say("user", "Please cancel order #W001, I ordered it by mistake."),
        call("get_order_details", order_id="#W001"),
        tool("get_order_details", json.dumps({"order_id": "#W001", "status": "pending"})),
        call("cancel_pending_order", order_id="#W001", reason="ordered by mistake"),
        tool("cancel_pending_order", json.dumps({"order_id": "#W001", "status": "cancelled"})),
        say("assistant", "Your order #W001 has been cancelled."),
        say("user", "###STOP###"),
    ]
    return FailedEpisode(
        key="1#0",
        domain="retail",
        task_id="1",
        trial=0,
        records=records,
        reward_info=DB_FAILED,
        policy=POLICY,
        reward=0.0,
        termination="user_stop",
    )


def recovered_then_incomplete() -> FailedEpisode:
    """A failing lookup is corrected (recovered); the refund amount is never told."""
    records = [
        say("assistant", "Hi! How can I help you today?"),
        say("user", "How much refund do I get for order #W002? Then return it."),
        call("get_order_details", order_id="W002"),
        tool("get_order_details", "Error: Order not found", error=True),
        call("get_order_details", order_id="#W002"),
        tool("get_order_details", json.dumps({"order_id": "#W002", "total": 54.04})),
        say("assistant", "I found your order. Anything else?"),
        say("user", "###STOP###"),
    ]
    return FailedEpisode(
        key="2#0",
        domain="retail",
        task_id="2",
        trial=0,
        records=records,
        reward_info=COMMUNICATE_FAILED,
        policy=POLICY,
        reward=0.0,
        termination="user_stop",
    )


def kind_of(prompt: str) -> str:
    for marker, kind in (
        ("## Proposed categories (numbered)", "merger"),
        ("## The discovered failure category", "category_mitigation"),
        ("The error category you judge", "analyst"),
        ("## Existing failure categories", "proposer"),
        ("## Analyst reports", "orchestrator"),
        ("## Available helpers", "mitigation"),
    ):
        if marker in prompt:
            return kind
    raise AssertionError(f"unknown prompt: {prompt[:200]}")


class Router:
    """A scripted analysis model: answers by prompt kind, episode marker and category."""

    def __init__(
        self,
        answers: dict[tuple[str, str], Any],
        markers: dict[str, str],
        default: str | None = None,
    ) -> None:
        self.answers = answers  # (kind or "analyst:<category>", episode) -> JSON-able or callable
        self.markers = markers  # text in the prompt -> episode key
        self.default = default  # episode of prompts without a marker
        self.prompts: list[tuple[str, str, str]] = []  # (kind, episode, prompt)
        self.lock = threading.Lock()

    def episode_of(self, prompt: str) -> str:
        found = {key for marker, key in self.markers.items() if marker in prompt}
        if not found and self.default is not None:
            return self.default
        assert len(found) == 1, f"cannot tell the episode of: {prompt[:300]}"
        return found.pop()

    def __call__(self, messages: list[BaseMessage]) -> str:
        prompt = str(messages[0].content)
        kind = kind_of(prompt)
        # run-wide prompts (merger, category mitigation) belong to no one episode
        episode = "-" if kind in ("merger", "category_mitigation") else self.episode_of(prompt)
        if kind == "analyst":
            match = re.search(r"you judge: .*? \(`(\w+)`\)", prompt)
            assert match
            kind = f"analyst:{match.group(1)}"
        with self.lock:
            self.prompts.append((kind, episode, prompt))
        answer = self.answers.get((kind, episode))
        if answer is None and kind.startswith("analyst:"):
            answer = {"occurred": False, "rationale": "not seen", "evidence_steps": []}
        if answer is None and kind == "proposer":
            answer = {"covered_by_existing": True, "new_category": None, "rationale": "fits"}
        if callable(answer):
            return str(answer(messages))
        assert answer is not None, f"no scripted answer for {(kind, episode)}"
        return answer if isinstance(answer, str) else json.dumps(answer)

    def model(self, calls: int) -> ScriptedChatModel:
        return ScriptedChatModel([self] * calls)

    def prompt(self, kind: str, episode: str) -> str:
        return next(p for k, e, p in self.prompts if k == kind and e == episode)


def helper_for(category: str) -> str:
    """The first registry helper that addresses ``category``."""
    return next(name for name, spec in HELPERS.items() if category in spec.addresses)


def settings(**overrides: Any) -> AnalysisSettings:
    values: dict[str, Any] = {"run_id": "r1", "split": "train", "backbone": "openai:small"}
    values.update(overrides)
    return AnalysisSettings(**values)


# ---------------------------------------------------------------- rendering and parsing


def test_transcript_is_indexed_and_truncates_long_tool_output() -> None:
    records = [*cancel_without_confirmation().records]
    records[3] = tool("get_order_details", "x" * 5000)
    text = render_transcript(records, max_tool_chars=100)
    lines = text.splitlines()
    assert len(lines) == len(records)
    assert lines[0] == "[0] assistant: Hi! How can I help you today?"
    assert lines[4] == (
        '[4] assistant: CALLS cancel_pending_order({"order_id":"#W001",'
        '"reason":"ordered by mistake"})'
    )
    assert lines[3].startswith("[3] tool get_order_details: xxx")
    assert "...[4900 more chars]" in lines[3] and len(lines[3]) < 200
    error_line = render_transcript(recovered_then_incomplete().records).splitlines()[3]
    assert error_line == "[3] tool get_order_details (error): Error: Order not found"


def test_evaluation_names_failed_components_and_details() -> None:
    text = render_evaluation(0.0, COMMUNICATE_FAILED, "user_stop")
    assert "Final reward: 0.0" in text
    assert "- COMMUNICATE: 0.0 (FAILED)" in text
    assert "- DB: 1.0 (passed)" in text
    assert "missing_communicate_info" in text and "54.04" in text
    assert "max_steps" in render_evaluation(0.0, {}, "max_steps")


@pytest.mark.parametrize(
    "text",
    [
        '{"occurred": true, "evidence_steps": [1]}',
        'Sure! Here it is:\n```json\n{"occurred": true, "evidence_steps": [1],}\n```',
        '<think>maybe {"occurred": false}</think> {"occurred": true, "evidence_steps": [1]}',
        'The answer is {"occurred": true, "evidence_steps": [1]} as shown.',
    ],
)
def test_tolerant_json_parsing(text: str) -> None:
    assert parse_json_object(text) == {"occurred": True, "evidence_steps": [1]}


def test_no_json_object_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        parse_json_object("I think the agent was wrong. [1, 2]")


def test_answers_are_coerced_leniently() -> None:
    answer = AnalystAnswer.model_validate(
        {"occurred": "yes", "evidence_steps": ["step 3", 5, "3, 7"], "extra": 1}
    )
    assert answer.occurred is True and answer.evidence_steps == [3, 5, 7]
    with pytest.raises(ValueError, match="new_category"):
        ProposerAnswer.model_validate({"covered_by_existing": False, "new_category": None})


async def test_malformed_answer_gets_one_corrective_retry() -> None:
    model = ScriptedChatModel(["no idea", '{"occurred": false, "rationale": "fine"}'])
    answer = await ask_json(model, "judge", AnalystAnswer, node="analyst:x", model_name="m")
    assert answer.value is not None and answer.value.occurred is False
    assert answer.error is None and len(answer.calls) == 2
    retry = model.calls[1]
    assert [m.type for m in retry] == ["human", "ai", "human"]
    assert "no JSON object" in str(retry[2].content)
    assert answer.calls[0]["node"] == "analyst:x" and answer.calls[0]["input_tokens"] > 0


async def test_twice_malformed_or_failing_model_is_recorded_not_raised() -> None:
    model = ScriptedChatModel(["nope", '{"occurred": "perhaps"}'])
    answer = await ask_json(model, "judge", AnalystAnswer, node="a", model_name="m")
    assert answer.value is None and answer.error is not None
    assert answer.error.startswith("malformed answer")
    down = ScriptedChatModel([ConnectionError("refused"), ConnectionError("refused")])
    failed = await ask_json(down, "judge", AnalystAnswer, node="a", model_name="m")
    assert failed.value is None and failed.calls == []
    assert failed.error == "model call failed: refused"


# ------------------------------------------------------------------- the analysis graph


def two_episode_router() -> Router:
    pv_helper = helper_for("policy_violation")
    answers: dict[tuple[str, str], Any] = {
        ("analyst:policy_violation", "1#0"): {
            "occurred": True,
            "rationale": "Cancelled at step 4 without asking the user to confirm.",
            "evidence_steps": [4, 99],
        },
        ("analyst:contextual_misinterpretation", "2#0"): {
            "occurred": True,
            "recovered": True,
            "rationale": "Used a wrong order id at step 2 but corrected it at step 4.",
            "evidence_steps": [2, 3, 4],
        },
        ("analyst:incomplete_fulfilment", "2#0"): {
            "occurred": True,
            "rationale": "Never told the refund amount.",
            "evidence_steps": [6],
        },
        ("orchestrator", "1#0"): {
            "primary_errors": ["policy_violation"],
            "recovered_errors": [],
            "rationale": "W001: cancelled without explicit confirmation.",
            "evidence_steps": [4],
        },
        ("orchestrator", "2#0"): {
            "primary_errors": ["incomplete_fulfilment"],
            "recovered_errors": ["contextual_misinterpretation"],
            "rationale": "W002: the id error was recovered; the amount was never told.",
            "evidence_steps": [6],
        },
        ("mitigation", "1#0"): {"helpers": [pv_helper], "rationale": "check constraints"},
        ("mitigation", "2#0"): {"helpers": list(HELPERS), "rationale": "everything"},
    }
    return Router(answers, {"#W001": "1#0", "W001:": "1#0", "#W002": "2#0", "W002:": "2#0"})


async def test_analysis_labels_crafted_failures() -> None:
    router = two_episode_router()
    model = router.model(14)
    episodes = [cancel_without_confirmation(), recovered_then_incomplete()]
    result = await analyze_episodes(
        episodes, model=model, model_name="openai:judge", settings=settings()
    )
    assert len(model.calls) == 14  # 2 x (4 analysts + proposer + orchestrator + mitigation)

    analyst_prompt = router.prompt("analyst:policy_violation", "1#0")
    assert POLICY in analyst_prompt
    assert "[4] assistant: CALLS cancel_pending_order" in analyst_prompt
    assert "- DB: 0.0 (FAILED)" in analyst_prompt
    orchestrator_prompt = router.prompt("orchestrator", "2#0")
    assert "`contextual_misinterpretation`: OCCURRED (analyst says the agent recovered)" in (
        orchestrator_prompt
    )

    taxonomy = result.taxonomy
    labels = {e.episode: e for e in taxonomy.episodes}
    cancel, recovered = labels["1#0"], labels["2#0"]
    assert cancel.primary_errors == ["policy_violation"]
    assert cancel.evidence_steps == [4]
    pv = next(a for a in cancel.analysts if a.category == "policy_violation")
    assert pv.occurred is True and pv.evidence_steps == [4]  # 99 is not a step
    assert recovered.primary_errors == ["incomplete_fulfilment"]
    assert recovered.recovered_errors == ["contextual_misinterpretation"]
    assert "contextual_misinterpretation" not in recovered.primary_errors

    assert cancel.helpers == [helper_for("policy_violation")]
    assert cancel.helpers_source == "llm"
    assert recovered.helpers_source == "minimal_cover"  # all six helpers is not minimal
    assert recovered.helpers == minimal_cover(["incomplete_fulfilment"], prefer=list(HELPERS))

    counts = {c.id: (c.count, c.flagged) for c in taxonomy.categories}
    assert counts["policy_violation"] == (1, 1)
    assert counts["incomplete_fulfilment"] == (1, 1)
    assert counts["contextual_misinterpretation"] == (0, 1)
    assert counts["wrong_retrieval"] == (0, 0)
    assert taxonomy.task_ids == ["1", "2"] and taxonomy.analyst_model == "openai:judge"
    assert {p["name"] for p in taxonomy.prompts} >= {
        "analyst",
        "category_proposer",
        "analysis_orchestrator",
        "mitigation_recommender",
    }
    assert taxonomy.usage.calls == 14
    assert taxonomy.usage.by_node["analyst"].calls == 8
    assert taxonomy.usage.input_tokens > 0 and taxonomy.analysis_failures["analyst"] == 0

    config = result.configs["tau2:retail"]
    expected = registry_order({*cancel.helpers, *recovered.helpers})
    assert config.helpers == expected  # each recommended for 50% >= 20% of failures
    assert config.backbone == "openai:small"
    assert config.derived_from["task_ids"] == ["1", "2"]
    assert config.derived_from["split"] == "train"
    assert config.derived_from["taxonomy"] == "taxonomy.json"
    if "memory" in config.helpers:
        assert config.params["memory"]["k"] == 6


async def test_malformed_analyst_answers_are_recorded_as_failed() -> None:
    router = two_episode_router()
    router.answers[("analyst:wrong_retrieval", "1#0")] = "I cannot answer in JSON."
    model = router.model(15)  # one retry for the failing analyst of episode 1
    result = await analyze_episodes(
        [cancel_without_confirmation()],
        model=model,
        model_name="m",
        settings=settings(),
    )
    label = result.taxonomy.episodes[0]
    failed = next(a for a in label.analysts if a.category == "wrong_retrieval")
    assert failed.occurred is None and failed.error and "malformed" in failed.error
    assert label.primary_errors == ["policy_violation"]
    assert result.taxonomy.analysis_failures["analyst"] == 1
    assert len(model.calls) == 8  # 4 analysts (+1 retry) + proposer + orchestrator + mitigation


async def test_orchestrator_failure_falls_back_to_unrecovered_analyst_votes() -> None:
    router = two_episode_router()
    router.answers[("orchestrator", "2#0")] = {"primary_errors": ["made_up_category"]}
    router.default = "2#0"  # the fallback rationale given to mitigation names no order
    model = router.model(20)
    result = await analyze_episodes(
        [recovered_then_incomplete()], model=model, model_name="m", settings=settings()
    )
    label = result.taxonomy.episodes[0]
    assert label.attribution_source == "analyst_fallback"
    assert label.primary_errors == ["incomplete_fulfilment"]  # the recovered one is not blamed
    assert label.attribution_error and "made_up_category" in label.attribution_error
    assert result.taxonomy.analysis_failures["orchestrator"] == 1


async def test_analysts_run_in_parallel_within_max_concurrency() -> None:
    active, peak, lock = [0], [0], threading.Lock()
    router = two_episode_router()

    def slow(messages: list[BaseMessage]) -> str:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return router(messages)

    episodes = [cancel_without_confirmation(), recovered_then_incomplete()]
    context = AnalysisContext(model=ScriptedChatModel([slow] * 14), model_name="m")
    await run_analysis_graph(episodes, context, max_concurrency=2)
    assert peak[0] == 2
    peak[0] = 0
    context = AnalysisContext(model=ScriptedChatModel([slow] * 14), model_name="m")
    await run_analysis_graph(episodes, context, max_concurrency=10)
    assert peak[0] > 2


async def test_no_failed_episodes_gives_empty_taxonomy_and_no_helpers() -> None:
    model = ScriptedChatModel([])
    result = await analyze_episodes(
        [],
        model=model,
        model_name="m",
        settings=settings(environments={"retail": "tau2:retail"}),
    )
    assert result.taxonomy.episodes == [] and model.calls == []
    assert result.configs["tau2:retail"].helpers == []


def test_graph_shape() -> None:
    drawing = build_analysis_graph().compile().get_graph().draw_mermaid()
    for edge in (
        "__start__ -.-> analyst;",
        "__start__ -.-> proposer;",
        "analyst --> merge_categories;",
        "proposer --> merge_categories;",
        "merge_categories -.-> mitigate_category;",
        "merge_categories -.-> categories_ready;",
        "mitigate_category --> categories_ready;",
        "categories_ready -.-> orchestrator;",
        "orchestrator -.-> mitigation;",
        "mitigation --> __end__;",
    ):
        assert edge in drawing


# -------------------------------------------------------------------- category proposals


def test_slugs_and_similarity() -> None:
    assert slugify("  Premature Transfer!! to a Human ") == "premature_transfer_to_a_human"
    assert similar("premature_transfer", "premature_transfers")
    assert similar("premature_transfer", "premature_transfer_to_human")
    assert similar("escalation_loop", "escalaton_loop")
    assert not similar("premature_transfer", "premature_termination")
    assert not similar("premature_transfer", "verbose_greeting")


def proposal(episode: str, name: str | None, definition: str = "") -> Proposal:
    return {
        "episode": episode,
        "name": name,
        "definition": definition,
        "rationale": "",
        "evidence_steps": [],
        "error": None,
    }


def test_recurring_proposals_merge_and_single_ones_do_not() -> None:
    proposals = [
        proposal("a#0", "Premature transfer to human", "Transfers before trying."),
        proposal("b#0", "premature transfers", "Hands over too early."),
        proposal("c#0", "Premature transfer to human", "Transfers before trying."),
        proposal("d#0", "Verbose greeting", "Talks too much."),
        proposal("e#0", "Policy violations", "Duplicate of a seed."),
        proposal("f#0", "policy violation"),
        proposal("g#0", None),
    ]
    categories = merge_proposals(proposals, existing=SEED_CATEGORIES)
    assert [c["id"] for c in categories] == ["premature_transfer_to_human"]
    merged = categories[0]
    assert merged["episodes"] == ["a#0", "b#0", "c#0"]
    assert merged["aliases"] == ["premature_transfers"]
    assert merged["name"] == "Premature transfer to human"
    assert merged["definition"] == "Transfers before trying."
    shuffled = proposals[:]
    random.Random(3).shuffle(shuffled)
    assert merge_proposals(shuffled, existing=SEED_CATEGORIES) == categories
    single = merge_proposals(proposals[:1] + proposals[3:4], existing=SEED_CATEGORIES)
    assert single == []


def proposal_episode(key: str, marker: str) -> FailedEpisode:
    records = [say("assistant", "Hi!"), say("user", f"Help with {marker}"), say("user", "bye")]
    return FailedEpisode(key=key, domain="airline", task_id=key.split("#")[0], records=records)


async def test_proposals_recurring_in_two_episodes_join_the_taxonomy() -> None:
    """Proposals worded differently are merged by the model; the discovered category gets a
    lesson, so the episode it explains is mitigated by the lessons helper."""
    episodes = [proposal_episode(f"{i}#0", f"RES{i}") for i in range(3)]
    new = {"covered_by_existing": False, "rationale": "", "evidence_steps": [2]}
    lesson = "Before ending, ask whether anything else is needed. Never close with requests open."
    answers: dict[tuple[str, str], Any] = {
        ("proposer", "0#0"): {
            **new,
            "new_category": {"name": "Premature closure", "definition": "d0"},
            "rationale": "RES0 ends the chat early",
        },
        ("proposer", "1#0"): {
            **new,
            "new_category": {"name": "Ending the chat too early", "definition": "d1"},
            "rationale": "RES1 says goodbye first",
        },
        ("proposer", "2#0"): {
            **new,
            "new_category": {"name": "Verbose greeting", "definition": "x"},
            "rationale": "RES2",
        },
        # numbered by slug: 1 ending_the_chat_too_early, 2 premature_closure, 3 verbose_greeting
        ("merger", "-"): {
            "groups": [
                {
                    "members": [1, 2],
                    "existing": None,
                    "name": "Premature closure",
                    "definition": "The agent ends the conversation before every request is done.",
                },
                {"members": [3], "existing": None, "name": "Verbose greeting"},
            ]
        },
        ("category_mitigation", "-"): {"helpers": [], "lesson": lesson, "triggers": ["always"]},
        ("orchestrator", "0#0"): {"primary_errors": ["premature_closure"], "rationale": "RES0"},
        ("orchestrator", "1#0"): {"primary_errors": [], "rationale": "RES1 user simulator"},
        ("orchestrator", "2#0"): {"primary_errors": ["verbose_greeting"], "rationale": "RES2"},
        ("mitigation", "0#0"): {"helpers": ["lessons"], "rationale": "the lesson covers it"},
    }
    markers = {f"RES{i}": f"{i}#0" for i in range(3)}
    router = Router(answers, markers, default="-")
    model = router.model(21)
    result = await analyze_episodes(episodes, model=model, model_name="m", settings=settings())
    # 3 x (4 analysts + proposer + orchestrator) + merger + category mitigation + 1 mitigation
    assert len(model.calls) == 21
    merger = router.prompt("merger", "-")
    assert "Ending the chat too early" in merger and "Premature closure" in merger
    evidence = router.prompt("category_mitigation", "-")
    assert "RES0 ends the chat early" in evidence and "[2] user: bye" in evidence
    assert "premature_closure" in router.prompt("orchestrator", "0#0")
    assert "premature_closure" not in router.prompt("orchestrator", "2#0")
    assert "Addresses: premature_closure" in router.prompt("mitigation", "0#0")

    taxonomy = result.taxonomy
    proposed = [c for c in taxonomy.categories if c.source == "proposed"]
    assert [(c.id, c.count, c.proposed_by) for c in proposed] == [
        ("premature_closure", 1, ["0#0", "1#0"])
    ]
    assert [c.aliases for c in proposed] == [["ending_the_chat_too_early"]]
    assert taxonomy.merge == {"source": "llm", "error": None}
    assert [(m.category, m.lesson, m.triggers) for m in taxonomy.mitigations] == [
        ("premature_closure", lesson, ["always"])
    ]
    labels = {e.episode: e for e in taxonomy.episodes}
    assert labels["0#0"].primary_errors == ["premature_closure"]
    assert labels["0#0"].helpers == ["lessons"] and labels["0#0"].helpers_source == "llm"
    # the single proposal is no category: naming it is rejected, the analysts found nothing
    assert labels["2#0"].primary_errors == []
    assert labels["2#0"].attribution_source == "analyst_fallback"
    assert labels["2#0"].proposal is not None and labels["2#0"].proposal.merged_into is None
    assert labels["1#0"].proposal is not None
    assert labels["1#0"].proposal.merged_into == "premature_closure"
    config = result.configs["tau2:airline"]
    assert config.helpers == ["lessons"]  # recommended for 1 of 3 failures (threshold 0.2)
    assert [m.lesson for m in config.lessons()] == [lesson]
    counts = {c.id: c.count for c in config.categories}
    assert counts["premature_closure"] == 1 and counts["policy_violation"] == 0


async def test_merge_falls_back_to_wording_when_the_model_cannot_group() -> None:
    episodes = [proposal_episode(f"{i}#0", f"RES{i}") for i in range(2)]
    new = {"covered_by_existing": False, "rationale": "", "evidence_steps": []}
    answers: dict[tuple[str, str], Any] = {
        ("proposer", "0#0"): {**new, "new_category": {"name": "Premature transfer"}},
        ("proposer", "1#0"): {**new, "new_category": {"name": "premature transfers"}},
        ("merger", "-"): {"groups": [{"members": [1, 7]}]},  # 7 is no proposal: twice
        ("category_mitigation", "-"): "no idea",  # unusable twice: left unmitigated
        ("orchestrator", "0#0"): {"primary_errors": ["premature_transfer"], "rationale": "RES0"},
        ("orchestrator", "1#0"): {"primary_errors": [], "rationale": "RES1"},
    }
    router = Router(answers, {f"RES{i}": f"{i}#0" for i in range(2)}, default="-")
    model = router.model(16)
    result = await analyze_episodes(episodes, model=model, model_name="m", settings=settings())
    assert len(model.calls) == 16  # 2 x 6 + 2 merger + 2 category mitigation; no mitigation
    taxonomy = result.taxonomy
    assert [c.id for c in taxonomy.categories if c.source == "proposed"] == ["premature_transfer"]
    assert taxonomy.merge["source"] == "wording"
    assert "out of range" in str(taxonomy.merge["error"])
    assert taxonomy.mitigations == []
    assert taxonomy.analysis_failures["merge"] == 1
    assert taxonomy.analysis_failures["category_mitigation"] == 1
    assert {e.episode: e.helpers for e in taxonomy.episodes}["0#0"] == []


# -------------------------------------------------------------------------- mitigation


def test_valid_llm_cover_is_kept_and_invalid_ones_fall_back() -> None:
    targets = ["policy_violation", "incomplete_fulfilment"]
    cover = minimal_cover(targets)
    assert is_minimal_cover(cover, targets)
    assert choose_helpers(cover, targets) == (registry_order(cover), True)
    assert choose_helpers(list(HELPERS), targets) == (registry_order(cover), False)
    named = ["decision_verifier", "output_reformulator", "planner"]  # covers, not minimal
    fallback, from_llm = choose_helpers(named, ["policy_violation", "wrong_retrieval"])
    assert not from_llm and set(fallback) < set(named)  # the fallback prefers named helpers
    assert fallback == minimal_cover(["policy_violation", "wrong_retrieval"], prefer=named)
    assert choose_helpers(["no_such_helper"], targets)[1] is False
    assert choose_helpers(None, targets)[1] is False
    assert choose_helpers([], []) == ([], True)
    uncovering = [helper_for("wrong_retrieval")]
    if "policy_violation" not in HELPERS[uncovering[0]].addresses:
        assert choose_helpers(uncovering, ["policy_violation"])[1] is False


def test_helper_names_from_an_llm_are_normalised() -> None:
    assert normalise_helper_names(["Memory", " memory "]) == ["memory"]
    assert normalise_helper_names(["memory agent"]) == ["memory"]
    assert normalise_helper_names(["something else"]) is None


def recommendation(episode: str, helpers: Sequence[str]) -> Recommendation:
    return {
        "episode": episode,
        "helpers": list(helpers),
        "source": "llm",
        "rationale": "",
        "uncovered": [],
    }


def test_aggregation_keeps_helpers_above_the_threshold() -> None:
    recs = [recommendation(f"{i}#0", ["memory"]) for i in range(3)]
    recs += [recommendation("3#0", ["constraints_extractor"])]
    recs += [recommendation(f"{i}#0", []) for i in range(4, 10)]

    def build(threshold: float, domain: str = "retail") -> list[str]:
        config = aggregate_config(
            recs,
            backbone="b",
            environment=f"tau2:{domain}",
            derived_from={"run_id": "r", "split": "train", "task_ids": ["1"]},
            threshold=threshold,
        )
        assert config.recommendation_counts["memory"] == 3
        assert config.derived_from["failed_episodes"] == 10
        return config.helpers

    assert build(0.2) == ["memory"]
    assert build(0.1) == registry_order(["memory", "constraints_extractor"])
    assert build(0.5) == ["memory"]  # nothing reaches 50%: the most recommended one
    with pytest.raises(ValueError, match="threshold"):
        build(0.0)


def test_aggregation_without_recommendations() -> None:
    def helpers(recs: list[Recommendation], flagged: dict[str, int]) -> list[str]:
        return aggregate_config(
            recs, backbone="b", environment="tau2:x", derived_from={}, flagged=flagged
        ).helpers

    assert helpers([], {}) == []  # no failures, no helpers
    fallback = helpers([recommendation("1#0", [])], {"wrong_retrieval": 3})
    assert len(fallback) == 1
    assert "wrong_retrieval" in HELPERS[fallback[0]].addresses


@pytest.mark.parametrize(("domain", "k"), [("retail", 6), ("airline", 2), ("telecom", 4)])
def test_memory_window_depends_on_the_domain(domain: str, k: int) -> None:
    assert helper_params("memory", f"tau2:{domain}")["k"] == k


def test_seed_categories_are_all_addressed_by_some_helper() -> None:
    addressed = {c for spec in HELPERS.values() for c in spec.addresses}
    assert set(SEED_CATEGORY_IDS) <= addressed


# ------------------------------------------------------------------------------ inputs


def test_failed_episode_from_a_store_record() -> None:
    from fama.runs.store import EpisodeRecord

    stored = EpisodeRecord(
        run_id="r",
        task_id="7",
        trial=2,
        domain="retail",
        split="train",
        status="done",
        termination="agent_stop",
        reward=0.0,
        reward_info=DB_FAILED,
        records=cancel_without_confirmation().records,  # type: ignore[arg-type]
    )
    episode = from_stored(stored, policy="P")
    assert episode.key == episode_key("7", 2) == "7#2"
    assert episode.policy == "P" and episode.termination == "agent_stop"
    assert episode.records == stored.records and episode.reward_info == DB_FAILED


def test_json_extraction_is_linear_on_brace_floods_and_deep_nesting() -> None:
    import time

    answer = '{"occurred": false, "evidence_steps": []}'
    shallow = '{"a": ' * 10 + answer  # unclosed openers before the answer
    assert parse_json_object(shallow) == {"occurred": False, "evidence_steps": []}
    flood = '{"a": ' * 20_000 + answer  # answer nested past MAX_DEPTH: not looked for
    started = time.perf_counter()
    with pytest.raises(ValueError, match="no JSON object"):
        parse_json_object(flood)
    assert time.perf_counter() - started < 2.0
    deep = "[" * 5_000 + "]" * 5_000
    with pytest.raises(ValueError, match="no JSON object"):
        parse_json_object('{"a": ' + deep + "}")  # too deep to parse: no object, no crash
    assert parse_json_object('x {"a": {"b": 1}} y {"c": 2}') == {"a": {"b": 1}}


def test_tool_output_nested_too_deep_is_not_json() -> None:
    from fama.helpers.text import parse_json

    assert parse_json("[" * 100_000 + "]" * 100_000) is None
    assert parse_json('{"ok": [1]}') == {"ok": [1]}
