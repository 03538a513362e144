"""The FAMA helper pool: registry and minimal cover, and each helper on realistic input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool

from fama.core.categories import SEED_CATEGORY_IDS
from fama.core.env import ToolKind
from fama.core.fama_config import FamaConfig
from fama.core.retry import RetryPolicy
from fama.envs.tau2.retail import RetailTools
from fama.helpers import (
    constraints_extractor,
    decision_verifier,
    memory,
    output_reformulator,
    planner,
    tool_suggester,
)
from fama.helpers.base import HelperEnv, HelperInput, guidance
from fama.helpers.registry import GUIDANCE_HELPERS, HELPERS, minimal_cover, registry_order
from fama.helpers.settings import helper_params
from fama.helpers.text import bm25, clip, stem, tokens
from tests.fakes import ScriptedChatModel

# A realistic (made-up) retail order, as get_order_details returns it.
ORDER: dict[str, Any] = {
    "order_id": "#W7301126",
    "user_id": "mei_tanaka_3081",
    "address": {
        "address1": "12 Elm Street",
        "address2": "Apt 4",
        "city": "Denver",
        "country": "USA",
        "state": "CO",
        "zip": "80203",
    },
    "items": [
        {
            "name": "Desk Lamp",
            "product_id": "6817146515",
            "item_id": "5320792178",
            "price": 135.24,
            "options": {"color": "black", "brightness": "medium", "power source": "AC adapter"},
        },
        {
            "name": "Running Shoes",
            "product_id": "6938111410",
            "item_id": "4153505238",
            "price": 158.67,
            "options": {"size": "8", "color": "red", "material": "leather", "sole": "EVA"},
        },
    ],
    "status": "pending",
    "fulfillments": [],
    "payment_history": [
        {
            "transaction_type": "payment",
            "amount": 293.91,
            "payment_method_id": "credit_card_2112420",
        }
    ],
}
RETAIL_TOOLS: list[BaseTool] = RetailTools.langchain_tools()
RETAIL_KINDS: dict[str, ToolKind] = RetailTools.tool_kinds()


def retail_policy(tau2_data_dir: Path) -> str:
    return (tau2_data_dir / "domains" / "retail" / "policy.md").read_text()


def env_for(
    helper: str,
    *,
    policy: str = "",
    model: ScriptedChatModel | None = None,
    **params: Any,
) -> HelperEnv:
    return HelperEnv(
        policy=policy,
        tools=RETAIL_TOOLS,
        tool_kind=RETAIL_KINDS.get,
        model=model,
        retries=RetryPolicy(attempts=1, initial_backoff_s=0.0),
        params={**HELPERS[helper].default_params, **params},
    )


def inp(*messages: AnyMessage, max_chars: int = 2000, **diagnosis: Any) -> HelperInput:
    return {
        "messages": list(messages),
        "diagnosis": diagnosis,
        "max_chars": max_chars,
        "params": {},
    }


def call(name: str, args: dict[str, Any], call_id: str = "c1") -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def result(content: str, call_id: str = "c1", name: str = "", error: bool = False) -> ToolMessage:
    status = "error" if error else "success"
    return ToolMessage(content=content, tool_call_id=call_id, name=name, status=status)


# --- registry ---------------------------------------------------------------------------


def test_registry_has_six_helpers_covering_the_seed_categories_and_lessons() -> None:
    assert list(HELPERS) == [
        "constraints_extractor",
        "tool_suggester",
        "output_reformulator",
        "planner",
        "decision_verifier",
        "memory",
        "lessons",
    ]
    assert set(GUIDANCE_HELPERS) == set(HELPERS) - {"decision_verifier"}
    assert HELPERS["lessons"].addresses == frozenset()  # discovered categories, per config
    for spec in HELPERS.values():
        assert spec.addresses <= set(SEED_CATEGORY_IDS)
        assert spec.description and spec.prompts
    for category in SEED_CATEGORY_IDS:
        assert len([s for s in HELPERS.values() if category in s.addresses]) == 2
    assert {n for n, s in HELPERS.items() if s.uses_llm} == {"planner", "decision_verifier"}


def test_minimal_cover_is_exact_and_deterministic() -> None:
    assert minimal_cover([]) == []
    assert minimal_cover(["unknown_category"]) == []
    assert minimal_cover(["policy_violation"]) == ["constraints_extractor"]
    # one helper covers both (memory: no model call, so it wins over the planner)
    assert minimal_cover(["contextual_misinterpretation", "incomplete_fulfilment"]) == ["memory"]
    assert minimal_cover(["policy_violation", "contextual_misinterpretation", "x"]) == [
        "constraints_extractor",
        "memory",
    ]
    assert minimal_cover(SEED_CATEGORY_IDS) == ["constraints_extractor", "tool_suggester", "memory"]
    assert minimal_cover(["policy_violation"], prefer=["decision_verifier"]) == [
        "decision_verifier"
    ]
    assert minimal_cover(["wrong_retrieval"], prefer=["output_reformulator"]) == [
        "output_reformulator"
    ]


def test_registry_order_and_params() -> None:
    assert registry_order(["memory", "nope", "planner", "memory"]) == ["planner", "memory"]
    assert helper_params("memory", None)["k"] == 4
    airline = FamaConfig(backbone="m", environment="tau2:airline", helpers=["memory"])
    retail = FamaConfig(
        backbone="m", environment="tau2:retail", helpers=["memory"], params={"memory": {"k": 3}}
    )
    assert helper_params("memory", airline)["k"] == 2
    assert helper_params("memory", retail)["k"] == 3  # the configuration wins


# --- shared text tools ------------------------------------------------------------------


def test_stemming_tokens_bm25_and_clip() -> None:
    assert {stem(w) for w in ("cancel", "cancelled", "cancellation", "cancels")} == {"cancel"}
    assert stem("exchanged") == stem("exchange") == stem("exchanges")
    assert tokens("Please cancel_pending_order for me") == ["cancel", "pend", "order"]
    scores = bm25({"cancel": 1.0}, [["cancel", "order"], ["return", "order"]])
    assert scores[0] > 0 == scores[1]
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"
    assert guidance("memory", "  ") == {"guidance": []}
    assert guidance("memory", "head\nline")["guidance"][0]["text"] == "head\n  line"


# --- memory -----------------------------------------------------------------------------


async def test_memory_keeps_the_last_k_user_messages() -> None:
    messages: list[AnyMessage] = []
    for n in range(1, 6):
        messages += [HumanMessage(f"request {n}"), AIMessage(f"answer {n}")]
    update = await memory.run(inp(*messages), env_for("memory", k=2))
    text = update["guidance"][0]["text"]
    assert "1. request 4" in text and "2. request 5" in text
    assert "request 3" not in text
    assert update["guidance"][0]["helper"] == "memory"
    assert "llm_calls" not in update


async def test_memory_is_silent_with_one_user_message_and_respects_the_budget() -> None:
    one = await memory.run(inp(HumanMessage("hello")), env_for("memory", k=6))
    assert one == {"guidance": []}
    long_messages = [HumanMessage("x" * 200), HumanMessage("y" * 200), HumanMessage("z" * 200)]
    update = await memory.run(inp(*long_messages, max_chars=550), env_for("memory", k=6))
    text = update["guidance"][0]["text"]
    assert len(text) <= 550 and "x" not in text and "y" * 200 in text and "z" * 200 in text


# --- tool-output reformulator -----------------------------------------------------------


async def test_reformulator_flattens_a_retail_order_without_inventing_anything() -> None:
    raw = json.dumps(ORDER)
    messages: list[AnyMessage] = [
        HumanMessage("What is in order #W7301126?"),
        call("get_order_details", {"order_id": "#W7301126"}),
        result(raw, name="get_order_details"),
    ]
    update = await output_reformulator.run(inp(*messages), env_for("output_reformulator"))
    text = update["guidance"][0]["text"]
    lines = text.splitlines()
    assert lines[0].startswith("The last get_order_details result")
    assert "order_id=#W7301126; user_id=mei_tanaka_3081; status=pending" in text
    assert "items (2):" in text
    assert (
        "[0] name=Desk Lamp; product_id=6817146515; item_id=5320792178; price=135.24; "
        "options={color=black, brightness=medium, power source=AC adapter}" in text
    )
    assert "[1] name=Running Shoes" in text
    assert "fulfillments (0): []" in text
    assert "payment_method_id=credit_card_2112420" in text

    # every scalar of the order is there, and nothing that is not in the order
    def scalars(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in scalars(v)]
        if isinstance(value, list):
            return [s for v in value for s in scalars(v)]
        return [output_reformulator.scalar(value)]

    for value in scalars(ORDER):
        assert value in text
    body = "\n".join(lines[1:])
    for number in [w for w in body.replace(",", " ").replace(";", " ").split() if w[:1].isdigit()]:
        assert number.strip("=}])") in raw


async def test_reformulator_keys_record_maps_and_fits_the_budget() -> None:
    variants = {
        str(1000000000 + n): {
            "item_id": str(1000000000 + n),
            "options": {"color": c},
            "available": n % 2 == 0,
            "price": 10.0 + n,
        }
        for n, c in enumerate(["red", "blue", "green", "black", "white", "pink"] * 4)
    }
    product = {"name": "Lamp", "product_id": "42", "variants": variants}
    lines = output_reformulator.flatten(product)
    assert lines[1] == "variants by item_id (24):"
    assert lines[2] == "  [1000000000] options={color=red}; available=true; price=10.0"
    messages = [result(json.dumps(product), name="get_product_details")]
    update = await output_reformulator.run(
        inp(*messages, max_chars=600), env_for("output_reformulator")
    )
    text = update["guidance"][0]["text"]
    assert len(text) <= 600 and "more lines in the raw output" in text


async def test_reformulator_ignores_short_errors_and_old_outputs() -> None:
    env = env_for("output_reformulator")
    short = await output_reformulator.run(inp(result('{"a": 1}')), env)
    assert short == {"guidance": []}
    error = await output_reformulator.run(inp(result("Error: " + "x" * 400, error=True)), env)
    assert error == {"guidance": []}
    old: list[AnyMessage] = [result(json.dumps(ORDER)), *[HumanMessage("hi")] * 6]
    assert await output_reformulator.run(inp(*old), env) == {"guidance": []}


# --- domain-constraints extractor -------------------------------------------------------


def test_policy_is_split_into_sectioned_rules(tau2_data_dir: Path) -> None:
    rules = constraints_extractor.split_policy(retail_policy(tau2_data_dir))
    assert 30 <= len(rules) <= 60
    assert all(len(r.text) <= constraints_extractor.MAX_RULE_CHARS for r in rules)
    sections = {r.section for r in rules}
    assert {"Cancel pending order", "Return delivered order", "Modify items"} <= sections
    product = [r for r in rules if r.text.startswith("Each product has")]
    assert product and "• list of variants" in product[0].text  # the list joined its intro


async def test_constraints_extractor_picks_the_rules_of_the_requested_action(
    tau2_data_dir: Path,
) -> None:
    policy = retail_policy(tau2_data_dir)
    messages: list[AnyMessage] = [
        HumanMessage("Hi, I want to cancel my order #W7301126, I ordered it by mistake."),
        call("get_order_details", {"order_id": "#W7301126"}),
        result(json.dumps(ORDER), name="get_order_details"),
    ]
    env = env_for("constraints_extractor", policy=policy)
    update = await constraints_extractor.run(inp(*messages, max_chars=900), env)
    text = update["guidance"][0]["text"]
    assert text.startswith("Policy rules that apply to this step:")
    assert "[Cancel pending order]" in text
    assert len(text) <= 900
    assert text.count("\n  - ") <= 3


# --- tool suggester ---------------------------------------------------------------------


async def test_tool_suggester_names_fitting_tools_and_explains_a_failed_call() -> None:
    env = env_for("tool_suggester")
    asked = await tool_suggester.run(
        inp(HumanMessage("I'd like to return the shoes from my delivered order")), env
    )
    text = asked["guidance"][0]["text"]
    assert "return_delivered_order_items(order_id, item_ids, payment_method_id)" in text
    assert text.count("\n  - ") == 2
    failed = await tool_suggester.run(
        inp(
            HumanMessage("Check order W7301126"),
            call("get_order_details", {"order_id": "W7301126"}),
            result("Error: Order not found", name="get_order_details", error=True),
        ),
        env,
    )
    text = failed["guidance"][0]["text"]
    assert "get_order_details(order_id) failed; its arguments:" in text
    assert "'#' symbol" in text  # the argument's own description


# --- planner ----------------------------------------------------------------------------


async def test_planner_calls_the_model_once_per_user_message_and_caches_the_plan() -> None:
    model = ScriptedChatModel(["1. Cancel order #W1\n2. Change address", "1. Cancel (done)"])
    env = env_for("planner", model=model)
    first: list[AnyMessage] = [HumanMessage("Cancel #W1 and change my address")]
    update = await planner.run(inp(*first), env)
    assert [c["node"] for c in update.get("llm_calls", [])] == ["helper:planner"]
    assert update["diagnosis"] == {
        "plan": "1. Cancel order #W1\n2. Change address",
        "plan_user_turns": 1,
    }
    assert "2. Change address" in update["guidance"][0]["text"]
    prompt = str(model.calls[0][0].content)
    assert "1. Cancel #W1 and change my address" in prompt and "(none yet)" in prompt
    # same user turn: the cached plan, no model call
    later: list[AnyMessage] = [
        *first,
        call("cancel_pending_order", {"order_id": "#W1"}),
        result("{}"),
    ]
    cached = await planner.run(inp(*later, **update["diagnosis"]), env)
    assert "llm_calls" not in cached and len(model.calls) == 1
    assert "Change address" in cached["guidance"][0]["text"]
    # a new user message: refreshed
    newer: list[AnyMessage] = [*later, AIMessage("Done."), HumanMessage("Thanks")]
    refreshed = await planner.run(inp(*newer, **update["diagnosis"]), env)
    assert len(model.calls) == 2 and refreshed["diagnosis"]["plan_user_turns"] == 2
    assert 'cancel_pending_order({"order_id":"#W1"}) -> ok' in str(model.calls[1][0].content)


# --- decision verifier ------------------------------------------------------------------


def test_confirmation_and_identifier_heuristics() -> None:
    assert decision_verifier.confirms("Yes, please go ahead.")
    assert decision_verifier.confirms("ok")
    assert not decision_verifier.confirms("No, wait, I am not sure.")
    assert not decision_verifier.confirms("What is the status of my order?")
    ids = [
        v
        for v in [
            "#W7301126",
            "5320792178",
            "gift_card_1",
            "2024-05-01",
            "no longer needed",
            "8020",
        ]
        if decision_verifier.looks_like_identifier(v)
    ]
    assert ids == ["#W7301126", "5320792178", "gift_card_1"]


async def test_verifier_blocks_writes_without_confirmation_or_with_invented_ids(
    tau2_data_dir: Path,
) -> None:
    env = env_for("decision_verifier", policy=retail_policy(tau2_data_dir), llm_check=False)
    history: list[AnyMessage] = [
        HumanMessage("Cancel order #W7301126, I ordered it by mistake."),
        call("get_order_details", {"order_id": "#W7301126"}),
        result(json.dumps(ORDER), name="get_order_details"),
    ]
    proposal = call(
        "cancel_pending_order", {"order_id": "#W7301126", "reason": "ordered by mistake"}, "c2"
    )
    verdict, calls = await decision_verifier.verify(proposal, history, env)
    assert not verdict.ok and verdict.check == "confirmation" and calls == []
    text = decision_verifier.remediation(proposal, verdict, env)
    assert text.startswith('Your proposed action cancel_pending_order({"order_id":"#W7301126"')
    assert "confirm (yes)" in text
    confirmed = [
        *history,
        AIMessage("Cancel #W7301126 (ordered by mistake)?"),
        HumanMessage("Yes."),
    ]
    ok, _ = await decision_verifier.verify(proposal, confirmed, env)
    assert ok.ok
    invented = call(
        "cancel_pending_order", {"order_id": "#W9999999", "reason": "ordered by mistake"}
    )
    bad, _ = await decision_verifier.verify(invented, confirmed, env)
    assert not bad.ok and bad.check == "grounding" and "#W9999999" in bad.problem
    read_only = call("get_user_details", {"user_id": "someone_1234"})
    assert (await decision_verifier.verify(read_only, history, env))[0].ok  # reads are not checked


async def test_verifier_policy_check_asks_the_helper_model(tau2_data_dir: Path) -> None:
    model = ScriptedChatModel(
        [
            "<think>hmm</think>VIOLATION: the order is not pending; "
            "tell the user it cannot be cancelled."
        ]
    )
    env = env_for("decision_verifier", policy=retail_policy(tau2_data_dir), model=model)
    history: list[AnyMessage] = [
        HumanMessage("Cancel #W7301126 please, no longer needed. Yes, I confirm."),
        call("get_order_details", {"order_id": "#W7301126"}),
        result(json.dumps({**ORDER, "status": "delivered"}), name="get_order_details"),
    ]
    proposal = call("cancel_pending_order", {"order_id": "#W7301126", "reason": "no longer needed"})
    verdict, calls = await decision_verifier.verify(proposal, history, env)
    assert not verdict.ok and verdict.check == "policy"
    assert verdict.problem.startswith("the order is not pending")
    assert [c["node"] for c in calls] == ["helper:decision_verifier"]
    prompt = str(model.calls[0][0].content)
    assert "[Cancel pending order]" in prompt and "Proposed action: cancel_pending_order(" in prompt
    assert decision_verifier.parse_answer("OK").ok
    assert decision_verifier.parse_answer("I am not sure").ok  # unparseable: fail open
