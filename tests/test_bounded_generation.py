"""Bounded generation (issue 16) and honest token accounting (issue 12 item 7).

A scripted server (``tests/endless_server.py``) streams replies that ignore ``max_tokens``
and ``stop``: the client must cut them, record why, and the episode must go on.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage

from fama.core.context import EpisodeContext
from fama.core.output_limits import DEFAULT_OUTPUT_LIMITS, OutputLimitError, OutputLimits
from fama.core.retry import RetryPolicy
from fama.core.state import LLMCall
from fama.envs.user_simulator import ScriptedUser
from fama.graph.episode import run_episode
from fama.helpers import planner
from fama.helpers.base import HelperEnv
from fama.llm.bounded import configured_max_tokens, configured_stop
from fama.llm.call import call_model
from fama.llm.models import ModelSpec, resolve_chat_model
from fama.nodes.react_agent import react_agent_node
from fama.runs.compare import build_comparison
from fama.runs.report import build_report, render_report
from fama.runs.store import SCHEMA_VERSION, EpisodeRecord, RunStore
from tests.endless_server import Endless, EndlessServer, Finite, Looping
from tests.fake_env import POLICY, FakeShopEnv, make_context

# langchain-openai probes socket options (no connection) when a ChatOpenAI is built.
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket.socket")

ONCE = RetryPolicy(attempts=1)
QWEN_CALL = '<tool_call>\n{"name": "get_price", "arguments": {"item_id": "apple"}}\n</tool_call>\n'
FAKE_RESULT = '<tool_response>\n{"price": 0.5}\n</tool_response>\n'


def local_model(server: EndlessServer, max_tokens: int) -> BaseChatModel:
    """A ``local:`` Qwen model (so with the template's stop sequences) at the server."""
    spec = ModelSpec("local:qwen2.5-coder-0.5b", base_url=server.base_url, max_tokens=max_tokens)
    return resolve_chat_model(spec)


# ------------------------------------------------------------------ limits and model specs


def test_output_limits_defaults_lookup_and_overrides() -> None:
    limits = OutputLimits.parse("agent=512, helper:planner=100,user=64")
    assert limits.for_node("agent") == 512 and limits.for_node("user") == 64
    assert limits.for_node("helper:planner") == 100
    assert limits.for_node("helper:decision_verifier") == 128  # its own default
    assert limits.for_node("helper:memory") == DEFAULT_OUTPUT_LIMITS["helper"]  # prefix
    assert limits.for_node("analyst:wrong_tool") == DEFAULT_OUTPUT_LIMITS["analyst"]
    assert limits.for_node("proposer") == DEFAULT_OUTPUT_LIMITS["default"]
    assert limits.table["agent"] == 512 and limits.table["judge"] == 1024
    assert OutputLimits.parse(None) == OutputLimits() and OutputLimits.parse("").table == dict(
        DEFAULT_OUTPUT_LIMITS
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("agent", "ROLE=TOKENS"),
        ("agent=many", "ROLE=TOKENS"),
        ("agent=0", "between 1 and"),
        ("agent=99999999", "between 1 and"),
        ("agnet=100", "unknown role 'agnet'"),
    ],
)
def test_bad_output_limits_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(OutputLimitError, match=message) as info:
        OutputLimits.parse(text)
    assert "\n" not in str(info.value)


def test_local_models_stop_at_their_template_markers() -> None:
    assert ModelSpec("local:qwen2.5-coder-1.5b").stop_sequences == (
        "<tool_response>",
        "<|im_start|>",
    )
    assert ModelSpec("openai:gpt-4o-mini").stop_sequences == ()
    assert ModelSpec("local:other-model").stop_sequences == ()
    assert ModelSpec("local:qwen2.5-coder-1.5b", stop=()).stop_sequences == ()
    model = resolve_chat_model(
        ModelSpec("local:qwen2.5-coder-0.5b", base_url="http://127.0.0.1:9/v1", max_tokens=300)
    )
    assert configured_max_tokens(model) == 300
    assert configured_stop(model) == ("<tool_response>", "<|im_start|>")
    bound = model.bind_tools([], tool_choice="auto").bind(max_tokens=40)
    assert configured_max_tokens(bound) == 40  # the outermost binding wins
    assert configured_stop(bound) == ("<tool_response>", "<|im_start|>")


# ------------------------------------------------------------------ the client cuts runaways


@pytest.mark.enable_socket
async def test_endless_reply_is_cut_at_the_limit() -> None:
    with EndlessServer([Endless("la ")]) as server:
        reply, call = await call_model(
            local_model(server, 16), [HumanMessage("sing")], node="agent", retries=ONCE
        )
        await asyncio.sleep(0.5)  # 250 more tokens if the client had not hung up
    assert call["finish_reason"] == "length"
    assert reply.text.startswith("la la") and len(reply.text) <= 17 * 3
    # the server ignored the limit it was sent; the client hung up a few tokens later
    assert server.requests[0]["max_completion_tokens"] == 16
    assert server.requests[0]["stop"] == ["<tool_response>", "<|im_start|>"]
    assert server.requests[0]["stream"] is True
    assert 16 < server.sent[0] < 100
    # no usage chunk came: the streamed tokens are counted, and flagged as an estimate
    assert call.get("usage_missing") is True and call["output_tokens"] == 17
    assert call["input_tokens"] == 1  # "sing": 4 characters


@pytest.mark.enable_socket
async def test_fake_tool_response_is_cut_at_the_stop_sequence() -> None:
    with EndlessServer([Looping(QWEN_CALL + FAKE_RESULT)]) as server:
        reply, call = await call_model(
            local_model(server, 1024), [HumanMessage("price?")], node="agent", retries=ONCE
        )
        await asyncio.sleep(0.5)
    assert call["finish_reason"] == "stop"
    assert reply.text == QWEN_CALL  # the model's own tool call, none of the fake result
    assert server.sent[0] < 100


@pytest.mark.enable_socket
async def test_finished_reply_keeps_the_servers_usage_and_reason() -> None:
    with EndlessServer([Finite("An apple costs 2 dollars.")]) as server:
        reply, call = await call_model(
            local_model(server, 64), [HumanMessage("price?")], node="user", retries=ONCE
        )
    assert reply.text == "An apple costs 2 dollars."
    assert call["finish_reason"] == "stop" and "usage_missing" not in call
    assert (call["input_tokens"], call["output_tokens"]) == (50, 5)


@pytest.mark.enable_socket
async def test_streamed_native_tool_calls_are_assembled() -> None:
    arguments = '{"item_id": "apple"}'
    with EndlessServer([Finite("", tool_call=("get_price", arguments))]) as server:
        model = local_model(server, 64).bind_tools(FakeShopEnv().agent_tools())
        reply, call = await call_model(model, [HumanMessage("price?")], node="agent", retries=ONCE)
    assert [(c["name"], c["args"], c["id"]) for c in reply.tool_calls] == [
        ("get_price", {"item_id": "apple"}, "call_1")
    ]
    assert call["finish_reason"] == "tool_calls" and server.requests[0]["tools"]


@pytest.mark.enable_socket
async def test_a_helper_call_has_its_own_smaller_limit() -> None:
    with EndlessServer([Finite("1. Tell the apple price")]) as server:
        env = HelperEnv(
            policy=POLICY,
            tools=FakeShopEnv().agent_tools(),
            tool_kind=FakeShopEnv().tool_kind,
            model=local_model(server, 1024),  # the agent's model, with the agent's limit
            retries=ONCE,
            params=planner.SPEC.default_params,
            output_limits=OutputLimits({"helper:planner": 100}),
        )
        plan, update = await planner.make_plan([HumanMessage("apple price?")], env)
    assert plan == "1. Tell the apple price"
    assert server.requests[0]["max_completion_tokens"] == 100
    assert update["llm_calls"][0]["node"] == "helper:planner"


# ------------------------------------------------------------------ the episode goes on


@pytest.mark.enable_socket
async def test_runaway_replies_are_agent_errors_and_the_episode_goes_on() -> None:
    script = [Endless("la "), Looping(QWEN_CALL + FAKE_RESULT), Finite("An apple costs 2.0.")]
    env = FakeShopEnv()
    with EndlessServer(script) as server:
        ctx = EpisodeContext(
            env=env,
            agent_model=local_model(server, 1024),
            user=ScriptedUser(["What does an apple cost?", "Thanks! ###STOP###"]),
            system_prompt=f"SYSTEM\n{POLICY}",
            retry=ONCE,
            tool_call_mode="tolerant",
            output_limits=OutputLimits({"agent": 24}),
        )
        result = await run_episode(ctx)
    assert result.termination == "user_stop" and result.error_detail is None
    assert [r["max_completion_tokens"] for r in server.requests] == [24, 24, 24]
    assert [i["kind"] for i in result.agent_issues] == ["truncated", "repaired"]
    assert "24-token output limit" in result.agent_issues[0]["detail"]
    assert result.tool_errors == 1  # the truncated reply, counted toward the error limit
    assert env.calls == [("get_price", {"item_id": "apple"}, "assistant")]
    assert [c.get("finish_reason") for c in result.llm_calls] == ["length", "stop", "stop"]
    assert "la la" not in " ".join(r["content"] for r in result.records)  # not in the trajectory


async def test_truncated_react_reply_is_retried_with_a_note() -> None:
    cut = AIMessage(
        content="Thought: let me think " * 50, response_metadata={"finish_reason": "length"}
    )
    respond = 'Action: {"name": "respond", "arguments": {"content": "Apples cost 2."}}'
    ctx = make_context([cut, respond], ["Apple price?", "ok ###STOP###"], max_errors=5)
    result = await run_episode(ctx, agent_node=react_agent_node)
    assert result.termination == "user_stop"
    assert [i["kind"] for i in result.agent_issues] == ["truncated"]
    assert result.steps >= 1 and result.tool_errors == 1
    retry_prompt = ctx.agent_model.calls[1]  # type: ignore[attr-defined]
    assert "cut off at the 1024-token output limit" in retry_prompt[-1].text


async def test_truncated_replies_end_the_episode_at_the_error_limit() -> None:
    cut = AIMessage(content="x", response_metadata={"finish_reason": "length"})
    ctx = make_context([cut] * 3, ["Apple price?"], max_errors=3)
    result = await run_episode(ctx)
    assert result.termination == "too_many_errors"  # scored, not an infrastructure error
    assert [i["kind"] for i in result.agent_issues] == ["truncated"] * 3


async def test_the_same_unusable_reply_to_the_same_conversation_ends_the_episode() -> None:
    """At temperature 0 the same input gets the same cut reply: measured on the 1.5B, nine
    1,024-token replies in a row (64 s each) before ``max_steps``; now ``max_repeated_calls``."""
    cut = AIMessage(content="x", response_metadata={"finish_reason": "length"})
    ctx = make_context([cut] * 6, ["Apple price?"], max_errors=10, max_repeated_calls=3)
    result = await run_episode(ctx)
    assert result.termination == "repeated_call"
    assert [i["kind"] for i in result.agent_issues] == ["truncated"] * 3 + ["repeated_call"]
    assert "3 truncated replies in a row" in result.agent_issues[-1]["detail"]
    assert len(ctx.agent_model.replies) == 3  # type: ignore[attr-defined]  # not asked again


async def test_unusable_replies_to_a_changed_conversation_do_not_count_as_repeats() -> None:
    cut = AIMessage(content="x", response_metadata={"finish_reason": "length"})
    replies = [cut, cut, "Which fruit?", cut, cut, "Apples cost 2."]
    ctx = make_context(
        replies, ["Price?", "Apples.", "ok ###STOP###"], max_errors=10, max_repeated_calls=3
    )
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    assert [i["kind"] for i in result.agent_issues] == ["truncated"] * 4


# ------------------------------------------------------------------ store, report, compare


def episode(run_id: str, calls: list[LLMCall]) -> EpisodeRecord:
    return EpisodeRecord(
        run_id=run_id,
        task_id="t1",
        trial=0,
        domain="shop",
        split=None,
        status="done",
        termination="user_stop",
        reward=1.0,
        llm_calls=calls,
    )


def call(node: str, tokens: int, **extra: Any) -> LLMCall:
    record: LLMCall = {
        "node": node,
        "model": "m",
        "input_tokens": tokens,
        "output_tokens": tokens // 10,
        "latency_ms": 5.0,
    }
    record.update(extra)  # type: ignore[typeddict-item]
    return record


CALLS = [
    call("agent", 100, finish_reason="length"),
    call("agent", 120, finish_reason="tool_calls"),
    call("user", 40, finish_reason="stop", usage_missing=True),
    call("helper:planner", 30),
]


def test_store_keeps_finish_reason_and_usage_flag(tmp_path: Path) -> None:
    with RunStore(tmp_path / "r.sqlite") as store:
        store.create_or_resume_run("r", {"env": "x"}, [])
        store.save_episode("r", episode("r", CALLS))
        assert store.episodes("r")[0].llm_calls == CALLS


def test_version_2_store_flags_zero_usage_calls(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    old = [call("agent", 100), call("user", 0)]  # version 2 stored missing usage as zeros
    with RunStore(path) as fresh:
        fresh.create_or_resume_run("r", {"env": "x"}, [])
        fresh.save_episode("r", episode("r", old))
    with closing(sqlite3.connect(path)) as conn:  # back to the version-2 layout
        conn.execute("ALTER TABLE llm_calls DROP COLUMN finish_reason")
        conn.execute("ALTER TABLE llm_calls DROP COLUMN usage_missing")
        conn.execute("PRAGMA user_version = 2")
        conn.commit()
    with RunStore(path) as upgraded:
        loaded = upgraded.episodes("r")[0].llm_calls
        report = render_report(build_report(upgraded, "r"))
    assert loaded == [old[0], {**old[1], "usage_missing": True}]
    assert "1 of 2 LLM calls had no server-reported usage (user 1)" in report
    assert "1 of them were stored without an estimate and count as 0 tokens" in report
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3


def test_report_counts_truncated_replies_per_role(tmp_path: Path) -> None:
    with RunStore(tmp_path / "r.sqlite") as store:
        store.create_or_resume_run("r", {"env": "x"}, [])
        store.save_episode("r", episode("r", CALLS))
        report = build_report(store, "r")
    replies = report["replies"]
    assert replies["by_role"]["agent"] == {
        "calls": 2,
        "truncated": 1,
        "usage_missing": 0,
        "usage_unknown": 0,
    }
    assert replies["total"] == {"calls": 4, "truncated": 1, "usage_missing": 1, "usage_unknown": 0}
    text = render_report(report)
    assert "Replies cut at the output limit: agent 1 of 2, user 0 of 1, judge 0 of 0, " in text
    assert "Token usage: 1 of 4 LLM calls had no server-reported usage (user 1)" in text


def test_compare_says_when_tokens_are_estimated(tmp_path: Path) -> None:
    with RunStore(tmp_path / "r.sqlite") as store:
        for run_id, calls in (("base", [call("agent", 0, usage_missing=True)]), ("new", CALLS)):
            store.create_or_resume_run(run_id, {"env": "x"}, [])
            store.save_episode(run_id, episode(run_id, calls))
        comparison = build_comparison(store, ["base", "new"])
    notes = " | ".join(comparison.notes)
    assert "run base: 1 of 1 LLM calls had no server-reported usage (agent 1)" in notes
    assert "stored without an estimate" in notes
    assert "run new: 1 of 4 LLM calls had no server-reported usage (user 1)" in notes
    assert comparison.tokens["new"].overhead_pct["agent"] is None  # base agent tokens unknown


# ------------------------------------------------------------------ the run command


def test_run_records_and_applies_output_limits(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fama.commands import run as run_command_module
    from tests.test_cli_run import Factory, base_argv, parse

    db = tmp_path / "runs.sqlite"
    factory = Factory(tau2_data_dir)
    argv = base_argv(tau2_data_dir, db, "--trials", "1")
    limited = parse([*argv, "--max-output-tokens", "agent=512,helper:planner=100"])
    assert run_command_module.run_command(limited, model_factory=factory) == 0
    assert [(s.model, s.max_tokens) for s in factory.specs] == [
        ("scripted:agent", 512),
        ("scripted:user", 256),
    ]
    with RunStore(db) as store:
        config = store.load_run("e2e").config
    assert config["max_output_tokens"] == {
        **DEFAULT_OUTPUT_LIMITS,
        "agent": 512,
        "helper:planner": 100,
    }
    assert "--max-output-tokens agent=512,helper:planner=100" in config["command"]
    # resuming with other limits would compute something else: refused
    other = parse([*argv, "--max-output-tokens", "agent=256"])
    assert run_command_module.run_command(other, model_factory=factory) == 2
    assert "max_output_tokens" in capsys.readouterr().err
    bad = parse([*argv, "--max-output-tokens", "agent=lots"])
    assert run_command_module.run_command(bad, model_factory=factory) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fama run: --max-output-tokens: expected ROLE=TOKENS") and "\n" not in err
