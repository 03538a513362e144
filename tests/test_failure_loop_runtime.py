"""Closing the failure -> helper loop (run side): the analysed counts and the configuration's
pool decide the dynamic choice, discovered categories are signalled and their lessons
injected, the agent variants call the helper model within budget, and the write gate is hard."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from pydantic import Field

from fama.core.fama_config import CategoryCount, CategoryMitigation, FamaConfig, FamaMode
from fama.core.fama_state import FamaState
from fama.graph.decision import FamaDecisions
from fama.graph.episode import run_episode
from fama.helpers.settings import fama_settings, pool, prompt_names
from fama.nodes.mitigation import choose
from fama.nodes.orchestrator import detect_signals, rank_signals
from fama.runs.runner import agent_setup
from tests.fakes import ScriptedChatModel
from tests.test_fama_graph import (
    CANCEL,
    GET,
    OrderEnv,
    agent_prompts,
    context,
    system_text,
)

LESSON = "Ask whether anything else is needed before ending. Never close with requests open."
SEED = ("policy_violation", "wrong_retrieval", "contextual_misinterpretation")


def counted(**counts: int) -> list[CategoryCount]:
    return [CategoryCount(id=c, count=counts.get(c, 0)) for c in (*SEED, *counts)]


def analysed(helpers: list[str], **fields: Any) -> FamaConfig:
    return FamaConfig(backbone="scripted", environment="shop", helpers=helpers, **fields)


def signals_of_state() -> FamaState:
    """A user asking for a cancellation right after a long JSON tool output."""
    env = OrderEnv()
    big = ToolMessage(
        content='{"items": [' + ", ".join(['{"id": 1}'] * 200) + "]}", tool_call_id="c1"
    )
    messages = [
        HumanMessage("Please cancel order #W7301126."),
        AIMessage(content="", tool_calls=[{"name": "get_order_details", "args": {}, "id": "c1"}]),
        big,
    ]
    fired = detect_signals(messages, env.agent_tools(), env.tool_kind)
    assert {s["name"] for s in fired} == {"action_request", "long_output"}
    return {"messages": messages, "diagnosis": {"signals": fired}}


def decide(config: FamaConfig, budget: int = 170) -> dict[str, list[str]]:
    settings = fama_settings("dynamic", config, guidance_budget=budget)
    state = signals_of_state()
    ranked = rank_signals(state["diagnosis"]["signals"], settings.taxonomy)
    return choose({**state, "diagnosis": {"signals": ranked}}, settings)


def test_a_dominant_analysed_category_changes_the_dynamic_choice() -> None:
    every = ["constraints_extractor", "output_reformulator", "memory"]
    policy = analysed(every, categories=counted(policy_violation=9, wrong_retrieval=1))
    retrieval = analysed(every, categories=counted(policy_violation=1, wrong_retrieval=9))
    # room for one helper: the most frequent category's helper wins, and says why
    assert decide(policy) == {"constraints_extractor": ["policy_violation"]}
    assert decide(retrieval) == {"output_reformulator": ["wrong_retrieval"]}
    # with room for both, both categories are covered
    assert list(decide(policy, budget=500)) == ["constraints_extractor", "output_reformulator"]


def test_dynamic_mode_chooses_only_in_the_configurations_pool() -> None:
    config = analysed(["output_reformulator", "memory"], categories=counted(policy_violation=9))
    assert decide(config, budget=500) == {"output_reformulator": ["wrong_retrieval"]}
    assert pool(fama_settings("dynamic")) == [
        "constraints_extractor",
        "tool_suggester",
        "output_reformulator",
        "planner",
        "decision_verifier",
        "memory",
    ]  # no configuration: the full pool (no lessons to give)
    override = fama_settings("dynamic", config, helpers=["constraints_extractor"])
    assert pool(override) == ["constraints_extractor"]
    with pytest.raises(ValueError, match="unknown helpers: \\['oracle'\\]"):
        fama_settings("dynamic", config, helpers=["oracle"])


def test_taxonomy_comes_from_the_configuration() -> None:
    config = analysed(["memory"], categories=counted(premature_closure=4))
    taxonomy = {e["id"]: e["count"] for e in fama_settings("static", config).taxonomy}
    assert taxonomy["premature_closure"] == 4 and taxonomy["policy_violation"] == 0


def test_memory_window_per_domain_without_a_configuration() -> None:
    assert fama_settings("all", environment="tau2:retail").params("memory")["k"] == 6
    assert fama_settings("all", environment="tau2:airline").params("memory")["k"] == 2
    assert fama_settings("all", environment="acebench:multi_turn").params("memory")["k"] == 4


def lesson_config(mode_helpers: list[str], trigger: str) -> FamaConfig:
    return analysed(
        mode_helpers,
        categories=counted(premature_closure=5),
        mitigations=[
            CategoryMitigation(category="premature_closure", lesson=LESSON, triggers=[trigger])
        ],
    )


async def run(ctx: Any, mode: FamaMode, config: FamaConfig | None) -> Any:
    fama = replace(ctx, fama=fama_settings(mode, config))
    return await run_episode(fama, agent_node=FamaDecisions())


async def test_a_discovered_category_is_signalled_and_its_lesson_injected() -> None:
    ctx = context(
        [GET, "It is pending. Anything else?"],
        ["What is the status of order #W7301126?", "Thanks ###STOP###"],
    )
    result = await run(ctx, "dynamic", lesson_config(["lessons", "memory"], "tool_error"))
    prompts = agent_prompts(ctx)
    assert all(LESSON not in system_text(p) for p in prompts)  # no tool error: not signalled

    ctx = context(
        [GET, "It is pending. Anything else?"],
        ["What is the status of order #W7301126?", "Thanks ###STOP###"],
    )
    result = await run(ctx, "dynamic", lesson_config(["lessons", "memory"], "always"))
    prompts = agent_prompts(ctx)
    assert all("[lessons] Lessons from earlier failures" in system_text(p) for p in prompts)
    assert LESSON in system_text(prompts[0])
    first = result.extra["fama_decisions"][0]["diagnosis"]
    assert first["drivers"] == {"lessons": ["premature_closure"]}
    assert {"name": "always", "category": "premature_closure", "helper": "lessons"} in first[
        "signals"
    ]


async def test_static_mode_injects_every_lesson() -> None:
    ctx = context(["It is pending."], ["Status of #W7301126?", "Thanks ###STOP###"])
    await run(ctx, "static", lesson_config(["lessons"], "tool_error"))
    assert LESSON in system_text(agent_prompts(ctx)[0])


class RecordingModel(ScriptedChatModel):
    """A scripted model that also keeps the keyword arguments of each call."""

    kwargs: list[dict[str, Any]] = Field(default_factory=list)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Any:
        self.kwargs.append(kw)
        return super()._generate(messages, stop, run_manager, **kw)


@pytest.mark.parametrize(
    ("helper", "reply", "shown"),
    [
        (
            "constraints_extractor",
            "- Get an explicit yes before cancelling.",
            "Policy rules that apply to this step:",
        ),
        (
            "tool_suggester",
            "- get_order_details(order_id=#W7301126): check the status",
            "Tools that fit the next step:",
        ),
    ],
)
async def test_agent_variants_call_the_helper_model_with_a_budgeted_prompt(
    helper: str, reply: str, shown: str
) -> None:
    ctx = context(["It is pending."], ["Status of order #W7301126?", "Thanks ###STOP###"])
    helper_model = RecordingModel([reply])
    ctx = replace(ctx, helper_model=helper_model)
    config = analysed([helper], params={helper: {"impl": "llm"}})
    result = await run(ctx, "static", config)
    assert len(helper_model.calls) == 1
    prompt = str(helper_model.calls[0][0].content)
    assert "Status of order #W7301126?" in prompt and "words in all" in prompt
    if helper == "constraints_extractor":
        assert "Only pending orders can be cancelled" in prompt  # the policy is read
    else:
        assert "get_order_details(order_id)" in prompt  # the tool signatures are read
    max_tokens = helper_model.kwargs[0]["max_tokens"]
    share = 500 * 4  # the whole budget goes to the only active helper
    assert 16 <= max_tokens <= share // 4
    guidance = system_text(agent_prompts(ctx)[0])
    assert shown in guidance and reply in guidance
    assert [c["node"] for c in result.llm_calls] == [f"helper:{helper}", "agent"]
    names = prompt_names(fama_settings("static", config))
    assert f"helper_{helper}_llm" in names


async def test_an_answer_of_none_gives_no_guidance() -> None:
    ctx = context(["It is pending."], ["Status of order #W7301126?", "Thanks ###STOP###"])
    ctx = replace(ctx, helper_model=ScriptedChatModel(["NONE"]))
    config = analysed(["tool_suggester"], params={"tool_suggester": {"impl": "llm"}})
    await run(ctx, "static", config)
    assert "Tools that fit" not in system_text(agent_prompts(ctx)[0])


def test_bad_impl_values_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="impl must be one of rules, llm"):
        fama_settings("static", analysed(["memory"], params={"memory": {"impl": "agent"}}))
    with pytest.raises(ValueError, match="memory has no agent variant"):
        fama_settings("static", analysed(["memory"], params={"memory": {"impl": "llm"}}))


async def test_a_write_is_refused_at_once_with_no_redecisions() -> None:
    env = OrderEnv()
    ctx = context(
        [GET, CANCEL, "I could not cancel it without your confirmation."],
        ["Cancel order #W7301126, no longer needed.", "Thanks ###STOP###"],
        env=env,
    )
    config = analysed(["decision_verifier"], params={"decision_verifier": {"llm_check": False}})
    fama = replace(ctx, fama=fama_settings("static", config, max_redecisions=0))
    result = await run_episode(fama, agent_node=FamaDecisions())
    assert env.cancelled == []
    gates = [d["diagnosis"].get("write_gate") for d in result.extra["fama_decisions"]]
    assert gates == [None, "refused", None]
    assert result.tool_errors == 1 and result.termination == "user_stop"


def test_fama_over_the_react_node() -> None:
    setup = agent_setup("fama", mode="all", tool_use="react")
    assert isinstance(setup.node, FamaDecisions) and setup.node.tool_use_node is not None
    assert "react_agent" in {r["name"] for r in setup.prompt_refs}
    with pytest.raises(ValueError, match="unknown tool use"):
        agent_setup("fama", mode="all", tool_use="chain")


def test_compare_and_view_flag_a_run_that_is_not_held_out(tmp_path: Path) -> None:
    from fama.runs.compare import build_comparison
    from fama.runs.compare_render import render_markdown
    from fama.runs.store import RunStore
    from fama.view.model import run_header
    from tests.test_compare import episode

    warning = "c.json was derived from 1 of the 2 evaluated tasks (5)"
    with RunStore(tmp_path / "runs.sqlite") as store:
        for run_id, extra in (("base", {}), ("fama", {"fairness_warning": warning})):
            config = {"env": "tau2:retail", "agent": "fc", "model": "m", "split": "test", **extra}
            store.create_or_resume_run(run_id, config, [])
            store.save_episode(run_id, episode(run_id, "5", 0, 1.0))
        comparison = build_comparison(store, ["base", "fama"])
        header = dict(run_header(store.load_run("fama"))["fields"])
        plain = dict(run_header(store.load_run("base"))["fields"])
    assert f"NOT HELD-OUT: run fama ran with --allow-overlap: {warning}." in render_markdown(
        comparison
    )
    assert "NOT HELD-OUT: run base" not in render_markdown(comparison)
    assert header["NOT HELD-OUT"] == f"--allow-overlap: {warning}"
    assert "NOT HELD-OUT" not in plain
