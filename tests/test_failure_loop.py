"""Closing the failure -> helper loop (analysis side): discovered categories are merged by
meaning and mitigated (helpers or a lesson), memory's window comes from the data, and the
lessons helper injects what was learned."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from fama.analysis.discovered import mitigate_category
from fama.analysis.episodes import FailedEpisode
from fama.analysis.meaning import merge_by_meaning
from fama.analysis.mitigation import memory_k
from fama.analysis.schemas import Proposal, ProposedCategory
from fama.core.categories import SEED_CATEGORIES
from fama.core.retry import RetryPolicy
from fama.helpers import lessons
from fama.helpers.base import HelperEnv, HelperInput
from tests.fakes import ScriptedChatModel

LESSON = "Ask whether anything else is needed before ending. Never close with requests open."


def episode(key: str) -> FailedEpisode:
    records: list[Any] = [
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "Cancel order #W1 and then change my address."},
        {"role": "assistant", "content": "Cancelled. Goodbye!"},
    ]
    return FailedEpisode(key=key, domain="retail", task_id=key.split("#")[0], records=records)


def proposal(key: str, name: str | None, rationale: str = "ended early") -> Proposal:
    return {
        "episode": key,
        "name": name,
        "definition": f"{name} happens",
        "rationale": rationale,
        "evidence_steps": [2],
        "error": None,
    }


CATEGORY: ProposedCategory = {
    "id": "premature_closure",
    "name": "Premature closure",
    "definition": "The agent ends the conversation before every request is handled.",
    "aliases": [],
    "episodes": ["1#0", "2#0"],
}


async def mitigate(*replies: Any) -> tuple[Any, ScriptedChatModel]:
    model = ScriptedChatModel([r if isinstance(r, str) else json.dumps(r) for r in replies])
    record, calls = await mitigate_category(
        CATEGORY,
        [episode("1#0"), episode("2#0")],
        {k: proposal(k, "Premature closure", f"closed in {k}") for k in ("1#0", "2#0")},
        model=model,
        model_name="analyst",
    )
    assert len(calls) == len(model.calls)
    return record, model


async def test_a_discovered_category_can_be_mapped_to_existing_helpers() -> None:
    record, model = await mitigate(
        {"helpers": ["Planner"], "lesson": "", "triggers": ["multi_request", "bogus"]}
    )
    assert record["helpers"] == ["planner"] and record["lesson"] is None
    assert record["triggers"] == ["multi_request"]  # unknown signal names are dropped
    assert record["error"] is None and record["evidence"] == ["1#0", "2#0"]
    prompt = str(model.calls[0][0].content)
    assert "closed in 1#0" in prompt and "[2] assistant: Cancelled. Goodbye!" in prompt
    assert "`planner`" in prompt and "`lessons`" not in prompt  # lessons is no mapping target
    assert "`multi_request`" in prompt


async def test_a_lesson_must_have_two_to_four_sentences_and_gets_a_retry() -> None:
    record, model = await mitigate(
        {"helpers": [], "lesson": "Be thorough.", "triggers": []},  # one sentence
        {"helpers": [], "lesson": LESSON, "triggers": []},
    )
    assert len(model.calls) == 2
    assert "2 to 4 sentences, not 1" in str(model.calls[1][-1].content)
    assert record["lesson"] == LESSON and record["helpers"] == []
    assert record["triggers"] == ["always"]  # no signal named: every decision


async def test_an_unusable_mitigation_is_recorded_not_raised() -> None:
    both = {"helpers": ["memory"], "lesson": LESSON, "triggers": ["always"]}
    record, _ = await mitigate(both, both)
    assert record["helpers"] == [] and record["lesson"] is None
    assert "exactly one of them" in str(record["error"])
    record, _ = await mitigate({"helpers": ["lessons"], "triggers": ["always"]})
    assert "unknown helpers" in str(record["error"])


async def test_merge_by_meaning_skips_the_model_when_nothing_can_recur() -> None:
    model = ScriptedChatModel([])
    outcome = await merge_by_meaning(
        [proposal("1#0", "Premature closure"), proposal("2#0", None)],
        existing=SEED_CATEGORIES,
        model=model,
        model_name="m",
    )
    assert outcome.categories == [] and outcome.source == "none" and model.calls == []


async def test_merge_by_meaning_drops_duplicates_of_existing_categories() -> None:
    answer = {
        "groups": [
            # numbered by slug: early_goodbye, hanging_up_early, ignoring_the_rules, rule_breaking
            {"members": [3, 4], "existing": "Domain-policy violation"},
            {"members": [1, 2], "name": "Premature closure", "definition": "Ends early."},
        ]
    }
    model = ScriptedChatModel([json.dumps(answer)])
    outcome = await merge_by_meaning(
        [
            proposal("1#0", "Rule breaking"),
            proposal("2#0", "Ignoring the rules"),
            proposal("3#0", "Hanging up early"),
            proposal("4#0", "Early goodbye"),
        ],
        existing=SEED_CATEGORIES,
        model=model,
        model_name="m",
    )
    assert outcome.source == "llm" and outcome.error is None
    assert [(c["id"], c["episodes"], c["aliases"]) for c in outcome.categories] == [
        ("premature_closure", ["3#0", "4#0"], ["early_goodbye", "hanging_up_early"])
    ]
    prompt = str(model.calls[0][0].content)
    assert "1. Early goodbye" in prompt and "`policy_violation`" in prompt


def test_memory_window_paper_values_then_the_data() -> None:
    assert memory_k("tau2:retail") == 6 and memory_k("tau-trait:airline", [9, 9]) == 2
    assert memory_k("acebench:multi_turn", [3, 5, 9]) == 5
    assert memory_k("acebench:multi_turn", [1, 1]) == 2  # bounded below
    assert memory_k("tau2:telecom", [20]) == 6  # bounded above
    assert memory_k("tau2:telecom") is None  # nothing to go on: the helper's default


def helper_input(diagnosis: dict[str, Any], max_chars: int = 600) -> HelperInput:
    return {
        "messages": [HumanMessage("hi"), AIMessage("hello")],
        "diagnosis": diagnosis,
        "max_chars": max_chars,
        "params": {},
    }


def helper_env(items: list[dict[str, Any]]) -> HelperEnv:
    return HelperEnv(
        policy="",
        tools=[],
        tool_kind=lambda name: None,
        model=None,
        retries=RetryPolicy(),
        params={"max_lessons": 3, "lessons": items},
    )


ITEMS = [
    {"category": "premature_closure", "lesson": LESSON},
    {"category": "over_apologising", "lesson": "Apologise once. Then solve the problem."},
]


async def test_lessons_helper_injects_all_in_static_and_the_signalled_in_dynamic() -> None:
    static = await lessons.run(helper_input({"mode": "static"}), helper_env(ITEMS))
    text = static["guidance"][0]["text"]
    assert LESSON in text and "Apologise once." in text
    signals = [{"name": "always", "category": "premature_closure", "helper": "lessons"}]
    dynamic = await lessons.run(
        helper_input({"mode": "dynamic", "signals": signals}), helper_env(ITEMS)
    )
    text = dynamic["guidance"][0]["text"]
    assert LESSON in text and "Apologise" not in text
    quiet = await lessons.run(helper_input({"mode": "dynamic", "signals": []}), helper_env(ITEMS))
    assert quiet["guidance"] == []
    tight = await lessons.run(helper_input({"mode": "static"}, max_chars=150), helper_env(ITEMS))
    assert tight["guidance"] and "Apologise" not in tight["guidance"][0]["text"]


def test_lesson_sentences_are_counted() -> None:
    from fama.analysis.schemas import lesson_sentences

    assert lesson_sentences(LESSON) == 2
    assert lesson_sentences("Check the order. Confirm it! Then act") == 3
    assert lesson_sentences("") == 0
