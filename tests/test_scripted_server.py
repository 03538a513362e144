"""The scripted OpenAI-compatible server answers the real OpenAI client as scripted."""

from __future__ import annotations

import time

import openai
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from fama.llm.models import ModelSpec, resolve_chat_model
from tests.scripted_server import (
    Action,
    ChatRequest,
    Drop,
    Hang,
    Html,
    HttpError,
    Reply,
    ScriptedServer,
    closed_port,
    context_overflow,
)

pytestmark = pytest.mark.enable_socket


def model_at(base_url: str, timeout_s: float = 5.0, streaming: bool = False) -> BaseChatModel:
    spec = ModelSpec(model="openai:scripted", base_url=base_url, timeout_s=timeout_s)
    model = resolve_chat_model(spec)
    return model.model_copy(update={"streaming": True}) if streaming else model


@pytest.mark.parametrize("streaming", [False, True])
async def test_replies_tool_calls_and_usage(streaming: bool) -> None:
    script = [Reply("", (("get_price", {"item_id": "apple"}),)), Reply("done", usage=False)]

    def respond(req: ChatRequest) -> Action:
        return script[req.total - 1]

    with ScriptedServer(respond) as server:
        model = model_at(server.base_url, streaming=streaming)
        first = await model.ainvoke([HumanMessage("price?")])
        second = await model.ainvoke([HumanMessage("thanks")])
    assert first.tool_calls[0]["name"] == "get_price"
    assert first.tool_calls[0]["args"] == {"item_id": "apple"}
    assert first.usage_metadata is not None and first.usage_metadata["input_tokens"] == 100
    assert second.content == "done" and second.usage_metadata is None
    assert server.count() == 2 and server.requests[1].last_text == "thanks"


async def test_fault_modes_reach_the_client_as_the_real_faults() -> None:
    cases: list[tuple[Action, type[BaseException], str]] = [
        (context_overflow(), openai.BadRequestError, "maximum context length"),
        (HttpError(500, "boom"), openai.InternalServerError, "boom"),
        (Html(), ValueError, "Unexpected response type"),
        (Drop(), openai.APIConnectionError, "Connection error"),
        (Hang(30), openai.APITimeoutError, "timed out"),
    ]
    for action, error, text in cases:

        def respond(req: ChatRequest, action: Action = action) -> Action:
            return action

        with ScriptedServer(respond) as server:
            model = model_at(server.base_url, timeout_s=0.5)
            started = time.monotonic()
            with pytest.raises(error, match=text):
                await model.ainvoke([HumanMessage("x")])
            assert time.monotonic() - started < 5  # a hang is released by the timeout
        assert server.count("plain") == 1


async def test_nothing_listening() -> None:
    model = model_at(f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(openai.APIConnectionError):
        await model.ainvoke([HumanMessage("x")])
