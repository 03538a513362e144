"""Tool calls that small models write as text, and a JSON-schema constrained decision mode.

Small Qwen2.5-Coder models often answer a tool call as text: ``<tool_call>{...}</tool_call>``
tags the server did not parse, a fenced ```` ```json ```` block, bare ``{"name": ...,
"arguments": ...}`` JSON (one per line, or a JSON list), sometimes with the chat template's
doubled braces ``{{...}}`` or Python-literal quoting. ``recover_tool_calls`` turns such text
into real tool calls and reports what it repaired or rejected.

The repair is bounded: a reply longer than ``MAX_REPLY_CHARS`` is not scanned, the brackets are
paired in one linear pass (``fama.llm.brackets``), regions nested deeper than ``MAX_DEPTH`` are
not parsed, the parsers read at most ``PARSE_BUDGET`` characters, at most ``MAX_CALLS`` calls
are taken from one reply and ``MAX_REJECTED`` reasons kept; every parse failure becomes a
rejection reason, never an exception.
``recover_tool_calls_async`` runs a long reply's repair in a worker thread so that the event
loop (every concurrent episode) keeps running.

``constrained_decision`` avoids the problem: it sends no tools, lists their schemas in the
system prompt and asks the server for a JSON object matching an ``anyOf`` of one branch per
tool plus a ``respond`` action (OpenAI ``response_format`` json_schema, which llama.cpp
enforces with a grammar), then maps the object to a tool call or a message.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolCall
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from fama.core.retry import RetryPolicy
from fama.core.state import LLMCall
from fama.llm.brackets import scan_brackets
from fama.llm.call import call_model

RESPOND_ACTION = "respond"
ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
MAX_REPLY_CHARS = 32_768  # longer replies are not scanned for calls (one rejection instead)
MAX_DEPTH = 32  # deeper JSON is not parsed (no tool schema nests that deep)
MAX_CALLS = 16  # calls taken from one reply; later candidates are rejected
MAX_REJECTED = 8  # rejection reasons kept per reply (then one "... more" entry)
PARSE_BUDGET = 4 * MAX_REPLY_CHARS  # characters of regions handed to the parsers per reply
INLINE_CHARS = 2_000  # replies up to this size are repaired on the event loop itself
_TAG_RE = re.compile(r"</?tool_call>")
_FENCE_RE = re.compile(r"```[A-Za-z0-9_-]*")
_CALL_START_RE = re.compile(r"""\{\s*\{?\s*["']name["']\s*:""")
_MAX_SNIPPET = 80
# what json / ast raise on bad, huge (int digits) or deep input
_PARSE_ERRORS = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)

UnknownTools = Literal["reject", "call"]


@dataclass(frozen=True)
class RepairResult:
    """The (possibly rewritten) message, whether calls were recovered, what was dropped, and
    the names of recovered calls that name no known tool (``unknown_tools="call"``)."""

    message: AIMessage
    repaired: bool
    rejected: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Found:
    """The calls one JSON value in the text describes, with its span, or why a region
    could not be used."""

    start: int
    end: int
    calls: list[_Candidate]
    problem: str | None = None


@dataclass(frozen=True)
class _Candidate:
    """A value with the tool-call shape; ``explicit`` when it gave an arguments key (or used
    the OpenAI function form), not just a name."""

    name: str
    args: Any
    explicit: bool


def recover_tool_calls(
    message: AIMessage, tool_names: Iterable[str], *, unknown_tools: UnknownTools = "reject"
) -> RepairResult:
    """Turn tool calls written as text in ``message`` into real ``tool_calls``.

    A message that already has tool calls is returned unchanged. Candidates with non-object
    arguments, that are not valid JSON or that exceed the bounds are rejected (with a
    reason) and their text stays in the message. A candidate naming a tool not in
    ``tool_names`` is rejected too, unless ``unknown_tools="call"`` and it has the full call
    shape (name and arguments): then it becomes a call and the environment answers with its
    unknown-tool error. Recovered calls get fresh ids; the text around them stays as the
    message content.
    """
    if message.tool_calls:
        return RepairResult(message=message, repaired=False)
    text = message.text
    if len(text) > MAX_REPLY_CHARS:
        reason = (
            f"reply of {len(text)} characters not scanned for tool calls (limit {MAX_REPLY_CHARS})"
        )
        return RepairResult(message=message, repaired=False, rejected=[reason])
    names = set(tool_names)
    calls: list[ToolCall] = []
    rejected: list[str] = []
    used: list[tuple[int, int]] = []
    for found in _find_calls(text):
        if found.problem is not None:
            rejected.append(found.problem)
            continue
        accepted: list[ToolCall] = []
        for candidate in found.calls:
            problem = _call_problem(candidate, names, unknown_tools)
            if problem is None and len(calls) + len(accepted) >= MAX_CALLS:
                problem = (
                    f"more than {MAX_CALLS} tool calls in one reply: {candidate.name!r} dropped"
                )
            if problem:
                rejected.append(problem)
            else:
                accepted.append(_tool_call(candidate.name, candidate.args))
        if accepted:
            calls.extend(accepted)
            used.append((found.start, found.end))
    rejected = _capped(rejected)
    if not calls:
        return RepairResult(message=message, repaired=False, rejected=rejected)
    rest = _leftover_text(text, used)
    repaired = message.model_copy(
        update={"content": rest, "tool_calls": calls, "invalid_tool_calls": []}
    )
    unknown = [c["name"] for c in calls if c["name"] not in names]
    return RepairResult(message=repaired, repaired=True, rejected=rejected, unknown=unknown)


async def recover_tool_calls_async(
    message: AIMessage, tool_names: Iterable[str], *, unknown_tools: UnknownTools = "reject"
) -> RepairResult:
    """``recover_tool_calls`` that does not hold up the event loop (see ``_off_loop``)."""
    names = frozenset(tool_names)
    return await _off_loop(recover_tool_calls, message, names, unknown_tools=unknown_tools)


async def _off_loop(
    repair: Callable[..., RepairResult], reply: AIMessage, *args: Any, **kwargs: Any
) -> RepairResult:
    """``repair(reply, ...)``: inline for a short reply, in a worker thread for a long one, so
    that concurrent episodes keep running while it is scanned."""
    if len(reply.text) <= INLINE_CHARS:
        return repair(reply, *args, **kwargs)
    return await asyncio.to_thread(repair, reply, *args, **kwargs)


def _capped(reasons: list[str]) -> list[str]:
    """At most ``MAX_REJECTED`` reasons, the rest counted in one last entry."""
    if len(reasons) <= MAX_REJECTED:
        return reasons
    return [*reasons[:MAX_REJECTED], f"... and {len(reasons) - MAX_REJECTED} more rejected"]


def _find_calls(text: str) -> list[_Found]:
    """Every top-level JSON object/list in ``text`` (tolerating doubled braces and Python
    literals) that is a call or a list of calls, in text order, plus a problem entry for
    each call-like fragment that cannot be parsed and each region nested deeper than
    ``MAX_DEPTH``.

    A region that does not parse is looked into (its inner regions come next); one that
    parses, or cannot hold a call (no ``name`` in it), is skipped over. A ``{{`` start is left
    to the inner ``{``. Each region is read at most once, and the regions read add up to at
    most ``PARSE_BUDGET`` characters (nested regions that fail one inside the other would
    otherwise cost up to ``MAX_DEPTH`` passes over the text); once it is spent the scan
    stops with a rejection. Values that are not calls are dropped at once, so a reply of
    thousands of small JSON values leaves no garbage for the collector to walk.
    """
    found: list[_Found] = []
    covered = 0  # end of the last region taken whole (parsed, or too deep to parse)
    deep_open = False  # an unclosed too-deep region was reported (its inner ones are too)
    budget = PARSE_BUDGET
    for start, end, too_deep in scan_brackets(text, MAX_DEPTH):
        if start < covered:
            continue
        if too_deep:
            if end is not None or not deep_open:
                problem = f"JSON nested deeper than {MAX_DEPTH} levels: {_snippet(text, start)!r}"
                found.append(_Found(start, start, [], problem))
            covered = end if end is not None else covered
            deep_open = deep_open or end is None
            continue
        if end is not None and end - start > budget:
            problem = f"tool-call repair stopped: {PARSE_BUDGET} characters parsed"
            found.append(_Found(start, start, [], problem))
            break
        if end is not None:
            budget -= end - start
            value = _decode(text[start:end]) if text.find("name", start, end) >= 0 else None
            if value is not _UNPARSED:
                calls = _call_candidates(value)
                if calls:
                    found.append(_Found(start, end, calls))
                covered = end
                continue
        if _CALL_START_RE.match(text, start) and not text.startswith("{{", start):
            problem = f"malformed tool call JSON: {_snippet(text, start)!r}"
            found.append(_Found(start, start, [], problem))
    return found


def _call_candidates(value: Any) -> list[_Candidate]:
    """The calls a value describes: one call, or a list of calls; ``[]`` for other JSON."""
    items = value if isinstance(value, list) else [value]
    calls = [c for c in map(_as_call, items) if c is not None]
    return calls if len(calls) == len(items) else []


def _snippet(text: str, start: int) -> str:
    return text[start : start + _MAX_SNIPPET].replace("\n", " ")


_UNPARSED = object()


def _decode(segment: str) -> Any:
    """The segment as JSON; failing that (objects only) with doubled braces collapsed, or as
    a Python literal dict; ``_UNPARSED`` when nothing works."""
    try:
        return json.loads(segment)
    except _PARSE_ERRORS:
        if not segment.startswith("{"):
            return _UNPARSED
    literals = [segment]
    collapsed = segment.replace("{{", "{").replace("}}", "}")
    if collapsed != segment:
        try:
            return json.loads(collapsed)
        except _PARSE_ERRORS:
            literals.insert(0, collapsed)
    for literal in literals:
        value = _python_literal(literal)
        if isinstance(value, dict):
            return value
    return _UNPARSED


def _python_literal(segment: str) -> Any:
    """The segment as a Python literal (what ``ast.literal_eval`` accepts, complex numbers
    aside), or ``_UNPARSED``. ``literal_eval`` itself leaves garbage cycles (its recursive
    inner functions) on every call, which over thousands of regions sets off full
    collections that stall every thread."""
    try:
        tree = ast.parse(segment, mode="eval")
        return _literal(tree.body)
    except _PARSE_ERRORS:
        return _UNPARSED


def _literal(node: ast.expr) -> Any:
    """The value of a literal node (nesting is bounded by the parser), else ``_UNPARSED``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        number = node.operand.value if isinstance(node.operand, ast.Constant) else None
        if not isinstance(number, int | float) or isinstance(number, bool):
            return _UNPARSED
        return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        items = [_literal(item) for item in node.elts]
        if any(item is _UNPARSED for item in items):
            return _UNPARSED
        kind = {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)]
        return kind(items)  # a set of unhashable items raises TypeError: caught above
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            return _UNPARSED  # a ** spread
        keys = [_literal(key) for key in node.keys if key is not None]
        values = [_literal(value) for value in node.values]
        if any(v is _UNPARSED for v in (*keys, *values)):
            return _UNPARSED
        return dict(zip(keys, values, strict=True))  # unhashable keys: TypeError, caught
    return _UNPARSED


def _as_call(value: Any) -> _Candidate | None:
    """The call ``value`` describes if it has the tool-call shape, else None.

    Accepts ``{"name", "arguments"|"parameters"|"args"|"input"}`` and the OpenAI form
    ``{"function": {"name", "arguments"}}``; a call without arguments gets ``{}``.
    """
    if not isinstance(value, dict):
        return None
    function_form = isinstance(value.get("function"), dict) and "name" not in value
    if function_form:
        value = value["function"]
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return None
    for key in ARGUMENT_KEYS:
        if key in value:
            return _Candidate(name, value[key], explicit=True)
    extra = set(value) - {"name", "type", "id"}
    return _Candidate(name, {}, explicit=function_form) if not extra else None


def _call_problem(
    candidate: _Candidate, tool_names: set[str], unknown_tools: UnknownTools = "reject"
) -> str | None:
    """Why a candidate call cannot be used, or None when it can."""
    name, args = candidate.name, candidate.args
    unknown_ok = unknown_tools == "call" and candidate.explicit
    if name not in tool_names and not unknown_ok:
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
        except _PARSE_ERRORS:
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
    result = await _off_loop(_map_action, reply, names)
    return result.message, call, result


def _map_action(reply: AIMessage, names: set[str]) -> RepairResult:
    """Turn a JSON action reply into a tool call or a text message."""
    text = reply.text.strip()
    action: Any = None
    if len(text) <= MAX_REPLY_CHARS:
        try:
            action = json.loads(text)
        except _PARSE_ERRORS:
            action = None
    parsed = _as_call(action)
    if parsed is not None and parsed.name == RESPOND_ACTION:
        args = _decode_args(parsed.args)
        message = args.get("message") if isinstance(args, dict) else None
        if isinstance(message, str):
            return RepairResult(
                message=reply.model_copy(update={"content": message}), repaired=False
            )
    if parsed is not None:
        problem = _call_problem(parsed, names)
        if problem is None:
            call = _tool_call(parsed.name, parsed.args)
            message = reply.model_copy(update={"content": "", "tool_calls": [call]})
            return RepairResult(message=message, repaired=False)
        return RepairResult(message=reply, repaired=False, rejected=[problem])
    fallback = recover_tool_calls(reply, names)
    if fallback.repaired:
        return fallback
    detail = f"reply is not a JSON action: {text[:_MAX_SNIPPET]!r}"
    return RepairResult(message=reply, repaired=False, rejected=[*fallback.rejected, detail])
