"""Tool-call repair: text-written calls recovered, bad ones rejected, constrained JSON mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tools import StructuredTool

from fama.llm.tool_call_repair import (
    RESPOND_ACTION,
    action_schema,
    constrained_decision,
    recover_tool_calls,
)
from tests.fakes import ScriptedChatModel

TOOLS = {"get_order_details", "cancel_pending_order", "find_user_id_by_email"}
CORPUS = Path(__file__).parent / "data" / "small_model_outputs"


def calls(result: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(tc["name"], tc["args"]) for tc in result.message.tool_calls]


def recover(content: str) -> Any:
    return recover_tool_calls(AIMessage(content=content), TOOLS)


def test_tool_call_tags() -> None:
    result = recover(
        'Let me check.\n<tool_call>\n{"name": "get_order_details", '
        '"arguments": {"order_id": "#W1"}}\n</tool_call>'
    )
    assert result.repaired and not result.rejected
    assert calls(result) == [("get_order_details", {"order_id": "#W1"})]
    assert result.message.content == "Let me check."
    assert result.message.tool_calls[0]["id"].startswith("call_")


def test_fenced_json_block() -> None:
    result = recover(
        '```json\n{"name": "cancel_pending_order", "arguments": '
        '{"order_id": "#W2", "reason": "ordered by mistake"}}\n```'
    )
    assert calls(result) == [
        ("cancel_pending_order", {"order_id": "#W2", "reason": "ordered by mistake"})
    ]
    assert result.message.content == ""


def test_bare_json_with_text_before_and_after() -> None:
    result = recover(
        'Sure. {"name": "find_user_id_by_email", "arguments": {"email": "a@b.c"}} '
        "I will get back to you."
    )
    assert calls(result) == [("find_user_id_by_email", {"email": "a@b.c"})]
    assert result.message.content == "Sure.  I will get back to you."


def test_several_calls_on_lines_and_in_a_list() -> None:
    lines = recover(
        '{"name": "get_order_details", "arguments": {"order_id": "#W1"}}\n'
        '{"name": "get_order_details", "arguments": {"order_id": "#W2"}}'
    )
    listed = recover(
        '[{"name": "get_order_details", "arguments": {"order_id": "#W1"}}, '
        '{"name": "get_order_details", "arguments": {"order_id": "#W2"}}]'
    )
    expected = [
        ("get_order_details", {"order_id": "#W1"}),
        ("get_order_details", {"order_id": "#W2"}),
    ]
    assert calls(lines) == expected
    assert calls(listed) == expected
    ids = {tc["id"] for tc in lines.message.tool_calls}
    assert len(ids) == 2


def test_doubled_braces_collapsed_only_when_needed() -> None:
    doubled = recover(
        '{{"name": "get_order_details", "arguments": {{"order_id": "#W1"}}}}\n'
        '{{"name": "get_order_details", "arguments": {{"order_id": "#W2"}}}}'
    )
    assert calls(doubled) == [
        ("get_order_details", {"order_id": "#W1"}),
        ("get_order_details", {"order_id": "#W2"}),
    ]
    # Valid JSON whose string value contains "}}" must not be touched.
    valid = recover(
        '{"name": "cancel_pending_order", "arguments": {"order_id": "#W3", "reason": "x}}y{{z"}}'
    )
    assert calls(valid) == [("cancel_pending_order", {"order_id": "#W3", "reason": "x}}y{{z"})]


@pytest.mark.parametrize("key", ["arguments", "parameters", "args", "input"])
def test_argument_key_variants(key: str) -> None:
    result = recover(json.dumps({"name": "get_order_details", key: {"order_id": "#W9"}}))
    assert calls(result) == [("get_order_details", {"order_id": "#W9"})]


def test_arguments_as_json_string_and_openai_function_form() -> None:
    as_string = recover(
        json.dumps({"name": "get_order_details", "arguments": json.dumps({"order_id": "#W1"})})
    )
    assert calls(as_string) == [("get_order_details", {"order_id": "#W1"})]
    openai_form = recover(
        json.dumps(
            {
                "type": "function",
                "function": {"name": "get_order_details", "arguments": '{"order_id": "#W4"}'},
            }
        )
    )
    assert calls(openai_form) == [("get_order_details", {"order_id": "#W4"})]


def test_python_literal_quoting() -> None:
    result = recover("{'name': 'get_order_details', 'arguments': {'order_id': '#W5'}}")
    assert calls(result) == [("get_order_details", {"order_id": "#W5"})]


def test_unknown_tool_and_bad_arguments_rejected() -> None:
    result = recover(
        '{"name": "refund_everything", "arguments": {}}\n'
        '{"name": "get_order_details", "arguments": "not json"}\n'
        '{"name": "get_order_details", "arguments": {"order_id": "#W1"}}'
    )
    assert calls(result) == [("get_order_details", {"order_id": "#W1"})]
    assert len(result.rejected) == 2
    assert "unknown tool 'refund_everything'" in result.rejected[0]
    assert "not a JSON object" in result.rejected[1]


def test_only_rejected_calls_leave_message_unchanged() -> None:
    message = AIMessage(content='<tool_call>{"name": "delete_db", "arguments": {}}</tool_call>')
    result = recover_tool_calls(message, TOOLS)
    assert not result.repaired
    assert result.message is message
    assert result.rejected and "delete_db" in result.rejected[0]


def test_truncated_call_is_reported() -> None:
    result = recover('{"name": "get_order_details", "arguments": {"order_id": "#W1"')
    assert not result.repaired
    assert result.rejected and result.rejected[0].startswith("malformed tool call JSON")


def test_plain_text_and_non_call_json_untouched() -> None:
    for text in (
        "Your order #W1 has been cancelled. Anything else?",
        'Here are the details: {"order_id": "#W1", "status": "pending"}',
        "See [the policy](link) for {details}.",
    ):
        result = recover(text)
        assert not result.repaired and not result.rejected
        assert result.message.content == text


def test_existing_tool_calls_kept() -> None:
    message = AIMessage(
        content='{"name": "get_order_details", "arguments": {"order_id": "#W1"}}',
        tool_calls=[{"name": "cancel_pending_order", "args": {}, "id": "c1"}],
    )
    result = recover_tool_calls(message, TOOLS)
    assert result.message is message and not result.repaired


def test_usage_and_id_preserved_on_repair() -> None:
    message = AIMessage(
        content='{"name": "get_order_details", "arguments": {"order_id": "#W1"}}',
        id="run-1",
        usage_metadata={"input_tokens": 5, "output_tokens": 3, "total_tokens": 8},
    )
    result = recover_tool_calls(message, TOOLS)
    assert result.message.id == "run-1"
    assert result.message.usage_metadata == message.usage_metadata


# --- corpus of real small-model outputs ---------------------------------------------------


def _corpus() -> list[dict[str, Any]]:
    outputs = {}
    for line in (CORPUS / "outputs.jsonl").read_text().splitlines():
        if line.strip():
            sample = json.loads(line)
            outputs[sample["id"]] = sample
    expected = json.loads((CORPUS / "expected.json").read_text())
    assert set(expected) == set(outputs), "every captured output needs an expectation"
    return [{**outputs[k], **expected[k]} for k in sorted(outputs)]


@pytest.mark.parametrize("sample", _corpus(), ids=lambda s: s["id"])
def test_real_small_model_outputs(sample: dict[str, Any]) -> None:
    message = AIMessage(content=sample["content"])
    result = recover_tool_calls(message, set(sample["tools"]))
    assert calls(result) == [(c["name"], c["args"]) for c in sample["calls"]]
    assert len(result.rejected) == sample["rejected"], result.rejected
    assert result.repaired == bool(sample["calls"])


# --- constrained decisions ----------------------------------------------------------------


def get_order_details(order_id: str) -> str:
    """Get the status and details of an order.

    Args:
        order_id: The order id, such as '#W0000000'.
    """
    return order_id


def cancel_pending_order(order_id: str, reason: str) -> str:
    """Cancel a pending order.

    Args:
        order_id: The order id.
        reason: 'no longer needed' or 'ordered by mistake'.
    """
    return order_id


LC_TOOLS = [
    StructuredTool.from_function(get_order_details, parse_docstring=True),
    StructuredTool.from_function(cancel_pending_order, parse_docstring=True),
]


def test_action_schema_branches_and_defs() -> None:
    schema = action_schema(
        [
            {
                "type": "function",
                "function": {
                    "name": "a",
                    "parameters": {
                        "type": "object",
                        "properties": {"p": {"$ref": "#/$defs/P"}},
                        "$defs": {"P": {"type": "string"}},
                    },
                },
            },
            {
                "name": "b",
                "parameters": {
                    "type": "object",
                    "properties": {"p": {"$ref": "#/$defs/P"}},
                    "$defs": {"P": {"type": "integer"}},
                },
            },
        ]
    )
    names = [b["properties"]["name"]["const"] for b in schema["anyOf"]]
    assert names == ["a", "b", RESPOND_ACTION]
    assert schema["$defs"] == {"P": {"type": "string"}, "b__P": {"type": "integer"}}
    assert schema["anyOf"][1]["properties"]["arguments"]["properties"]["p"] == {
        "$ref": "#/$defs/b__P"
    }
    assert all(b["additionalProperties"] is False for b in schema["anyOf"])


def test_action_schema_rejects_tool_named_respond() -> None:
    with pytest.raises(ValueError, match="respond"):
        action_schema([{"name": RESPOND_ACTION, "parameters": {}}])


async def test_constrained_decision_tool_call() -> None:
    model = ScriptedChatModel(['{"name": "get_order_details", "arguments": {"order_id": "#W1"}}'])
    prompt = [SystemMessage(content="You are an agent."), HumanMessage(content="status of #W1?")]
    reply, call, repair = await constrained_decision(model, prompt, LC_TOOLS)
    assert [(tc["name"], tc["args"]) for tc in reply.tool_calls] == [
        ("get_order_details", {"order_id": "#W1"})
    ]
    assert reply.content == "" and not repair.rejected and not repair.repaired
    assert call["node"] == "agent" and call["input_tokens"] > 0
    sent = model.calls[0]
    assert len(sent) == 2 and isinstance(sent[0], SystemMessage)
    assert sent[0].text.startswith("You are an agent.\n\n# Actions")
    assert '"name": "cancel_pending_order"' in sent[0].text


async def test_constrained_decision_respond_and_fallbacks() -> None:
    model = ScriptedChatModel(
        [
            '{"name": "respond", "arguments": {"message": "Which order?"}}',
            '```json\n{"name": "get_order_details", "arguments": {"order_id": "#W2"}}\n```',
            '{"name": "wipe", "arguments": {}}',
            "I cannot answer in JSON.",
        ]
    )
    prompt = [HumanMessage(content="hi")]
    reply, _, repair = await constrained_decision(model, prompt, LC_TOOLS)
    assert reply.content == "Which order?" and not reply.tool_calls and not repair.rejected
    assert isinstance(model.calls[0][0], SystemMessage)  # instructions added as system message

    reply, _, repair = await constrained_decision(model, prompt, LC_TOOLS)
    assert repair.repaired and reply.tool_calls[0]["args"] == {"order_id": "#W2"}

    reply, _, repair = await constrained_decision(model, prompt, LC_TOOLS)
    assert not reply.tool_calls and "unknown tool 'wipe'" in repair.rejected[0]

    reply, _, repair = await constrained_decision(model, prompt, LC_TOOLS)
    assert reply.content == "I cannot answer in JSON." and not reply.tool_calls
    assert repair.rejected[-1].startswith("reply is not a JSON action")


def test_unbalanced_doubled_brace_reported_once() -> None:
    extra_outer = recover('{{"name": "get_order_details", "arguments": {"order_id": "#W1"}}')
    assert calls(extra_outer) == [("get_order_details", {"order_id": "#W1"})]
    assert not extra_outer.rejected
    truncated = recover('{{"name": "get_order_details", "arguments": {{"order_id": "#W')
    assert not truncated.repaired and len(truncated.rejected) == 1


def test_rejections_in_text_order() -> None:
    result = recover(
        '{"name": "nope", "arguments": {}}\n'
        '{"name": "get_order_details", "arguments": {"order_id": "#W1"}}\n'
        '{"name": "get_order_details", "arguments": {"order_id": "#W'
    )
    assert calls(result) == [("get_order_details", {"order_id": "#W1"})]
    assert result.rejected[0].startswith("unknown tool 'nope'")
    assert result.rejected[1].startswith("malformed tool call JSON")
