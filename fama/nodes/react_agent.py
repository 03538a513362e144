"""The ReAct text agent: "Thought: ...\\nAction: {json}" parsed into a tool call or a reply.

The model gets no native tools: their schemas are listed in its system prompt (render it with
``render_react_system_prompt`` and pass it as ``EpisodeContext.system_prompt``). The action
``respond`` (``{"name": "respond", "arguments": {"content": ...}}``) messages the user; any
other name is a tool call (unknown names get the environment's not-found error).

In the trajectory a tool action is an ``AIMessage`` whose content is the raw model output and
whose ``tool_calls`` hold the parsed call; a ``respond`` action is an ``AIMessage`` whose content
is the message to the user (raw output kept in ``additional_kwargs["react_raw"]``). Tool results
are shown to the model as ``API output: ...`` user turns; the user's own tool use is hidden
(``agent_view``). Output that cannot be parsed, or was cut at the output limit, is not put into
the trajectory: it counts as one step and one error and the model is asked again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.runtime import Runtime

from fama.core.context import EpisodeContext, EpisodeLoopState
from fama.core.views import agent_view
from fama.llm.call import call_model
from fama.nodes.fc_agent import (
    AGENT_NODE,
    decision_prompt,
    decision_update,
    issue,
    truncation,
    unusable_reply_update,
)
from fama.prompts import PromptSet

RESPOND = "respond"
PROMPT_NAME = "react_agent"
_ACTION = "Action:"
_THOUGHT = "Thought:"
_RAW_KEY = "react_raw"


class ReactParseError(ValueError):
    """Model output that is not a well-formed Thought/Action."""


@dataclass(frozen=True, slots=True)
class ReactAction:
    """One parsed action."""

    thought: str
    name: str
    arguments: dict[str, Any]


def render_react_system_prompt(
    policy: str, tools: Sequence[BaseTool], prompts: PromptSet | None = None
) -> str:
    """The ReAct system prompt: instructions, policy and the tools' JSON schemas."""
    if any(t.name == RESPOND for t in tools):
        raise ValueError(f"a tool may not be named {RESPOND!r}: it is the ReAct reply action")
    schemas = json.dumps([convert_to_openai_tool(t) for t in tools])
    prompt = (prompts or PromptSet.defaults())[PROMPT_NAME]
    return prompt.render(policy=policy, tools=schemas)


def _strip_fence(text: str) -> str:
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


def parse_react_output(text: str) -> ReactAction:
    """Parse the last ``Action:`` of a reply; raise ``ReactParseError`` saying what is wrong."""
    at = text.rfind(_ACTION)
    if at < 0:
        raise ReactParseError("no 'Action:' line was found")
    thought = text[:at].strip()
    thought = thought.removeprefix(_THOUGHT).strip()
    body = _strip_fence(text[at + len(_ACTION) :].strip())
    start = body.find("{")
    if start < 0:
        raise ReactParseError("the Action is not a JSON object")
    try:
        obj, _ = json.JSONDecoder().raw_decode(body, start)
    except json.JSONDecodeError as exc:
        raise ReactParseError(f"the Action is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ReactParseError("the Action's JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with too many digits
        raise ReactParseError(f"the Action is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ReactParseError("the Action is not a JSON object")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ReactParseError('the Action has no "name" string')
    arguments = obj.get("arguments", {})
    if not isinstance(arguments, dict):
        raise ReactParseError('the Action\'s "arguments" is not a JSON object')
    if name == RESPOND:
        content = arguments.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ReactParseError('the respond Action needs a non-empty "content" string')
    return ReactAction(thought=thought, name=name, arguments=arguments)


def _action_line(name: str, arguments: dict[str, Any]) -> str:
    return f"{_ACTION} {json.dumps({'name': name, 'arguments': arguments})}"


def _as_react_text(message: AIMessage) -> str:
    """How one of the agent's own messages looks in the ReAct format."""
    raw = message.additional_kwargs.get(_RAW_KEY)
    if isinstance(raw, str):
        return raw
    if message.tool_calls:
        if _ACTION in message.text:
            return message.text
        return "\n".join(_action_line(tc["name"], tc["args"]) for tc in message.tool_calls)
    return _action_line(RESPOND, {"content": message.text})


def _to_react(message: BaseMessage) -> BaseMessage | None:
    if isinstance(message, AIMessage):
        return AIMessage(content=_as_react_text(message))
    if isinstance(message, ToolMessage):
        return HumanMessage(content=f"API output: {message.text}")
    if isinstance(message, HumanMessage):
        return HumanMessage(content=message.text)
    return None


# id(source) -> (source, converted): trajectory messages are immutable, so each is converted
# once instead of at every decision (the source is kept so its id cannot be reused meanwhile).
_VIEW_MEMO: dict[int, tuple[BaseMessage, BaseMessage | None]] = {}
_VIEW_MEMO_SIZE = 50_000


def react_view(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The trajectory as the ReAct model sees it (no native tool messages)."""
    view: list[BaseMessage] = []
    for message in messages:
        hit = _VIEW_MEMO.get(id(message))
        if hit is not None and hit[0] is message:
            converted = hit[1]
        else:
            converted = _to_react(message)
            if len(_VIEW_MEMO) >= _VIEW_MEMO_SIZE:
                del _VIEW_MEMO[next(iter(_VIEW_MEMO))]
            _VIEW_MEMO[id(message)] = (message, converted)
        if converted is not None:
            view.append(converted)
    return view


def action_message(raw: str, action: ReactAction, call_id: str) -> AIMessage:
    """The trajectory message of a parsed action."""
    if action.name == RESPOND:
        return AIMessage(content=action.arguments["content"], additional_kwargs={_RAW_KEY: raw})
    call = {"id": call_id, "name": action.name, "args": action.arguments, "type": "tool_call"}
    return AIMessage(content=raw, tool_calls=[call])


async def react_agent_node(
    state: EpisodeLoopState, runtime: Runtime[EpisodeContext]
) -> dict[str, Any]:
    """One decision of the ReAct agent."""
    started = time.perf_counter()
    ctx = runtime.context
    prompt = decision_prompt(
        ctx.system_prompt,
        react_view(agent_view(state["messages"])),
        state,
        "react_retry_note",
        ctx.prompts,
    )
    reply, call = await call_model(
        ctx.agent_model,
        prompt,
        node=AGENT_NODE,
        retries=ctx.retry,
        max_tokens=ctx.output_limits.for_node(AGENT_NODE),
    )
    truncated = truncation(state, ctx, call)
    if truncated is not None:
        return unusable_reply_update(state, ctx, truncated, [call], [], started)
    raw = reply.text
    try:
        action = parse_react_output(raw)
    except ReactParseError as exc:
        bad = issue(state, "unparseable", str(exc))
        return unusable_reply_update(state, ctx, bad, [call], [], started)
    message = action_message(raw, action, call_id=f"react_{len(state['messages'])}")
    return decision_update(state, message, [call], [], started)
