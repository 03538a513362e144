"""Tool suggester: the tools that fit the next step, with their arguments (no model call).

Tools are ranked by BM25 overlap of their name and description with the user's recent
requests, the agent's latest text and the field names of the latest tool output. When the
latest tool call failed, the failed tool's arguments are spelled out with their descriptions,
since wrong or missing arguments are the usual cause; a failed call of a tool that does not
exist gets the list of the tools that do, and a failed call sent again unchanged is pointed out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from fama.core.repeats import failing_repeats
from fama.helpers.base import HelperEnv, HelperInput, HelperSpec, HelperUpdate, guidance
from fama.helpers.text import bm25, clip, message_text, one_line, parse_json, tokens

NAME = "tool_suggester"
PROMPT = "helper_tool_suggester"

SPEC = HelperSpec(
    name=NAME,
    description="Tool suggester: before each decision, names the one or two tools that fit "
    "the next step with their arguments, and spells out a tool's arguments after a failed "
    "call. Facilitates choosing the right tool and retrieving the right fields.",
    addresses=frozenset({"wrong_retrieval"}),
    uses_llm=False,
    default_params={"tools": 2, "impl": "rules"},  # impl llm: the agent variant
    typical_tokens=80,
    prompts=(PROMPT, "helper_tool_suggester_llm"),  # the second: impl llm
)


def _parameters(tool: BaseTool) -> dict[str, Any]:
    return dict(convert_to_openai_tool(tool)["function"].get("parameters") or {})


def signature(tool: BaseTool) -> str:
    """``name(required, args, optional?)`` of a tool."""
    params = _parameters(tool)
    required = set(params.get("required", []))
    names = [n if n in required else f"{n}?" for n in params.get("properties", {})]
    return f"{tool.name}({', '.join(names)})"


def summary(tool: BaseTool, max_chars: int = 110) -> str:
    """The first sentence of a tool's description."""
    first = one_line(tool.description).split(". ")[0]
    return clip(first, max_chars)


def argument_help(tool: BaseTool, max_chars: int = 160) -> list[str]:
    """One line per argument: name, type and description."""
    lines: list[str] = []
    for name, schema in _parameters(tool).get("properties", {}).items():
        kind = schema.get("type", "any")
        text = one_line(str(schema.get("description", "")))
        lines.append(clip(f"{name} ({kind}): {text}" if text else f"{name} ({kind})", max_chars))
    return lines


def _keys(value: Any, found: set[str], depth: int = 0) -> None:
    if depth > 3:
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            found.add(str(key))
            _keys(inner, found, depth + 1)
    elif isinstance(value, list):
        for inner in value[:5]:
            _keys(inner, found, depth + 1)


def next_step_query(messages: Sequence[AnyMessage]) -> dict[str, float]:
    """Tokens of the latest user request, the agent's latest text and the last output's keys."""
    query: defaultdict[str, float] = defaultdict(float)
    seen_user = seen_agent = seen_tool = False
    for message in reversed(messages):
        if isinstance(message, HumanMessage) and not seen_user:
            for token in tokens(message_text(message)):
                query[token] = 2.0
            seen_user = True
        elif isinstance(message, AIMessage) and not seen_agent and message_text(message).strip():
            for token in set(tokens(message_text(message))):
                query[token] += 0.5
            seen_agent = True
        elif isinstance(message, ToolMessage) and not seen_tool:
            found: set[str] = set()
            _keys(parse_json(message_text(message)), found)
            for token in tokens(" ".join(found)):
                query[token] += 0.5
            seen_tool = True
        if seen_user:
            break
    return dict(query)


def rank_tools(tools: Sequence[BaseTool], query: Mapping[str, float]) -> list[BaseTool]:
    """Tools with a positive score, best first (ties keep the environment's order)."""
    documents = [tokens(f"{t.name} {t.name} {summary(t, 400)}") for t in tools]
    scores = bm25(query, documents)
    order = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: -scores[i])
    return [tools[i] for i in order]


def failed_call(messages: Sequence[AnyMessage]) -> str | None:
    """The tool name of the latest result when it was an error."""
    last = messages[-1] if messages else None
    if isinstance(last, ToolMessage) and last.status == "error":
        return last.name
    return None


async def run(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
    """Guidance naming the best-fitting tools (and the failed tool's arguments)."""
    messages = inp["messages"]
    by_name = {t.name: t for t in env.tools}
    lines: list[str] = []
    failed = failed_call(messages)
    if failed in by_name:
        tool = by_name[failed]
        lines.append(f"- {signature(tool)} failed; its arguments:")
        lines.extend(f"  - {line}" for line in argument_help(tool))
    elif failed:
        lines.append(f"- {failed} is not one of your tools; they are: {', '.join(by_name)}")
    repeats = failing_repeats(messages)
    if repeats.count >= 2:
        lines.append(
            f"- {repeats.calls} failed {repeats.count} times in a row: do not send it again "
            "unchanged"
        )
    ranked = [t for t in rank_tools(env.tools, next_step_query(messages)) if t.name != failed]
    lines.extend(f"- {signature(t)}: {summary(t)}" for t in ranked[: int(env.params["tools"])])
    if not lines:
        return guidance(NAME, "")
    text = env.prompts[PROMPT].render(tools="\n".join(lines))
    return guidance(NAME, text, inp["max_chars"])
