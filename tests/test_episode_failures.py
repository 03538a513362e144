"""An exception inside an episode ends it with everything done before it (issue 12, item 1)."""

from __future__ import annotations

import httpx2 as httpx
import openai
import pytest

from fama.core.users import UserSimulatorError
from fama.graph.episode import run_episode
from fama.llm.call import ModelUnavailableError
from fama.llm.failures import failure_info, failure_kind, is_context_overflow
from fama.runs.runner import EpisodeJob, GraphEpisodeExecutor, agent_setup
from tests.fake_env import FakeShopEnv, make_context, tool_call

REQUEST = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")


def status_error(status: int, message: str) -> openai.APIStatusError:
    response = httpx.Response(status, request=REQUEST, json={"error": {"message": message}})
    cls = openai.BadRequestError if status == 400 else openai.APIStatusError
    return cls(f"Error code: {status} - {message}", response=response, body=None)


OVERFLOW = status_error(400, "This model's maximum context length is 4096 tokens.")
LLAMA_OVERFLOW = status_error(400, "the request exceeds the available context size")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OVERFLOW, "context_overflow"),
        (LLAMA_OVERFLOW, "context_overflow"),
        (status_error(400, "invalid tool schema"), "infrastructure"),
        (status_error(401, "bad key"), "infrastructure"),
        (
            ValueError("Unexpected response type from OpenAI-compatible endpoint. <html>"),
            "infrastructure",
        ),
        (ValueError("No generation chunks were returned"), "infrastructure"),
        (ModelUnavailableError("agent", "m", 3, TimeoutError()), "infrastructure"),
        (UserSimulatorError("user broke"), "infrastructure"),
        (RecursionError("maximum recursion depth exceeded"), "error"),
        (ValueError("memory.k must be >= 0"), "error"),
        (KeyError("x"), "error"),
    ],
)
def test_failure_kinds(exc: BaseException, kind: str) -> None:
    assert failure_kind(exc) == kind
    assert is_context_overflow(exc) is (kind == "context_overflow")


def test_failure_info_is_one_clipped_line() -> None:
    info = failure_info(RuntimeError("line one\nline two " + "x" * 2000))
    assert info["type"] == "RuntimeError" and "\n" not in info["message"]
    assert info["message"].startswith("line one line two") and len(info["message"]) == 500


def _two_tool_calls_then(fault: BaseException) -> list[object]:
    return [
        tool_call("get_price", {"item_id": "apple"}, "c1"),
        tool_call("get_price", {"item_id": "pear"}, "c2"),
        fault,
    ]


async def test_context_overflow_keeps_the_trajectory() -> None:
    ctx = make_context(_two_tool_calls_then(OVERFLOW), ["apple and pear prices?"])  # type: ignore[arg-type]
    result = await run_episode(ctx)
    assert result.termination == "context_overflow"
    assert result.exception is not None and result.exception["kind"] == "context_overflow"
    assert result.exception["type"] == "BadRequestError"
    assert "maximum context length" in (result.error_detail or "")
    roles = [r["role"] for r in result.records]
    assert roles == ["assistant", "user", "assistant", "tool", "assistant", "tool"]
    assert [c["node"] for c in result.llm_calls] == ["agent", "agent"]
    assert {t["node"] for t in result.node_timings} >= {"agent", "tools"}


async def test_a_bug_mid_episode_keeps_the_trajectory_and_the_traceback() -> None:
    bug = RecursionError("maximum recursion depth exceeded while decoding a JSON object")
    ctx = make_context(_two_tool_calls_then(bug), ["apple and pear prices?"])  # type: ignore[arg-type]
    result = await run_episode(ctx)
    assert result.termination is None
    assert result.exception == {
        "kind": "error",
        "type": "RecursionError",
        "message": "maximum recursion depth exceeded while decoding a JSON object",
    }
    assert "Traceback" in (result.error_detail or "")
    assert (result.error_detail or "").splitlines()[-1].startswith("RecursionError:")
    assert len(result.records) == 6 and len(result.llm_calls) == 2 and result.steps == 5


async def test_executor_stores_a_bug_as_error_with_its_trajectory() -> None:
    env = FakeShopEnv()
    ctx = make_context(_two_tool_calls_then(KeyError("boom")), ["prices?"], env=env)  # type: ignore[arg-type]

    async def never(*_: object) -> object:
        raise AssertionError("an episode that crashed must not be scored")

    executor = GraphEpisodeExecutor(
        make_env=lambda task: env,
        make_user=lambda task, env: ctx.user,
        agent_model=ctx.agent_model,
        agent=agent_setup("fc"),
        evaluate=never,  # type: ignore[arg-type]
    )
    outcome = await executor(EpisodeJob(task_id="t", trial=0, seed=1))
    assert outcome.status == "error" and outcome.reward is None
    assert len(outcome.records) == 6 and len(outcome.llm_calls) == 2
    assert outcome.extra["exception"]["type"] == "KeyError"
    assert len(env.calls) == 2  # both tool calls ran
