"""Tool calls that small models write as text, and a JSON-schema constrained decision mode.

Small Qwen2.5-Coder models often answer a tool call as text: ``<tool_call>{...}</tool_call>``
tags the server did not parse, a fenced ```` ```json ```` block, bare ``{"name": ...,
"arguments": ...}`` JSON (one per line, or a JSON list), sometimes with the chat template's
doubled braces ``{{...}}`` or Python-literal quoting. ``recover_tool_calls`` turns such text
into real tool calls and reports what it repaired or rejected.

``constrained_decision`` avoids the problem: it sends no tools, lists their schemas in the
system prompt and asks the server for a JSON object matching an ``anyOf`` of one branch per
tool plus a ``respond`` action (OpenAI ``response_format`` json_schema, which llama.cpp
enforces with a grammar), then maps the object to a tool call or a message.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolCall
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from fama.core.retry import RetryPolicy
from fama.core.state import LLMCall
from fama.llm.call import call_model

RESPOND_ACTION = "respond"
ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
_TAG_RE = re.compile(r"</?tool_call>")
_FENCE_RE = re.compile(r"```[A-Za-z0-9_-]*")
_CALL_START_RE = re.compile(r"""\{\s*\{?\s*["']name["']\s*:""")
_MAX_SNIPPET = 80


@dataclass(frozen=True)
class RepairResult:
    """The (possibly rewritten) message, whether calls were recovered, and what was dropped."""

    message: AIMessage
    repaired: bool
    rejected: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Found:
    """One JSON value found in the text with its span, or a call that could not be parsed."""

    start: int
    end: int
    value: Any
    problem: str | None = None


def recover_tool_calls(message: AIMessage, tool_names: Iterable[str]) -> RepairResult:
    """Turn tool calls written as text in ``message`` into real ``tool_calls``.

    A message that already has tool calls is returned unchanged. Candidates naming a tool
    not in ``tool_names``, with non-object arguments, or that are not valid JSON are
    rejected (with a reason) and their text stays in the message. Recovered calls get
    fresh ids; the text around them stays as the message content.
    """
    if message.tool_calls:
        return RepairResult(message=message, repaired=False)
    text = message.text
    names = set(tool_names)
    calls: list[ToolCall] = []
    rejected: list[str] = []
    used: list[tuple[int, int]] = []
    for found in _find_json_values(text):
        if found.problem is not None:
            rejected.append(found.problem)
            continue
        candidates = found.value if isinstance(found.value, list) else [found.value]
        parsed = [_as_call(c) for c in candidates]
        if not candidates or any(p is None for p in parsed):
            continue  # JSON that is not (a list of) tool calls: leave it as text
        accepted = []
        for name, args in (p for p in parsed if p is not None):
            problem = _call_problem(name, args, names)
            if problem:
                rejected.append(problem)
            else:
                accepted.append(_tool_call(name, args))
        if accepted:
            calls.extend(accepted)
            used.append((found.start, found.end))
    if not calls:
        return RepairResult(message=message, repaired=False, rejected=rejected)
    rest = _leftover_text(text, used)
    repaired = message.model_copy(
        update={"content": rest, "tool_calls": calls, "invalid_tool_calls": []}
    )
    return RepairResult(message=repaired, repaired=True, rejected=rejected)


def _find_json_values(text: str) -> list[_Found]:
    """Every top-level JSON object/list in ``text`` (tolerating doubled braces and Python
    literals), in text order, plus a problem entry for each call-like fragment that cannot
    be parsed (a ``{{`` start is left to the inner ``{``, which is examined next)."""
    found: list[_Found] = []
    decoder = json.JSONDecoder()
    pos = 0
    while pos < len(text):  # each turn moves pos forward
        starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value, end = _lenient_decode(text, start)
            if value is None:
                if _CALL_START_RE.match(text, start) and not text.startswith("{{", start):
                    snippet = text[start : start + _MAX_SNIPPET].replace("\n", " ")
                    problem = f"malformed tool call JSON: {snippet!r}"
                    found.append(_Found(start, start, None, problem))
                pos = start + 1
                continue
        found.append(_Found(start, end, value))
        pos = end
    return found


def _lenient_decode(text: str, start: int) -> tuple[Any, int]:
    """Decode the balanced ``{...}`` at ``start`` after collapsing doubled braces, or as a
    Python literal; ``(None, start)`` when neither works."""
    if text[start] != "{":
        return None, start
    end = _balanced_end(text, start)
    if end is None:
        return None, start
    segment = text[start:end]
    collapsed = segment.replace("{{", "{").replace("}}", "}")
    for attempt in (collapsed, segment):
        try:
            return json.loads(attempt), end
        except json.JSONDecodeError:
            pass
        try:
            value = ast.literal_eval(attempt)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return value, end
    return None, start


def _balanced_end(text: str, start: int) -> int | None:
    """Index after the brace closing the one at ``start`` (quotes respected), if any."""
    depth = 0
    quote: str | None = None
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _as_call(value: Any) -> tuple[str, Any] | None:
    """``(name, raw arguments)`` if ``value`` looks like a tool call, else None.

    Accepts ``{"name", "arguments"|"parameters"|"args"|"input"}`` and the OpenAI form
    ``{"function": {"name", "arguments"}}``; a call without arguments gets ``{}``.
    """
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict) and "name" not in value:
        value = value["function"]
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return None
    for key in ARGUMENT_KEYS:
        if key in value:
            return name, value[key]
    extra = set(value) - {"name", "type", "id"}
    return (name, {}) if not extra else None


def _call_problem(name: str, args: Any, tool_names: set[str]) -> str | None:
    """Why a candidate call cannot be used, or None when it can (``args`` must be a dict
    after ``_decode_args``; a string is decoded in place by the caller)."""
    if name not in tool_names:
        return f"unknown tool {name!r} (known: {', '.join(sorted(tool_names))})"
    if not isinstance(_decode_args(args), dict):
        return f"arguments of {name!r} are not a JSON object: {str(args)[:_MAX_SNIPPET]!r}"
    return None


def _decode_args(args: Any) -> Any:
    """Arguments given as a JSON string are decoded; ``None`` means no arguments."""
    if args is None:
        return {}
    if isinstance(args, str):
        try:
            return json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return args
    return args


def _tool_call(name: str, args: Any) -> ToolCall:
    decoded = _decode_args(args)
    return ToolCall(name=name, args=decoded, id=f"call_{uuid.uuid4().hex[:24]}", type="tool_call")


def _leftover_text(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without the recovered calls, their tags and fences; "" if only punctuation."""
    pieces, pos = [], 0
    for start, end in sorted(spans):
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    rest = _FENCE_RE.sub("", _TAG_RE.sub("", "".join(pieces)))
    rest = "\n".join(line.rstrip() for line in rest.strip().splitlines() if line.strip())
    return rest if any(ch.isalnum() for ch in rest) else ""


# --- constrained decisions -------------------------------------------------------------


def action_schema(tool_schemas: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """JSON schema of one action: ``anyOf`` one ``{name: const, arguments}`` branch per
    OpenAI function schema, plus ``respond`` with ``{"message": str}``.

    ``$defs`` of the tools' parameters are hoisted to the root (renamed per tool when two
    tools define the same name differently) so that ``#/$defs/...`` references resolve.
    """
    branches: list[dict[str, Any]] = []
    defs: dict[str, Any] = {}
    for schema in tool_schemas:
        function = schema.get("function", schema)
        name = function["name"]
        if name == RESPOND_ACTION:
            raise ValueError(f"a tool may not be named {RESPOND_ACTION!r} in constrained mode")
        params = json.loads(json.dumps(function.get("parameters") or {"type": "object"}))
        params = _hoist_defs(params, defs, prefix=name)
        branches.append(_branch(name, params))
    respond = {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    }
    branches.append(_branch(RESPOND_ACTION, respond))
    result: dict[str, Any] = {"anyOf": branches}
    if defs:
        result["$defs"] = defs
    return result


def _branch(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"const": name}, "arguments": arguments},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def _hoist_defs(params: dict[str, Any], defs: dict[str, Any], *, prefix: str) -> dict[str, Any]:
    local = params.pop("$defs", None) or params.pop("definitions", None) or {}
    renames: dict[str, str] = {}
    for def_name, definition in local.items():
        target = def_name
        if def_name in defs and defs[def_name] != definition:
            target = f"{prefix}__{def_name}"
        renames[def_name] = target
    for def_name, definition in local.items():
        defs[renames[def_name]] = _rewrite_refs(definition, renames)
    rewritten: dict[str, Any] = _rewrite_refs(params, renames)
    return rewritten


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    """Point local ``$ref``s at the root ``$defs`` under their (possibly new) names."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                ref_name = value.rsplit("/", 1)[-1]
                out[key] = f"#/$defs/{renames.get(ref_name, ref_name)}"
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def action_instructions(tool_schemas: Sequence[Mapping[str, Any]]) -> str:
    """System-prompt text describing the tools and the JSON action format."""
    lines = [
        "# Actions",
        "Answer every turn with exactly one JSON object and nothing else:",
        '{"name": <action name>, "arguments": <JSON object>}.',
        f'To write to the user, use {{"name": "{RESPOND_ACTION}", "arguments": '
        '{"message": <your message>}}.',
        "To call a tool, use its name and arguments. The tools are:",
    ]
    for schema in tool_schemas:
        function = schema.get("function", schema)
        entry = {
            "name": function["name"],
            "description": function.get("description", ""),
            "parameters": function.get("parameters", {}),
        }
        lines.append(json.dumps(entry, ensure_ascii=False))
    return "\n".join(lines)


def _with_instructions(messages: Sequence[BaseMessage], text: str) -> list[BaseMessage]:
    """Append ``text`` to the leading system message (Qwen's template accepts only one
    system message, at the start), or add one."""
    out = list(messages)
    if out and isinstance(out[0], SystemMessage):
        out[0] = SystemMessage(content=f"{out[0].text}\n\n{text}")
    else:
        out.insert(0, SystemMessage(content=text))
    return out


async def constrained_decision(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    tools: Sequence[BaseTool | Mapping[str, Any]],
    *,
    node: str = "agent",
    retries: RetryPolicy | None = None,
    max_tokens: int | None = None,
) -> tuple[AIMessage, LLMCall, RepairResult]:
    """One agent decision forced into JSON: a tool call or a message to the user.

    The reply must match ``action_schema(tools)``; a reply that still does not (a server
    without schema support) goes through ``recover_tool_calls`` and, failing that, is kept
    as text with the problem in ``RepairResult.rejected``. ``max_tokens`` overrides the model's
    output limit for this call.
    """
    schemas = [dict(t) if isinstance(t, Mapping) else convert_to_openai_tool(t) for t in tools]
    names = {s.get("function", s)["name"] for s in schemas}
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "action", "schema": action_schema(schemas)},
    }
    prompt = _with_instructions(messages, action_instructions(schemas))
    bound = model.bind(response_format=response_format)
    reply, call = await call_model(
        bound, prompt, node=node, retries=retries or RetryPolicy(), max_tokens=max_tokens
    )
    result = _map_action(reply, names)
    return result.message, call, result


def _map_action(reply: AIMessage, names: set[str]) -> RepairResult:
    """Turn a JSON action reply into a tool call or a text message."""
    text = reply.text.strip()
    try:
        action = json.loads(text)
    except json.JSONDecodeError:
        action = None
    parsed = _as_call(action)
    if parsed is not None and parsed[0] == RESPOND_ACTION:
        args = _decode_args(parsed[1])
        message = args.get("message") if isinstance(args, dict) else None
        if isinstance(message, str):
            return RepairResult(
                message=reply.model_copy(update={"content": message}), repaired=False
            )
    if parsed is not None:
        name, args = parsed
        problem = _call_problem(name, args, names)
        if problem is None:
            call = _tool_call(name, args)
            message = reply.model_copy(update={"content": "", "tool_calls": [call]})
            return RepairResult(message=message, repaired=False)
        return RepairResult(message=reply, repaired=False, rejected=[problem])
    fallback = recover_tool_calls(reply, names)
    if fallback.repaired:
        return fallback
    detail = f"reply is not a JSON action: {text[:_MAX_SNIPPET]!r}"
    return RepairResult(message=reply, repaired=False, rejected=[*fallback.rejected, detail])
