"""Model specs, their lazy resolution, and call_model's usage records and retries."""

from __future__ import annotations

import httpx
import httpx2
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage

from fama.llm.call import (
    ModelUnavailableError,
    RetryPolicy,
    call_model,
    is_transient,
    model_label,
)
from fama.llm.models import ModelConfigError, ModelSpec, resolve_chat_model
from tests.fakes import ScriptedChatModel

# langchain-openai probes socket options (no connection) when a ChatOpenAI is built.
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket.socket")

FAST = RetryPolicy(attempts=3, initial_backoff_s=0.001, max_backoff_s=0.002)
_REQUEST = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")


def connection_error() -> openai.APIConnectionError:
    return openai.APIConnectionError(message="connection refused", request=_REQUEST)


def server_error(status: int = 503) -> openai.APIStatusError:
    response = httpx2.Response(status, request=_REQUEST)
    return openai.InternalServerError("overloaded", response=response, body=None)


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MY_KEY", raising=False)


def test_spec_parts_and_validation() -> None:
    spec = ModelSpec("openai:qwen3:4b", base_url="http://localhost:11434/v1")
    assert (spec.provider, spec.name) == ("openai", "qwen3:4b")
    assert spec.to_dict()["base_url"] == "http://localhost:11434/v1"
    assert spec.with_base_url("http://x/v1").base_url == "http://x/v1"
    for bad in ("gpt-4.1", ":gpt", "openai:"):
        with pytest.raises(ModelConfigError, match="provider:model"):
            ModelSpec(bad)


def test_base_url_without_key_uses_none_and_stream_usage() -> None:
    model = resolve_chat_model(
        ModelSpec("openai:Qwen/Qwen3-4B", base_url="http://127.0.0.1:8000/v1", temperature=0.7)
    )
    assert type(model).__name__ == "ChatOpenAI"
    assert model.model_name == "Qwen/Qwen3-4B"  # type: ignore[attr-defined]
    assert model.openai_api_base == "http://127.0.0.1:8000/v1"  # type: ignore[attr-defined]
    assert model.openai_api_key.get_secret_value() == "none"  # type: ignore[attr-defined]
    assert model.stream_usage is True  # type: ignore[attr-defined]
    assert model.temperature == 0.7  # type: ignore[attr-defined]
    assert model.max_retries == 0  # type: ignore[attr-defined]


def test_key_from_openai_env_or_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-default")
    model = resolve_chat_model(ModelSpec("openai:gpt-4.1-mini"))
    assert model.openai_api_key.get_secret_value() == "sk-default"  # type: ignore[attr-defined]
    monkeypatch.setenv("MY_KEY", "sk-named")
    spec = ModelSpec("openai:m", base_url="http://h/v1", api_key_env="MY_KEY")
    named = resolve_chat_model(spec)
    assert named.openai_api_key.get_secret_value() == "sk-named"  # type: ignore[attr-defined]


def test_missing_keys_are_clear_errors() -> None:
    with pytest.raises(ModelConfigError, match="OPENAI_API_KEY is not set"):
        resolve_chat_model(ModelSpec("openai:gpt-4.1-mini"))
    with pytest.raises(ModelConfigError, match="MY_KEY"):
        resolve_chat_model(ModelSpec("openai:m", base_url="http://h/v1", api_key_env="MY_KEY"))


def test_local_specs_need_the_server_url() -> None:
    with pytest.raises(ModelConfigError, match="fama serve"):
        resolve_chat_model(ModelSpec("local:qwen3-4b"))
    model = resolve_chat_model(ModelSpec("local:qwen3-4b").with_base_url("http://127.0.0.1:9/v1"))
    assert model.model_name == "qwen3-4b"  # type: ignore[attr-defined]
    assert model.openai_api_base == "http://127.0.0.1:9/v1"  # type: ignore[attr-defined]


def test_unknown_provider_package_is_a_clear_error() -> None:
    with pytest.raises((ModelConfigError, ValueError)):
        resolve_chat_model(ModelSpec("nosuchprovider:model"))


async def test_call_model_records_usage_and_latency() -> None:
    model = ScriptedChatModel(["hello there"])
    reply, call = await call_model(model, [HumanMessage("hi")], node="agent", retries=FAST)
    assert reply.text == "hello there"
    assert call["node"] == "agent"
    assert call["model"] == "scripted"
    assert call["input_tokens"] >= 1 and call["output_tokens"] >= 1
    assert call["latency_ms"] >= 0
    assert "usage_missing" not in call


async def test_call_model_estimates_and_flags_missing_usage() -> None:
    no_usage = AIMessage(content="x" * 40)

    class NoUsage(ScriptedChatModel):
        def _generate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            result = super()._generate(*args, **kwargs)
            result.generations[0].message.usage_metadata = None  # type: ignore[attr-defined]
            return result

    model = NoUsage([no_usage])  # type: ignore[call-arg, arg-type]
    prompt = [HumanMessage("a" * 130)]
    _, call = await call_model(model, prompt, node="u", retries=FAST)
    # not streamed: one token per four characters, rounded up, and flagged as estimated
    assert (call["input_tokens"], call["output_tokens"]) == (33, 10)
    assert call.get("usage_missing") is True


async def test_transient_errors_are_retried_then_succeed() -> None:
    model = ScriptedChatModel([connection_error(), server_error(), "ok"])
    reply, _ = await call_model(model, [HumanMessage("hi")], node="agent", retries=FAST)
    assert reply.text == "ok"
    assert len(model.calls) == 3


async def test_retries_are_bounded() -> None:
    model = ScriptedChatModel([connection_error()] * 3)
    with pytest.raises(ModelUnavailableError, match="after 3 attempt"):
        await call_model(model, [HumanMessage("hi")], node="agent", retries=FAST)
    assert len(model.calls) == 3


async def test_other_errors_are_not_retried() -> None:
    model = ScriptedChatModel([ValueError("bad request"), "never"])
    with pytest.raises(ValueError, match="bad request"):
        await call_model(model, [HumanMessage("hi")], node="agent", retries=FAST)
    assert len(model.calls) == 1


def test_transient_classification_and_backoff() -> None:
    assert is_transient(connection_error())
    assert is_transient(openai.APITimeoutError(request=_REQUEST))
    assert is_transient(server_error(502))
    assert is_transient(httpx.ConnectError("refused"))
    assert is_transient(httpx2.ReadTimeout("slow"))
    gateway = httpx.Response(502, request=httpx.Request("GET", "http://h"))
    assert is_transient(
        httpx.HTTPStatusError("bad gateway", request=gateway.request, response=gateway)
    )
    assert is_transient(TimeoutError())
    bad_request = openai.BadRequestError(
        "bad", response=httpx2.Response(400, request=_REQUEST), body=None
    )
    assert not is_transient(bad_request)
    assert not is_transient(ValueError("x"))
    policy = RetryPolicy(attempts=5, initial_backoff_s=1.0, multiplier=2.0, max_backoff_s=5.0)
    assert [policy.backoff(n) for n in range(4)] == [1.0, 2.0, 4.0, 5.0]
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_model_label_unwraps_tool_bindings() -> None:
    model = resolve_chat_model(ModelSpec("openai:my-model", base_url="http://h/v1"))
    assert model_label(model.bind_tools([], tool_choice="auto")) == "my-model"
