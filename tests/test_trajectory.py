"""Trajectory records round-trip through LangChain messages."""

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from fama.core.trajectory import from_record, to_record, to_records


def test_round_trip_of_every_role() -> None:
    messages = [
        SystemMessage(content="sys"),
        AIMessage(content="Hi! How can I help you today?"),
        HumanMessage(content="cancel #W1"),
        AIMessage(
            content="",
            tool_calls=[{"id": "c1", "name": "get_order_details", "args": {"order_id": "#W1"}}],
        ),
        ToolMessage(content="Error: Order not found", tool_call_id="c1", status="error"),
    ]
    records = to_records(messages)
    assert records[3]["tool_calls"] == [
        {"id": "c1", "name": "get_order_details", "arguments": {"order_id": "#W1"}}
    ]
    assert records[4]["error"] is True and records[4]["requestor"] == "assistant"
    assert [to_record(from_record(r)) for r in records] == records


def test_list_content_is_flattened_to_text() -> None:
    message = AIMessage(content=[{"type": "text", "text": "a"}, "b"])
    assert to_record(message)["content"] == "ab"


def test_unparseable_tool_calls_are_kept() -> None:
    message = AIMessage(
        content="",
        invalid_tool_calls=[
            {
                "id": "c9",
                "name": "cancel",
                "args": "{oops",
                "error": "bad JSON",
                "type": "invalid_tool_call",
            }
        ],
    )
    record = to_record(message)
    assert record["invalid_tool_calls"] == [
        {"id": "c9", "name": "cancel", "arguments": "{oops", "error": "bad JSON"}
    ]
    assert to_record(from_record(record)) == record


def test_user_tool_calls_and_their_results_round_trip() -> None:
    from fama.core.views import user_tool_call_message

    call = {"id": "u1", "name": "toggle_data", "args": {"on": True}}
    messages = [
        user_tool_call_message("let me check", [call]),
        ToolMessage(content="Data ON", tool_call_id="u1", additional_kwargs={"requestor": "user"}),
    ]
    records = to_records(messages)
    assert records[0] == {
        "role": "user",
        "content": "let me check",
        "tool_calls": [{"id": "u1", "name": "toggle_data", "arguments": {"on": True}}],
    }
    assert records[1]["requestor"] == "user"
    rebuilt = from_record(records[0])
    assert isinstance(rebuilt, HumanMessage) and rebuilt.additional_kwargs["tool_calls"] == [call]
    assert [to_record(from_record(r)) for r in records] == records
