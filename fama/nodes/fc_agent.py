"""The native function-calling tool-use node, and what every tool-use node shares.

One call of the node is one agent decision: the model sees the system prompt, the trajectory
(its ``agent_view``: without the user's own tool use) and, for this decision only, FAMA's
guidance and a note about an unusable previous reply, and answers with a message to the user
or tool calls (``tool_choice="auto"``).

``ctx.tool_call_mode`` selects how tool calls are obtained: ``native`` (as the server parsed
them), ``tolerant`` (a reply without tool calls goes through ``recover_tool_calls``, which finds
calls written as text; a call naming an unknown tool is kept, so the environment answers with
its unknown-tool error) or ``constrained`` (``constrained_decision``: the server must answer
with one JSON action). Repairs are recorded as ``agent_issues``.

An empty reply (no text, no tool calls) is not put into the trajectory: it counts as one step
and one error (so a model that keeps answering nothing ends with ``too_many_errors``, scored 0)
and the agent is asked again, with a note saying what was wrong. A reply cut at the agent's
output limit (``finish_reason == "length"``: it ran on, e.g. writing tool results itself) is
handled the same way, as a ``truncated`` issue. ``max_repeated_calls`` unusable replies of one
kind in a row to an unchanged conversation end the episode as ``repeated_call``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from fama.core.context import AgentIssue, EpisodeContext, EpisodeLoopState, IssueKind
from fama.core.state import Guidance, LLMCall, NodeTiming
from fama.core.steps import UNUSABLE_REPLIES, count_steps
from fama.core.views import agent_view
from fama.llm.call import call_model
from fama.prompts import PromptSet

if TYPE_CHECKING:
    from fama.llm.tool_call_repair import RepairResult

AGENT_NODE = "agent"
DECISION_NOTE_ID = "fama-decision-note"


def render_guidance(guidance: list[Guidance], prompts: PromptSet) -> str:
    """FAMA helpers' advice as one block for the model input ("" when there is none;
    items of helpers that failed carry no text and are left out)."""
    usable = [g for g in guidance if g["text"]]
    if not usable:
        return ""
    items = "\n".join(f"- [{g['helper']}] {g['text']}" for g in usable)
    return prompts["decision_guidance"].render(items=items)


def pending_problem(state: EpisodeLoopState) -> str | None:
    """What was wrong with the agent's previous reply, if it is being asked again now."""
    issues = state.get("agent_issues")
    if not issues:
        return None
    last = issues[-1]
    if last["kind"] in UNUSABLE_REPLIES and last["message_index"] == len(state["messages"]):
        return last["detail"]
    return None


def decision_prompt(
    system_prompt: str,
    history: Sequence[BaseMessage],
    state: EpisodeLoopState,
    retry_note: str,
    prompts: PromptSet,
) -> list[BaseMessage]:
    """The model input of this decision: system prompt, history, then this decision's notes.

    FAMA's guidance and a note on an unusable previous reply go into one trailing message,
    after the history, and never into the trajectory. Keeping the system prompt and history
    unchanged from decision to decision keeps the server's prompt (prefix) cache valid: on a
    CPU server re-reading a 6k-token prompt costs over a minute per decision. (A trailing
    user-role message is used because several chat templates, Qwen's among them, reject a
    system message anywhere but first.)
    """
    notes: list[str] = []
    advice = render_guidance(state.get("guidance") or [], prompts)
    if advice:
        notes.append(advice)
    problem = pending_problem(state)
    if problem is not None:
        notes.append(prompts[retry_note].render(problem=problem))
    prompt: list[BaseMessage] = [SystemMessage(content=system_prompt), *history]
    if notes:
        prompt.append(HumanMessage(content="\n\n".join(notes), id=DECISION_NOTE_ID))
    return prompt


def node_timing(started: float) -> NodeTiming:
    """Wall time of the agent node since ``started`` (a ``perf_counter`` value)."""
    return {"node": AGENT_NODE, "latency_ms": (time.perf_counter() - started) * 1000.0}


def issue(state: EpisodeLoopState, kind: IssueKind, detail: str) -> AgentIssue:
    """An agent issue attached to the current decision."""
    return {
        "node": AGENT_NODE,
        "kind": kind,
        "detail": detail,
        "message_index": len(state["messages"]),
    }


def decision_update(
    state: EpisodeLoopState,
    reply: AIMessage,
    calls: list[LLMCall],
    issues: list[AgentIssue],
    started: float,
) -> dict[str, Any]:
    """State update of a usable decision: the reply joins the trajectory."""
    update: dict[str, Any] = {
        "messages": [reply],
        "llm_calls": calls,
        "node_timings": [node_timing(started)],
    }
    if issues:
        update["agent_issues"] = issues
    return update


def same_unusable_replies(state: EpisodeLoopState, unusable: AgentIssue) -> int:
    """How many unusable replies of ``unusable``'s kind in a row, this one included, the
    agent gave to the same conversation (nothing new in between: the same model input)."""
    count = 1
    for earlier in reversed(state.get("agent_issues") or []):
        if earlier["kind"] not in UNUSABLE_REPLIES:
            continue  # repairs recorded in the same decisions
        if (earlier["kind"], earlier["message_index"]) != (
            unusable["kind"],
            unusable["message_index"],
        ):
            break
        count += 1
    return count


def unusable_reply_update(
    state: EpisodeLoopState,
    ctx: EpisodeContext,
    unusable: AgentIssue,
    calls: list[LLMCall],
    issues: list[AgentIssue],
    started: float,
) -> dict[str, Any]:
    """State update of an unusable reply: one step and one error, no message, limits checked.

    ``ctx.max_repeated_calls`` unusable replies of one kind in a row to the same input end the
    episode as ``repeated_call``: at temperature 0 the next ask would get the same reply.
    """
    steps = count_steps(state) + 1
    errors = state.get("tool_errors", 0) + 1
    found = [*issues, unusable]
    termination = ctx.limit_reached(steps, errors)
    repeats = same_unusable_replies(state, unusable)
    if termination is None and ctx.repeats_exhausted(repeats):
        termination = "repeated_call"
        found.append(
            issue(
                state,
                "repeated_call",
                f"{repeats} {unusable['kind']} replies in a row to the same conversation",
            )
        )
    update: dict[str, Any] = {
        "tool_errors": errors,
        "agent_issues": found,
        "llm_calls": calls,
        "node_timings": [node_timing(started)],
    }
    if termination is not None:
        update["termination"] = termination
    return update


def repair_issues(state: EpisodeLoopState, repair: RepairResult) -> list[AgentIssue]:
    """Issues recording what the tool-call repair did."""
    found: list[AgentIssue] = []
    if repair.repaired:
        names = ", ".join(tc["name"] for tc in repair.message.tool_calls) or "no tool call"
        unknown = f" (unknown: {', '.join(repair.unknown)})" if repair.unknown else ""
        found.append(issue(state, "repaired", f"recovered {names}{unknown} from the reply text"))
    if repair.rejected:
        found.append(issue(state, "rejected", "; ".join(repair.rejected)))
    return found


def truncation(state: EpisodeLoopState, ctx: EpisodeContext, call: LLMCall) -> AgentIssue | None:
    """A ``truncated`` issue when the reply was cut at the agent's output limit."""
    if call.get("finish_reason") != "length":
        return None
    limit = ctx.output_limits.for_node(AGENT_NODE)
    return issue(
        state,
        "truncated",
        f"the reply was cut off at the {limit}-token output limit (it ran on too long; "
        "do not write tool results yourself)",
    )


def is_empty(reply: AIMessage) -> bool:
    """True for a reply with neither text nor (valid or malformed) tool calls."""
    return not reply.tool_calls and not reply.invalid_tool_calls and not reply.text.strip()


async def fc_agent_node(
    state: EpisodeLoopState, runtime: Runtime[EpisodeContext]
) -> dict[str, Any]:
    """One decision of the native function-calling agent."""
    started = time.perf_counter()
    ctx = runtime.context
    prompt = decision_prompt(
        ctx.system_prompt, agent_view(state["messages"]), state, "fc_retry_note", ctx.prompts
    )
    issues: list[AgentIssue] = []
    call: LLMCall
    limit = ctx.output_limits.for_node(AGENT_NODE)
    if ctx.tool_call_mode == "constrained":
        from fama.llm.tool_call_repair import constrained_decision

        reply, call, repair = await constrained_decision(
            ctx.agent_model,
            prompt,
            ctx.tool_schemas,
            node=AGENT_NODE,
            retries=ctx.retry,
            max_tokens=limit,
        )
        issues.extend(repair_issues(state, repair))
    else:
        reply, call = await call_model(
            ctx.bound_agent_model, prompt, node=AGENT_NODE, retries=ctx.retry, max_tokens=limit
        )
    truncated = truncation(state, ctx, call)
    if truncated is not None:  # the repair of a cut reply is moot: the reply is not used
        return unusable_reply_update(state, ctx, truncated, [call], [], started)
    if ctx.tool_call_mode == "tolerant" and not reply.tool_calls:
        from fama.llm.tool_call_repair import recover_tool_calls_async

        repair = await recover_tool_calls_async(reply, ctx.tool_names, unknown_tools="call")
        reply = repair.message
        issues.extend(repair_issues(state, repair))
    if is_empty(reply):
        empty = issue(state, "empty_reply", "the reply was empty (no text and no tool call)")
        return unusable_reply_update(state, ctx, empty, [call], issues, started)
    return decision_update(state, reply, [call], issues, started)
