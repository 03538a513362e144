"""Loop features other benchmarks need: stop phrases, terminal tools, agent turn limits,
dual control (user tools), batch execution, opening messages and the agent prompt."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool

from fama.core.context import EpisodeContext
from fama.core.env import ToolOutput
from fama.core.retry import RetryPolicy
from fama.core.scoring import RewardInfo
from fama.core.trajectory import from_record, to_records
from fama.core.views import agent_view, user_tool_call_message
from fama.envs.user_simulator import LLMUserSimulator
from fama.graph.episode import GREETING, EpisodeResult, run_episode
from fama.nodes.env_tools import env_user_tools, execute_tool_calls
from fama.runs.runner import AgentSetup, EpisodeJob, GraphEpisodeExecutor, agent_setup
from tests.fake_env import FakeShopEnv, make_context, tool_call
from tests.fakes import Reply, ScriptedChatModel

FAST = RetryPolicy(attempts=2, initial_backoff_s=0.0)


class PhoneShopEnv(FakeShopEnv):
    """The fake shop plus the user's phone: ``check_signal`` and ``toggle_airplane_mode``."""

    def __init__(self) -> None:
        super().__init__()
        self.airplane = True

    def check_signal(self) -> str:
        """Check the phone's signal."""
        return "No signal" if self.airplane else "4 bars"

    def toggle_airplane_mode(self) -> str:
        """Switch airplane mode on or off."""
        self.airplane = not self.airplane
        return f"Airplane mode is now {'ON' if self.airplane else 'OFF'}"

    def user_tools(self) -> list[BaseTool]:
        """The phone's tools."""
        return [
            StructuredTool.from_function(func=self.check_signal),
            StructuredTool.from_function(func=self.toggle_airplane_mode),
        ]

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Agent calls go to the shop, user calls to the phone."""
        if requestor == "assistant":
            return super().execute(name, arguments, requestor)
        self.calls.append((name, arguments, requestor))
        phone = {
            "check_signal": self.check_signal,
            "toggle_airplane_mode": self.toggle_airplane_mode,
        }
        if name not in phone:
            return ToolOutput(f"Error: Tool '{name}' not found.", error=True)
        return ToolOutput(phone[name](**arguments))


class BatchShopEnv(FakeShopEnv):
    """The fake shop running a message's calls as one batch that stops at the first error."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[tuple[str, dict[str, Any]]]] = []

    def execute_batch(
        self, calls: list[tuple[str, dict[str, Any]]], requestor: str
    ) -> list[ToolOutput]:
        """Run the calls in order; after an error the rest are skipped."""
        self.batches.append(list(calls))
        outputs: list[ToolOutput] = []
        for name, args in calls:
            if outputs and outputs[-1].error:
                outputs.append(ToolOutput("Error: skipped after an earlier error", error=True))
            else:
                outputs.append(self.execute(name, args, requestor))
        return outputs


def user_call(name: str, call_id: str, text: str = "", **args: Any) -> AIMessage:
    """A user-model reply calling one phone tool."""
    return AIMessage(
        content=text, tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )


def agent_prompts(ctx: EpisodeContext) -> list[list[BaseMessage]]:
    return ctx.agent_model.calls  # type: ignore[attr-defined,no-any-return]


# ------------------------------------------------------------------- end conditions


async def test_agent_stop_phrase_ends_without_asking_the_user() -> None:
    ctx = make_context(
        [
            tool_call("get_price", {"item_id": "apple"}, text="finish conversation"),
            "It costs 2.0. finish conversation",
        ],
        ["What does an apple cost?"],
        agent_stop_phrases=("finish conversation",),
    )
    result = await run_episode(ctx)
    assert result.termination == "agent_stop"
    assert result.records[-1] == {
        "role": "assistant",
        "content": "It costs 2.0. finish conversation",
    }
    assert len(ctx.user.histories) == 1  # type: ignore[attr-defined]  # asked once, at the start
    assert result.steps == 4  # user, agent tool call, results, agent text


async def test_user_stop_tokens_come_from_the_context() -> None:
    ctx = make_context(
        ["Hello.", "Bye."],
        ["Hi ###STOP###", "ok, finish conversation"],
        user_stop_tokens=("finish conversation",),
    )
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    assert [r["content"] for r in result.records[1:]] == [
        "Hi ###STOP###",
        "Hello.",
        "ok, finish conversation",
    ]
    done = await run_episode(
        make_context([], [], user_stop_tokens=("finish conversation",)),
        initial_messages=[HumanMessage("finish conversation")],
    )
    assert done.termination == "user_stop" and done.steps == 0


async def test_a_terminal_tool_ends_the_episode_after_its_batch() -> None:
    env = FakeShopEnv()
    ctx = make_context(
        [tool_call("transfer_to_human_agents", {"summary": "wants a refund"})],
        ["I want a refund."],
        env=env,
        terminal_tools=frozenset({"transfer_to_human_agents"}),
    )
    result = await run_episode(ctx)  # the agent is not asked again: its script is empty
    assert result.termination == "agent_stop"
    assert result.records[-1]["role"] == "tool"
    assert result.records[-1]["content"] == "Transfer successful"
    assert [c[0] for c in env.calls] == ["transfer_to_human_agents"]


async def test_max_agent_turns_after_a_text_the_user_still_answers() -> None:
    ctx = make_context(
        [tool_call("get_price", {"item_id": "apple"}), "It costs 2.0."],
        ["Apple price?", "Thanks."],
        max_agent_turns=2,
    )
    result = await run_episode(ctx)
    assert result.termination == "max_steps"
    assert result.records[-1] == {"role": "user", "content": "Thanks."}
    stopping = make_context(
        ["It costs 2.0."], ["Apple price?", "Thanks ###STOP###"], max_agent_turns=1
    )
    assert (await run_episode(stopping)).termination == "user_stop"  # a stop on that answer wins


async def test_max_agent_turns_after_a_tool_batch_and_opening_messages_not_counted() -> None:
    opening: list[Any] = [
        AIMessage(GREETING),
        HumanMessage("hi"),
        AIMessage("Hello!"),
        HumanMessage("Apple price?"),
    ]
    ctx = make_context([tool_call("get_price", {"item_id": "apple"})], [], max_agent_turns=1)
    result = await run_episode(ctx, initial_messages=opening)
    assert result.termination == "max_steps"
    assert result.records[-1]["role"] == "tool" and result.steps == 2


async def test_a_terminal_tool_on_the_last_turn_is_an_agent_stop() -> None:
    ctx = make_context(
        [tool_call("transfer_to_human_agents", {"summary": "x"})],
        ["help"],
        terminal_tools=frozenset({"transfer_to_human_agents"}),
        max_agent_turns=1,
    )
    assert (await run_episode(ctx)).termination == "agent_stop"


def test_context_validates_and_normalises_the_loop_features() -> None:
    ctx = make_context([], terminal_tools=["transfer"], agent_stop_phrases=["bye"])
    assert ctx.terminal_tools == frozenset({"transfer"}) and ctx.agent_stop_phrases == ("bye",)
    assert ctx.user_stop_tokens == ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
    with pytest.raises(ValueError, match="user_stop_tokens"):
        make_context([], user_stop_tokens="finish conversation")
    with pytest.raises(ValueError, match="agent_stop_phrases"):
        make_context([], agent_stop_phrases=("",))
    with pytest.raises(ValueError, match="terminal_tools"):
        make_context([], terminal_tools=frozenset({1}))
    with pytest.raises(ValueError, match="max_agent_turns"):
        make_context([], max_agent_turns=0)


# ------------------------------------------------------------------- dual control


def phone_context(
    user_replies: Sequence[Any], agent_replies: Sequence[Any], **settings: Any
) -> EpisodeContext:
    env = settings.pop("env", PhoneShopEnv())
    user = LLMUserSimulator(
        ScriptedChatModel(user_replies),
        "You are a customer.",
        retries=FAST,
        tools=env_user_tools(env),
    )
    return EpisodeContext(
        env=env,
        agent_model=ScriptedChatModel(agent_replies),
        user=user,
        system_prompt="SYSTEM",
        retry=FAST,
        **settings,
    )


def sees_error_result(messages: list[BaseMessage]) -> str:
    last = messages[-1]
    assert isinstance(last, ToolMessage) and last.status == "error"
    return "Done, airplane mode is off."


async def test_dual_control_episode() -> None:
    env = PhoneShopEnv()
    ctx = phone_context(
        [
            "My phone has no internet.",
            user_call("toggle_airplane_mode", "u1", text="Let me try."),
            user_call("fly", "u2", text="###STOP###"),  # a tool call: its stop token is ignored
            sees_error_result,
            "No thanks ###STOP###",
        ],
        ["Please turn off airplane mode.", "Great, anything else?"],
        env=env,
    )
    result = await run_episode(ctx)
    assert result.termination == "user_stop" and not env.airplane
    assert [(r["role"], r.get("requestor")) for r in result.records] == [
        ("assistant", None),
        ("user", None),
        ("assistant", None),
        ("user", None),
        ("tool", "user"),
        ("user", None),
        ("tool", "user"),
        ("user", None),
        ("assistant", None),
        ("user", None),
    ]
    assert result.records[3]["tool_calls"] == [
        {"id": "u1", "name": "toggle_airplane_mode", "arguments": {}}
    ]
    assert result.records[4]["content"] == "Airplane mode is now OFF"
    assert result.records[6]["error"] is True
    assert result.steps == 9 and result.tool_errors == 1
    assert [t["node"] for t in result.node_timings] == [
        "user", "agent", "user", "user_tools", "user", "user_tools", "user", "agent", "user",
    ]  # fmt: skip
    assert [c[2] for c in env.calls] == ["user", "user"]
    # the records round-trip
    assert to_records([from_record(r) for r in result.records]) == result.records
    # the agent never saw the user's tool use, nor the text of those messages
    for prompt in agent_prompts(ctx):
        assert not any(isinstance(m, ToolMessage) for m in prompt)
        texts = " ".join(m.text for m in prompt)
        assert "Let me try" not in texts and "Airplane mode is now" not in texts
        assert "###STOP###" not in texts
    assert "Done, airplane mode is off." in agent_prompts(ctx)[-1][-1].text
    # the user model had its tools and saw its own results
    user_model: ScriptedChatModel = ctx.user.model  # type: ignore[attr-defined]
    assert [t.name for t in user_model.bound_tools] == ["check_signal", "toggle_airplane_mode"]
    third_prompt = user_model.calls[2]
    assert isinstance(third_prompt[-1], ToolMessage)
    assert third_prompt[-1].content == "Airplane mode is now OFF"


async def test_user_tool_errors_count_toward_max_errors() -> None:
    ctx = phone_context(["No internet.", user_call("fly", "u1")], ["Try again."], max_errors=1)
    result = await run_episode(ctx)
    assert result.termination == "too_many_errors" and result.tool_errors == 1
    assert result.records[-1]["role"] == "tool" and result.records[-1]["requestor"] == "user"


async def test_limits_wait_for_the_users_tool_results() -> None:
    ctx = phone_context(
        ["No internet.", user_call("check_signal", "u1")], ["Check your signal."], max_steps=3
    )
    result = await run_episode(ctx)
    assert result.termination == "max_steps" and result.steps == 4
    assert result.records[-1] == {
        "role": "tool",
        "content": "No signal",
        "tool_call_id": "u1",
        "name": "check_signal",
        "requestor": "user",
        "error": False,
    }


async def test_a_scripted_user_can_call_tools_of_an_env_without_user_tools() -> None:
    env = FakeShopEnv()  # no user_tools: its execute answers the user's call with an error
    call = user_tool_call_message("", [{"id": "u1", "name": "check_signal", "args": {}}])
    ctx = make_context([], [call, "bye ###STOP###"], env=env)
    result = await run_episode(ctx)
    assert result.termination == "user_stop" and result.tool_errors == 1
    assert result.records[2]["content"] == "Error: Tool 'check_signal' not found."
    assert env.calls == [("check_signal", {}, "user")]
    assert env_user_tools(env) == []


def test_agent_view_drops_user_tool_use_only() -> None:
    calls = [{"id": "u1", "name": "check_signal", "args": {}}]
    messages: list[Any] = [
        AIMessage(GREETING),
        HumanMessage("hi"),
        user_tool_call_message("checking", calls),
        ToolMessage("4 bars", tool_call_id="u1", additional_kwargs={"requestor": "user"}),
        tool_call("get_price", {"item_id": "apple"}),
        ToolMessage("2.0", tool_call_id="c1", additional_kwargs={"requestor": "assistant"}),
    ]
    assert agent_view(messages) == [messages[0], messages[1], messages[4], messages[5]]
    assert user_tool_call_message("plain", []).additional_kwargs == {}


# ------------------------------------------------------------------- batch execution


def test_execute_batch_runs_a_message_at_once() -> None:
    env = BatchShopEnv()
    message = AIMessage(
        content="",
        tool_calls=[
            {"name": "get_price", "args": {"item_id": "kiwi"}, "id": "a", "type": "tool_call"},
            {"name": "get_price", "args": {"item_id": "apple"}, "id": "b", "type": "tool_call"},
            {"name": "set_price", "args": {}, "id": "c", "type": "tool_call"},
        ],
    )
    message.tool_calls[2]["args"] = ["apple", 5]  # type: ignore[typeddict-item]  # bypasses validation
    results = execute_tool_calls(env, message)
    assert [r.tool_call_id for r in results] == ["a", "b", "c"]
    assert [r.content for r in results] == [
        "Error: Item not found: kiwi",
        "Error: skipped after an earlier error",
        "Error: the arguments of tool 'set_price' must be a JSON object.",
    ]
    assert env.batches == [
        [("get_price", {"item_id": "kiwi"}), ("get_price", {"item_id": "apple"})]
    ]


def test_a_broken_batch_executor() -> None:
    class Raising(FakeShopEnv):
        def execute_batch(self, calls: list[Any], requestor: str) -> list[ToolOutput]:
            raise RuntimeError("disk on fire")

    class Short(FakeShopEnv):
        def execute_batch(self, calls: list[Any], requestor: str) -> list[ToolOutput]:
            return []

    call = tool_call("get_price", {"item_id": "apple"})
    [result] = execute_tool_calls(Raising(), call)
    assert result.status == "error" and result.content == "Error: disk on fire"
    with pytest.raises(ValueError, match="0 outputs for 1 tool calls"):
        execute_tool_calls(Short(), call)


async def test_batch_errors_are_counted_in_an_episode() -> None:
    env = BatchShopEnv()
    calls = AIMessage(
        content="",
        tool_calls=[
            {"name": "get_price", "args": {"item_id": "kiwi"}, "id": "a", "type": "tool_call"},
            {"name": "get_price", "args": {"item_id": "pear"}, "id": "b", "type": "tool_call"},
        ],
    )
    ctx = make_context([calls, "Sorry."], ["Prices?", "ok ###STOP###"], env=env)
    result = await run_episode(ctx)
    assert result.tool_errors == 2 and len(env.batches) == 1


# ------------------------------------------------------------------- runner


async def test_executor_opening_messages_user_with_env_and_live_env_scoring() -> None:
    made: dict[str, Any] = {}

    def make_user(task: Any, env: Any) -> LLMUserSimulator:
        made["env"] = env
        replies: list[Reply] = [user_call("toggle_airplane_mode", "u1"), "It works ###STOP###"]
        return LLMUserSimulator(ScriptedChatModel(replies), "sys", tools=env_user_tools(env))

    async def evaluate(task: Any, env: Any, result: EpisodeResult) -> RewardInfo:
        return RewardInfo(reward=float(env is made["env"] and not env.airplane))

    executor = GraphEpisodeExecutor(
        make_env=lambda task: PhoneShopEnv(),
        make_user=make_user,
        agent_model=ScriptedChatModel(["Please turn off airplane mode."]),
        agent=AgentSetup("fc", None, lambda env: "SYSTEM", ()),
        evaluate=evaluate,
        context_options={"retry": FAST},
        initial_messages=lambda task: [HumanMessage(f"Help with task {task.id}")],
    )
    outcome = await executor(EpisodeJob("t1", 0, 1, task=SimpleNamespace(id="t1")))
    assert (outcome.status, outcome.termination, outcome.reward) == ("done", "user_stop", 1.0)
    assert outcome.records[0] == {"role": "user", "content": "Help with task t1"}
    assert outcome.steps == 4  # agent, user tool call, its result, user text


def test_agent_prompt_names_the_system_prompt_template(monkeypatch: pytest.MonkeyPatch) -> None:
    from fama.prompts import registry

    original = registry.load_prompt
    custom = registry.Prompt("bench_agent", "v1", "Follow this policy:\n{policy}")

    def load(
        name: str, version: str | None = None, root: Path = registry.PROMPTS_DIR
    ) -> registry.Prompt:
        return custom if name == "bench_agent" else original(name, version, root)

    monkeypatch.setattr(registry, "load_prompt", load)
    env = FakeShopEnv()
    for kind in ("fc", "fama"):
        setup = agent_setup(kind, mode="all", agent_prompt="bench_agent")
        assert setup.system_prompt(env) == f"Follow this policy:\n{env.policy}"
        assert setup.prompt_refs[0] == custom.ref
    assert agent_setup("fc").prompt_refs[0]["name"] == "tau2_agent"


def test_episode_result_keeps_fama_decisions() -> None:
    from fama.graph.episode import episode_result, initial_state

    state = initial_state(None)
    decision = {
        "message_index": 1,
        "mode": "all",
        "diagnosis": {},
        "active_helpers": ["memory"],
        "guidance": [],
    }
    state["fama_decisions"] = [decision]  # type: ignore[list-item]
    assert episode_result(state).extra == {"fama_decisions": [decision]}
