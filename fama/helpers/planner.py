"""Planner: a short numbered plan of the user's requests so far (one model call per user turn).

The plan is written by the helper model from the user's messages and the agent's actions,
cached in the episode's FAMA record (``diagnosis``) and refreshed only when a new user
message has arrived; in between, the cached plan is injected at no model cost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

from fama.helpers.base import (
    HelperEnv,
    HelperInput,
    HelperSpec,
    HelperUpdate,
    guidance,
    llm_node,
)
from fama.helpers.text import clip, message_text, one_line, strip_thinking, user_messages
from fama.llm.call import call_model

NAME = "planner"
PROMPT = "helper_planner"
GUIDANCE_PROMPT = "helper_planner_guidance"
MAX_ACTIONS = 12

SPEC = HelperSpec(
    name=NAME,
    description="Planner: keeps a short numbered plan of every request the user has made "
    "(refreshed by the model when a new user message arrives) and injects it before each "
    "decision. Facilitates understanding what the user wants and finishing every request "
    "instead of stopping early.",
    addresses=frozenset({"contextual_misinterpretation", "incomplete_fulfilment"}),
    uses_llm=True,
    default_params={"max_steps": 5, "max_message_chars": 300, "max_plan_chars": 500},
    typical_tokens=110,
    prompts=(PROMPT, GUIDANCE_PROMPT),
)


def agent_actions(messages: Sequence[AnyMessage]) -> list[str]:
    """The agent's tool calls with their outcome, oldest first (the last few)."""
    outcome = {
        m.tool_call_id: ("error" if m.status == "error" else "ok")
        for m in messages
        if isinstance(m, ToolMessage)
    }
    actions = [
        f"{call['name']}({json.dumps(call['args'], separators=(',', ':'))}) -> "
        f"{outcome.get(call.get('id') or '', 'pending')}"
        for m in messages
        if isinstance(m, AIMessage)
        for call in m.tool_calls
    ]
    return actions[-MAX_ACTIONS:]


async def make_plan(messages: Sequence[AnyMessage], env: HelperEnv) -> tuple[str, HelperUpdate]:
    """Ask the helper model for a fresh plan; returns it with the usage record."""
    if env.model is None:
        raise ValueError("the planner needs a helper model")
    limit = int(env.params["max_message_chars"])
    requests = "\n".join(
        f"{n}. {clip(one_line(message_text(m)), limit)}"
        for n, m in enumerate(user_messages(messages), start=1)
    )
    prompt = env.prompts[PROMPT].render(
        max_steps=int(env.params["max_steps"]),
        requests=requests,
        actions="\n".join(agent_actions(messages)) or "(none yet)",
        tools=", ".join(t.name for t in env.tools),
    )
    reply, call = await call_model(
        env.model,
        [HumanMessage(content=prompt)],
        node=llm_node(NAME),
        retries=env.retries,
        max_tokens=env.max_output_tokens(NAME),
    )
    plan = clip(strip_thinking(message_text(reply)), int(env.params["max_plan_chars"]))
    return plan, {"guidance": [], "llm_calls": [call]}


async def run(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
    """Guidance with the (cached or refreshed) plan."""
    turns = len(user_messages(inp["messages"]))
    if turns == 0:
        return guidance(NAME, "")
    record = inp["diagnosis"]
    plan = record.get("plan")
    update: HelperUpdate = {"guidance": []}
    if not isinstance(plan, str) or record.get("plan_user_turns") != turns:
        plan, update = await make_plan(inp["messages"], env)
        update["diagnosis"] = {"plan": plan, "plan_user_turns": turns}
    if plan:
        text = env.prompts[GUIDANCE_PROMPT].render(plan=plan)
        update["guidance"] = guidance(NAME, text, inp["max_chars"])["guidance"]
    return update
