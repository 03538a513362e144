"""Official tau2 scoring: DB replay, env assertions, COMMUNICATE, ACTION, NL judge, combining."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from fama.core.env import ToolKind, ToolOutput
from fama.core.retry import RetryPolicy
from fama.core.trajectory import MessageRecord
from fama.envs.tau2.db import clone
from fama.envs.tau2.environment import Tau2Domain
from fama.envs.tau2.evaluation import (
    action_matches,
    evaluate_episode,
    load_judge_prompts,
    parse_judge_answer,
    render_judge_trajectory,
    trajectory_tool_calls,
)
from fama.envs.tau2.tasks import GoldAction, Task, load_tasks
from fama.llm.call import ModelUnavailableError
from tests.fakes import ScriptedChatModel

GREETING: MessageRecord = {"role": "assistant", "content": "Hi! How can I help you today?"}
STOP: MessageRecord = {"role": "user", "content": "Thanks, bye. ###STOP###"}
NO_BACKOFF = RetryPolicy(attempts=2, initial_backoff_s=0.0)

# ---------------------------------------------------------------------------------------------
# Fakes: a tiny key-value world, optionally with a user side (a telecom-like dual control env)


class FakeToolkit:
    """Functions env assertions can call."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def assert_value_is(self, key: str, value: Any) -> bool:
        return self.state.get(key) == value

    def count(self) -> int:
        return len(self.state)

    def explode(self) -> bool:
        raise RuntimeError("boom")


class FakeEnv:
    """Tools: ``set`` (write), ``get`` (read), ``transfer`` (generic); ``user_set`` for users."""

    KINDS: ClassVar[dict[str, ToolKind]] = {"set": "write", "get": "read", "transfer": "generic"}

    def __init__(self, initial: dict[str, Any], with_user: bool) -> None:
        self.state = dict(initial)
        self.user_state: dict[str, Any] = {}
        self.with_user = with_user
        self.toolkit = FakeToolkit(self.state)
        self.executed: list[tuple[str, str]] = []
        self.syncs = 0

    def tool_kind(self, name: str) -> ToolKind | None:
        if self.with_user and name == "user_set":
            return "write"
        return self.KINDS.get(name)

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        self.executed.append((requestor, name))
        if requestor == "user":
            if name != "user_set" or not self.with_user:
                return ToolOutput(f"Error: Tool '{name}' not found.", error=True)
            self.user_state[arguments["key"]] = arguments["value"]
            return ToolOutput("ok")
        if name == "set":
            if arguments.get("key") == "forbidden":
                return ToolOutput("Error: forbidden key", error=True)
            self.state[arguments["key"]] = arguments["value"]
            return ToolOutput(json.dumps({"key": arguments["key"], "value": arguments["value"]}))
        if name == "get":
            return ToolOutput(json.dumps(self.state.get(arguments["key"])))
        if name == "transfer":
            return ToolOutput("Transfer successful")
        return ToolOutput(f"Error: Tool '{name}' not found.", error=True)

    def db_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.state, sort_keys=True).encode()).hexdigest()

    @property
    def user_toolkit(self) -> FakeToolkit | None:
        return FakeToolkit(self.user_state) if self.with_user else None

    def user_db_hash(self) -> str | None:
        if not self.with_user:
            return None
        return hashlib.sha256(json.dumps(self.user_state, sort_keys=True).encode()).hexdigest()

    def sync(self) -> None:
        self.syncs += 1


class FakeDomain:
    def __init__(self, initial: dict[str, Any] | None = None, with_user: bool = False) -> None:
        self.initial = initial or {"a": 1}
        self.with_user = with_user
        self.envs: list[FakeEnv] = []

    def new_environment(self, task: Task | None = None) -> FakeEnv:
        env = FakeEnv(self.initial, self.with_user)
        self.envs.append(env)
        return env


def make_task(**criteria: Any) -> Task:
    return Task.model_validate(
        {
            "id": "t",
            "user_scenario": {"instructions": "do it"},
            "evaluation_criteria": criteria,
        }
    )


def call_records(
    calls: list[tuple[str, dict[str, Any]]],
    outputs: list[str] | None = None,
    role: str = "assistant",
) -> list[MessageRecord]:
    """One message with several tool calls, then one tool message per call."""
    records: list[MessageRecord] = [
        {
            "role": role,  # type: ignore[typeddict-item]
            "content": "",
            "tool_calls": [
                {"id": f"c{i}", "name": name, "arguments": args}
                for i, (name, args) in enumerate(calls)
            ],
        }
    ]
    for i, (name, _) in enumerate(calls):
        records.append(
            {
                "role": "tool",
                "content": outputs[i] if outputs else "",
                "tool_call_id": f"c{i}",
                "name": name,
                "requestor": role,  # type: ignore[typeddict-item]
                "error": False,
            }
        )
    return records


def set_output(key: str, value: Any) -> str:
    return json.dumps({"key": key, "value": value})


# ---------------------------------------------------------------------------------------------
# Gating and combining


async def test_no_evaluation_criteria_scores_one() -> None:
    task = Task.model_validate({"id": "x", "user_scenario": {"instructions": "hi"}})
    info = await evaluate_episode(FakeDomain(), task, [GREETING], "user_stop", judge=None)
    assert info.reward == 1.0
    assert info.components == {}


@pytest.mark.parametrize("termination", ["max_steps", "too_many_errors", None])
async def test_premature_end_scores_zero_but_keeps_diagnostics(termination: str | None) -> None:
    task = make_task(actions=[], reward_basis=["DB"])
    info = await evaluate_episode(FakeDomain(), task, [GREETING], termination, judge=None)
    assert info.reward == 0.0
    assert info.components["DB"] == 1.0
    assert "prematurely" in info.details["note"]


async def test_premature_end_does_not_call_the_judge() -> None:
    task = make_task(nl_assertions=["Agent is polite."], reward_basis=["NL_ASSERTION"])
    judge = ScriptedChatModel([])
    info = await evaluate_episode(FakeDomain(), task, [GREETING], "max_steps", judge=judge)
    assert info.reward == 0.0
    assert judge.calls == []
    assert "NL_ASSERTION" not in info.components


async def test_reward_is_product_of_basis_components_only() -> None:
    gold = [{"action_id": "0", "name": "set", "arguments": {"key": "b", "value": 2}}]
    records = [GREETING, *call_records([("set", {"key": "b", "value": 2})]), STOP]
    # COMMUNICATE fails but is not in the basis: diagnostic only.
    task = make_task(actions=gold, communicate_info=["never said"], reward_basis=["DB"])
    info = await evaluate_episode(FakeDomain(), task, records, "user_stop", judge=None)
    assert info.components == {"DB": 1.0, "ENV_ASSERTION": 1.0, "COMMUNICATE": 0.0, "ACTION": 1.0}
    assert info.reward == 1.0
    both = make_task(
        actions=gold, communicate_info=["never said"], reward_basis=["DB", "COMMUNICATE"]
    )
    info = await evaluate_episode(FakeDomain(), both, records, "agent_stop", judge=None)
    assert info.reward == 0.0
    assert info.reward_basis == ["DB", "COMMUNICATE"]


# ---------------------------------------------------------------------------------------------
# DB replay (fakes)


async def test_db_replays_only_writes_and_skips_unknown_tools() -> None:
    domain = FakeDomain()
    gold = [
        {"action_id": "0", "name": "get", "arguments": {"key": "a"}},
        {"action_id": "1", "name": "set", "arguments": {"key": "b", "value": 2}},
    ]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get", {"key": "a"}),
        ("invented_tool", {"x": 1}),
        ("transfer", {}),
        ("set", {"key": "b", "value": 2}),
    ]
    records = [
        GREETING,
        *call_records(calls, ["1", "Error", "Transfer successful", set_output("b", 2)]),
        STOP,
    ]
    info = await evaluate_episode(
        domain, make_task(actions=gold, reward_basis=["DB"]), records, "user_stop", judge=None
    )
    assert info.reward == 1.0
    db = info.details["DB"]
    assert db["match"] and db["gold_hash"] == db["predicted_hash"]
    assert db["replayed_writes"] == 1
    assert db["unknown_tools"] == ["invented_tool"]
    assert db["replay_mismatches"] == []
    gold_env, predicted_env = domain.envs
    assert gold_env.executed == [("assistant", "get"), ("assistant", "set")]
    assert predicted_env.executed == [("assistant", "set")]
    assert predicted_env.syncs == 1 and gold_env.syncs == 0


async def test_db_mismatch_and_missing_write() -> None:
    gold = [{"action_id": "1", "name": "set", "arguments": {"key": "b", "value": 2}}]
    task = make_task(actions=gold, reward_basis=["DB"])
    wrong = [GREETING, *call_records([("set", {"key": "b", "value": 3})]), STOP]
    info = await evaluate_episode(FakeDomain(), task, wrong, "user_stop", judge=None)
    assert info.reward == 0.0
    assert info.details["DB"]["gold_hash"] != info.details["DB"]["predicted_hash"]
    nothing = await evaluate_episode(FakeDomain(), task, [GREETING, STOP], "user_stop", judge=None)
    assert nothing.reward == 0.0


async def test_failing_gold_actions_are_swallowed_and_reported() -> None:
    gold = [
        {"action_id": "0", "name": "set", "arguments": {"key": "forbidden", "value": 1}},
        {"action_id": "1", "name": "get", "arguments": {"key": "zzz"}},
    ]
    info = await evaluate_episode(
        FakeDomain(),
        make_task(actions=gold, reward_basis=["DB"]),
        [GREETING, STOP],
        "user_stop",
        judge=None,
    )
    assert info.reward == 1.0  # the failing write changed nothing, like doing nothing
    errors = info.details["DB"]["gold_errors"]
    assert [(e["action_id"], e["mutating"]) for e in errors] == [("0", True)]
    assert info.details["DB"]["gold_replay_incomplete"] is True


async def test_strict_replay_mismatch_is_reported_and_optionally_fatal() -> None:
    gold = [{"action_id": "1", "name": "set", "arguments": {"key": "b", "value": 2}}]
    task = make_task(actions=gold, reward_basis=["DB"])
    records = [
        GREETING,
        *call_records([("set", {"key": "b", "value": 2})], ["something else"]),
        STOP,
    ]
    lenient = await evaluate_episode(FakeDomain(), task, records, "user_stop", judge=None)
    assert lenient.reward == 1.0
    [mismatch] = lenient.details["DB"]["replay_mismatches"]
    assert mismatch["recorded"] == "something else"
    assert mismatch["replayed"] == set_output("b", 2)
    strict = await evaluate_episode(
        FakeDomain(), task, records, "user_stop", judge=None, strict_replay=True
    )
    assert strict.reward == 0.0 and "strict" in strict.details["note"]
    # JSON outputs compare after parsing, so formatting differences are not mismatches.
    reformatted = json.dumps({"value": 2, "key": "b"}, indent=2)
    same = [GREETING, *call_records([("set", {"key": "b", "value": 2})], [reformatted]), STOP]
    info = await evaluate_episode(
        FakeDomain(), task, same, "user_stop", judge=None, strict_replay=True
    )
    assert info.reward == 1.0 and info.details["DB"]["replay_mismatches"] == []


async def test_user_side_calls_and_user_db_hash_are_compared() -> None:
    domain = FakeDomain(with_user=True)
    gold = [
        {
            "action_id": "0",
            "requestor": "user",
            "name": "user_set",
            "arguments": {"key": "wifi", "value": True},
        },
    ]
    task = make_task(actions=gold, reward_basis=["DB"])
    good = [
        GREETING,
        *call_records([("user_set", {"key": "wifi", "value": True})], ["ok"], role="user"),
        STOP,
    ]
    info = await evaluate_episode(domain, task, good, "user_stop", judge=None)
    assert info.reward == 1.0
    assert info.details["DB"]["gold_user_hash"] == info.details["DB"]["predicted_user_hash"]
    assert domain.envs[1].executed == [("user", "user_set")]
    # Same agent DB, different user DB -> DB fails.
    bad = [
        GREETING,
        *call_records([("user_set", {"key": "wifi", "value": False})], ["ok"], role="user"),
        STOP,
    ]
    info = await evaluate_episode(FakeDomain(with_user=True), task, bad, "user_stop", judge=None)
    assert info.details["DB"]["gold_hash"] == info.details["DB"]["predicted_hash"]
    assert info.reward == 0.0


def test_tool_results_are_paired_by_id_then_by_position() -> None:
    records: list[MessageRecord] = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "x", "name": "set", "arguments": {"key": "a", "value": 1}},
                {"id": "y", "name": "get", "arguments": {"key": "a"}},
            ],
        },
        {"role": "tool", "content": "second", "tool_call_id": "y"},
        {"role": "tool", "content": "first", "tool_call_id": "x"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "", "name": "get", "arguments": "oops"}],  # type: ignore[typeddict-item]
        },
        {"role": "tool", "content": "third", "tool_call_id": ""},
    ]
    calls = trajectory_tool_calls(records)
    assert [(c.name, c.recorded["content"] if c.recorded else None) for c in calls] == [
        ("set", "first"),
        ("get", "second"),
        ("get", "third"),
    ]
    assert calls[2].arguments is None


# ---------------------------------------------------------------------------------------------
# ENV_ASSERTION (fake toolkit)


async def test_env_assertions_call_toolkit_functions() -> None:
    domain = FakeDomain(with_user=True)
    records = [
        GREETING,
        *call_records([("set", {"key": "b", "value": 2})]),
        *call_records([("user_set", {"key": "wifi", "value": True})], role="user"),
        STOP,
    ]
    passing = make_task(
        env_assertions=[
            {
                "env_type": "assistant",
                "func_name": "assert_value_is",
                "arguments": {"key": "b", "value": 2},
            },
            {
                "env_type": "user",
                "func_name": "assert_value_is",
                "arguments": {"key": "wifi", "value": True},
            },
            {
                "env_type": "assistant",
                "func_name": "assert_value_is",
                "arguments": {"key": "b", "value": 9},
                "assert_value": False,
            },
        ],
        reward_basis=["ENV_ASSERTION"],
    )
    info = await evaluate_episode(domain, passing, records, "user_stop", judge=None)
    assert info.reward == 1.0
    assert [c["met"] for c in info.details["ENV_ASSERTION"]] == [True, True, True]


@pytest.mark.parametrize(
    ("func_name", "env_type", "error"),
    [
        ("count", "assistant", "not bool"),
        ("explode", "assistant", "boom"),
        ("nope", "assistant", "not a function"),
        ("_private", "assistant", "not a function"),
        ("count", "user", "no user toolkit"),
    ],
)
async def test_broken_env_assertions_fail_without_crashing(
    func_name: str, env_type: str, error: str
) -> None:
    task = make_task(
        env_assertions=[{"env_type": env_type, "func_name": func_name, "arguments": {}}],
        reward_basis=["ENV_ASSERTION"],
    )
    info = await evaluate_episode(FakeDomain(), task, [GREETING, STOP], "user_stop", judge=None)
    assert info.reward == 0.0
    [check] = info.details["ENV_ASSERTION"]
    assert check["met"] is False and error in check["error"]


# ---------------------------------------------------------------------------------------------
# COMMUNICATE


@pytest.mark.parametrize(
    ("text", "met"),
    [
        ("Your total is $1,628.", True),
        ("Your total is 1628 dollars.", True),
        ("Your total is $1,629.", False),
    ],
)
async def test_communicate_strips_commas_from_the_message(text: str, met: bool) -> None:
    task = make_task(communicate_info=["1628"], reward_basis=["COMMUNICATE"])
    records: list[MessageRecord] = [GREETING, {"role": "assistant", "content": text}, STOP]
    info = await evaluate_episode(FakeDomain(), task, records, "user_stop", judge=None)
    assert info.reward == (1.0 if met else 0.0)


async def test_communicate_counts_only_assistant_text() -> None:
    task = make_task(communicate_info=["Polyester", "cotton"], reward_basis=["COMMUNICATE"])
    records: list[MessageRecord] = [
        GREETING,
        {"role": "user", "content": "polyester or cotton?"},
        {"role": "tool", "content": "polyester cotton", "tool_call_id": "c"},
        {
            "role": "assistant",
            "content": "We have POLYESTER.",
            "tool_calls": [{"id": "c", "name": "get", "arguments": {"key": "a"}}],
        },
        STOP,
    ]
    info = await evaluate_episode(FakeDomain(), task, records, "user_stop", judge=None)
    assert [c["met"] for c in info.details["COMMUNICATE"]] == [True, False]
    assert info.details["COMMUNICATE"][0]["message_index"] == 3
    assert info.reward == 0.0
    # A comma in the expected string can never match: commas are removed from messages only.
    task = make_task(communicate_info=["1,628"], reward_basis=["COMMUNICATE"])
    records = [GREETING, {"role": "assistant", "content": "It is 1,628."}, STOP]
    assert (
        await evaluate_episode(FakeDomain(), task, records, "user_stop", judge=None)
    ).reward == 0.0


# ---------------------------------------------------------------------------------------------
# ACTION


def gold_action(**fields: Any) -> GoldAction:
    return GoldAction.model_validate({"action_id": "g", **fields})


@pytest.mark.parametrize(
    ("gold", "name", "arguments", "met"),
    [
        ({"name": "t", "arguments": {"a": 1}}, "t", {"a": 1.0}, True),  # 1 == 1.0
        ({"name": "t", "arguments": {"a": 1}}, "u", {"a": 1}, False),
        ({"name": "t", "arguments": {"a": 1, "b": 2}}, "t", {"a": 1}, True),  # omitted gold arg
        ({"name": "t", "arguments": {"a": 1}}, "t", {"a": 1, "b": 2}, False),  # extra call arg
        ({"name": "t", "arguments": {"a": [1, 2]}}, "t", {"a": [2, 1]}, False),  # list order
        ({"name": "t", "arguments": {"a": 1}}, "t", {}, True),  # no keys to compare
        ({"name": "t", "arguments": {"a": 1}, "compare_args": []}, "t", {"a": 5}, True),
        (
            {"name": "t", "arguments": {"a": 1, "b": 2}, "compare_args": ["a"]},
            "t",
            {"a": 1, "b": 3},
            True,
        ),
        ({"name": "t", "arguments": {"a": 1}, "compare_args": ["a"]}, "t", {"b": 1}, False),
    ],
)
def test_action_matching_semantics(
    gold: dict[str, Any], name: str, arguments: dict[str, Any], met: bool
) -> None:
    assert action_matches(gold_action(**gold), name, arguments) is met


async def test_action_component_counts_user_and_assistant_calls() -> None:
    task = make_task(
        actions=[
            {"action_id": "0", "name": "set", "arguments": {"key": "b", "value": 2}},
            {
                "action_id": "1",
                "requestor": "user",
                "name": "user_set",
                "arguments": {"key": "w", "value": 1},
            },
        ],
        reward_basis=["ACTION"],
    )
    records = [
        GREETING,
        *call_records([("user_set", {"key": "w", "value": 1})], role="user"),
        *call_records([("set", {"key": "b", "value": 2}), ("set", {"key": "b", "value": 2})]),
        STOP,
    ]
    info = await evaluate_episode(
        FakeDomain(with_user=True), task, records, "user_stop", judge=None
    )
    assert info.components["ACTION"] == 1.0 and info.reward == 1.0
    missing = [GREETING, *call_records([("set", {"key": "b", "value": 2})]), STOP]
    info = await evaluate_episode(
        FakeDomain(with_user=True), task, missing, "user_stop", judge=None
    )
    assert [c["met"] for c in info.details["ACTION"]] == [True, False]
    assert info.reward == 0.0


# ---------------------------------------------------------------------------------------------
# NL_ASSERTION judge


def judge_json(*met: bool) -> str:
    return json.dumps(
        {
            "results": [
                {"expectedOutcome": f"o{i}", "reasoning": "because", "metExpectation": m}
                for i, m in enumerate(met)
            ]
        }
    )


NL_TASK = make_task(
    nl_assertions=["Agent greets.", "Agent says 10."], reward_basis=["NL_ASSERTION"]
)
NL_RECORDS: list[MessageRecord] = [
    GREETING,
    {"role": "user", "content": "How many shirts?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c0", "name": "get", "arguments": {"key": "a"}}],
    },
    {"role": "tool", "content": "1", "tool_call_id": "c0"},
    {"role": "assistant", "content": "There are 10."},
    STOP,
]


async def test_judge_met_and_usage_recorded() -> None:
    judge = ScriptedChatModel([judge_json(True, True)])
    info = await evaluate_episode(
        FakeDomain(),
        NL_TASK,
        NL_RECORDS,
        "user_stop",
        judge=judge,
        judge_model_name="openai:gpt-4.1",
    )
    assert info.reward == 1.0 and info.components["NL_ASSERTION"] == 1.0
    assert not info.nl_judge_skipped
    [usage] = info.judge_usage
    assert usage["node"] == "judge" and usage["model"] == "openai:gpt-4.1"
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    details = info.details["NL_ASSERTION"]
    assert details["attempts"] == 1 and [c["met"] for c in details["checks"]] == [True, True]
    assert details["prompt"]["name"] == "nl_judge"
    [[system, user]] = judge.calls
    assert isinstance(system, SystemMessage) and isinstance(user, HumanMessage)
    assert "metExpectation" in str(system.content) and "{{" not in str(system.content)
    assert "assistant: None\ntool: 1\nassistant: There are 10." in str(user.content)
    assert "['Agent greets.', 'Agent says 10.']" in str(user.content)


async def test_judge_not_met() -> None:
    judge = ScriptedChatModel([judge_json(True, False)])
    info = await evaluate_episode(FakeDomain(), NL_TASK, NL_RECORDS, "user_stop", judge=judge)
    assert info.reward == 0.0 and info.components["NL_ASSERTION"] == 0.0
    assert info.judge_usage[0]["model"] == "scripted"


async def test_judge_malformed_then_fixed() -> None:
    fenced = "```json\n" + judge_json(True, True) + "\n```"
    judge = ScriptedChatModel(["I think it is fine.", fenced])
    info = await evaluate_episode(FakeDomain(), NL_TASK, NL_RECORDS, "user_stop", judge=judge)
    assert info.reward == 1.0
    assert len(info.judge_usage) == 2
    details = info.details["NL_ASSERTION"]
    assert details["attempts"] == 2 and len(details["malformed_answers"]) == 1
    retry_prompt = judge.calls[1]
    assert len(retry_prompt) == 4
    assert retry_prompt[2].content == "I think it is fine."
    assert "not a JSON object" in str(retry_prompt[3].content)


async def test_judge_malformed_twice_is_a_recorded_judge_error() -> None:
    judge = ScriptedChatModel(['{"results": []}', '{"results": [{"metExpectation": "maybe"}]}'])
    info = await evaluate_episode(FakeDomain(), NL_TASK, NL_RECORDS, "user_stop", judge=judge)
    assert info.reward == 0.0 and info.components["NL_ASSERTION"] == 0.0
    errors = info.details["NL_ASSERTION"]["judge_error"]
    assert len(errors) == 2 and "non-empty" in errors[0] and "metExpectation" in errors[1]
    assert len(info.judge_usage) == 2


async def test_judge_transient_failure_is_retried_then_unavailable() -> None:
    judge = ScriptedChatModel([ConnectionError("down"), judge_json(True, True)])
    info = await evaluate_episode(
        FakeDomain(), NL_TASK, NL_RECORDS, "user_stop", judge=judge, judge_retries=NO_BACKOFF
    )
    assert info.reward == 1.0
    judge = ScriptedChatModel([ConnectionError("down"), ConnectionError("still down")])
    with pytest.raises(ModelUnavailableError):
        await evaluate_episode(
            FakeDomain(), NL_TASK, NL_RECORDS, "user_stop", judge=judge, judge_retries=NO_BACKOFF
        )


async def test_no_judge_skips_nl_and_excludes_it() -> None:
    gold = [{"action_id": "1", "name": "set", "arguments": {"key": "b", "value": 2}}]
    task = make_task(
        actions=gold, nl_assertions=["Agent sets b."], reward_basis=["DB", "NL_ASSERTION"]
    )
    records = [GREETING, *call_records([("set", {"key": "b", "value": 2})]), STOP]
    info = await evaluate_episode(FakeDomain(), task, records, "user_stop", judge=None)
    assert info.nl_judge_skipped is True
    assert "NL_ASSERTION" not in info.components
    assert info.details["NL_ASSERTION"]["skipped"] is True
    assert info.reward == 1.0


@pytest.mark.parametrize("assertions", [None, []])
async def test_empty_nl_assertions_score_one_without_judge(assertions: list[str] | None) -> None:
    task = make_task(nl_assertions=assertions, reward_basis=["NL_ASSERTION"])
    judge = ScriptedChatModel([])
    info = await evaluate_episode(FakeDomain(), task, [GREETING, STOP], "user_stop", judge=judge)
    assert info.components["NL_ASSERTION"] == 1.0 and info.reward == 1.0
    assert judge.calls == [] and not info.nl_judge_skipped


async def test_judge_not_called_when_nl_not_in_basis() -> None:
    task = make_task(nl_assertions=["x"], reward_basis=["DB"])
    judge = ScriptedChatModel([])
    info = await evaluate_episode(FakeDomain(), task, [GREETING, STOP], "user_stop", judge=judge)
    assert judge.calls == [] and "NL_ASSERTION" not in info.components


@pytest.mark.parametrize(
    ("text", "met"),
    [
        (
            'Sure! {"results": [{"expectedOutcome": "a", "metExpectation": true}]} Done.',
            [True],
        ),
        ('{"results": [{"metExpectation": "False"}, {"metExpectation": true}]}', [False, True]),
    ],
)
def test_parse_judge_answer_accepts_wrapped_json(text: str, met: list[bool]) -> None:
    assert [c["met"] for c in parse_judge_answer(text)] == met


@pytest.mark.parametrize(
    "text", ["", "[1, 2]", '{"verdict": true}', '{"results": ["yes"]}', '{"results": [{}]}']
)
def test_parse_judge_answer_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        parse_judge_answer(text)


def test_judge_prompt_sections_and_rendering() -> None:
    prompts = load_judge_prompts()
    assert prompts.system.variables == set()
    assert prompts.user.variables == {"conversation", "expected_outcomes"}
    assert prompts.retry.variables == {"error"}
    records: list[MessageRecord] = [{"role": "system", "content": "secret policy"}, *NL_RECORDS]
    text = render_judge_trajectory(records)
    assert "secret policy" not in text
    assert text.splitlines()[0] == "assistant: Hi! How can I help you today?"
    assert text.splitlines()[-1] == "user: Thanks, bye. ###STOP###"


# ---------------------------------------------------------------------------------------------
# Real data: trajectories built from the gold actions


def gold_records(
    domain: Tau2Domain,
    task: Task,
    *,
    skip: int | None = None,
    override: tuple[int, dict[str, Any]] | None = None,
    final_text: str = "Your request is complete.",
) -> list[MessageRecord]:
    """A live-like trajectory doing the gold actions (optionally one skipped or altered)."""
    assert task.evaluation_criteria is not None
    env = domain.new_environment(task)
    records: list[MessageRecord] = [GREETING, {"role": "user", "content": "I need help."}]
    for index, action in enumerate(task.evaluation_criteria.actions):
        if index == skip:
            continue
        arguments = clone(action.arguments)
        if override is not None and override[0] == index:
            arguments.update(override[1])
        output = env.execute(action.name, clone(arguments), requestor=action.requestor)
        call_id = f"call_{index}"
        records.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": call_id, "name": action.name, "arguments": arguments}],
            }
        )
        records.append(
            {
                "role": "tool",
                "content": output.content,
                "tool_call_id": call_id,
                "name": action.name,
                "requestor": "assistant",
                "error": output.error,
            }
        )
    records += [{"role": "assistant", "content": final_text}, STOP]
    return records


def first_write(domain: Tau2Domain, task: Task) -> int:
    assert task.evaluation_criteria is not None
    kinds = [domain.tool_kinds.get(a.name) for a in task.evaluation_criteria.actions]
    return kinds.index("write")


@pytest.mark.parametrize("domain_name", ["retail", "airline"])
async def test_every_gold_trajectory_matches_the_gold_db(
    domain_name: str, tau2_data_dir: Path, request: pytest.FixtureRequest
) -> None:
    domain: Tau2Domain = request.getfixturevalue(f"{domain_name}_domain")
    for task in load_tasks(domain_name, data_dir=tau2_data_dir):
        info = await evaluate_episode(
            domain, task, gold_records(domain, task), "user_stop", judge=None
        )
        db = info.details["DB"]
        assert info.components["DB"] == 1.0, task.id
        assert db["replay_mismatches"] == [], task.id


async def test_retail_gold_scores_one_and_skipping_a_write_scores_zero(
    retail_domain: Tau2Domain, tau2_data_dir: Path
) -> None:
    [task] = load_tasks("retail", data_dir=tau2_data_dir, task_ids=["88"])
    info = await evaluate_episode(
        retail_domain, task, gold_records(retail_domain, task), "user_stop", judge=None
    )
    assert info.reward == 1.0 and info.reward_basis == ["DB", "NL_ASSERTION"]
    assert info.details["DB"]["replayed_writes"] == 1
    skipped = gold_records(retail_domain, task, skip=first_write(retail_domain, task))
    info = await evaluate_episode(retail_domain, task, skipped, "user_stop", judge=None)
    assert info.reward == 0.0 and info.components["DB"] == 0.0


async def test_retail_wrong_argument_scores_zero(
    retail_domain: Tau2Domain, tau2_data_dir: Path
) -> None:
    [task] = load_tasks("retail", data_dir=tau2_data_dir, task_ids=["88"])
    index = first_write(retail_domain, task)
    assert task.evaluation_criteria is not None
    gold_reason = task.evaluation_criteria.actions[index].arguments["reason"]
    other = "ordered by mistake" if gold_reason == "no longer needed" else "no longer needed"
    records = gold_records(retail_domain, task, override=(index, {"reason": other}))
    assert not records[-3].get("error")  # the cancellation itself succeeded
    info = await evaluate_episode(retail_domain, task, records, "user_stop", judge=None)
    assert info.reward == 0.0


async def test_airline_untyped_baggage_count_breaks_the_db(
    airline_domain: Tau2Domain, tau2_data_dir: Path
) -> None:
    [task] = load_tasks("airline", data_dir=tau2_data_dir, task_ids=["12"])
    assert task.evaluation_criteria is not None
    index = next(
        i
        for i, a in enumerate(task.evaluation_criteria.actions)
        if a.name == "update_reservation_baggages"
    )
    info = await evaluate_episode(
        airline_domain, task, gold_records(airline_domain, task), "user_stop", judge=None
    )
    assert info.reward == 1.0
    floaty = gold_records(airline_domain, task, override=(index, {"total_baggages": 2.0}))
    info = await evaluate_episode(airline_domain, task, floaty, "user_stop", judge=None)
    assert info.components["DB"] == 0.0 and info.reward == 0.0
    assert info.components["ACTION"] == 1.0  # ACTION compares with Python equality: 2 == 2.0


@pytest.mark.parametrize(
    ("text", "reward"), [("The total is $1,628.", 1.0), ("The total is $1,682.", 0.0)]
)
async def test_airline_communicate_info(
    airline_domain: Tau2Domain, tau2_data_dir: Path, text: str, reward: float
) -> None:
    [task] = load_tasks("airline", data_dir=tau2_data_dir, task_ids=["7"])
    assert task.evaluation_criteria is not None
    assert task.evaluation_criteria.communicate_info == ["1628"]
    records = gold_records(airline_domain, task, final_text=text)
    info = await evaluate_episode(airline_domain, task, records, "user_stop", judge=None)
    assert info.components["DB"] == 1.0
    assert info.reward == reward


async def test_legacy_retail_uses_db_and_communicate(
    retail_domain: Tau2Domain, tau2_data_dir: Path, tau2_legacy_dir: Path
) -> None:
    [task] = load_tasks(
        "retail",
        task_set="legacy",
        data_dir=tau2_data_dir,
        legacy_dir=tau2_legacy_dir,
        task_ids=["16"],
    )
    assert task.evaluation_criteria is not None
    assert task.evaluation_criteria.reward_basis == ["DB", "COMMUNICATE"]
    good = gold_records(retail_domain, task, final_text="Refund total: $8,276.23.")
    info = await evaluate_episode(retail_domain, task, good, "user_stop", judge=None)
    assert info.reward == 1.0
    silent = gold_records(retail_domain, task)
    assert (
        await evaluate_episode(retail_domain, task, silent, "user_stop", judge=None)
    ).reward == 0.0


async def test_transfer_action_with_empty_compare_args(airline_domain: Tau2Domain) -> None:
    task = Task.model_validate(
        {
            "id": "transfer",
            "user_scenario": {"instructions": "ask for a human"},
            "evaluation_criteria": {
                "actions": [
                    {
                        "action_id": "t_0",
                        "name": "transfer_to_human_agents",
                        "arguments": {"summary": "The user wants a human."},
                        "compare_args": [],
                    }
                ],
                "reward_basis": ["ACTION"],
            },
        }
    )
    transfer = call_records(
        [("transfer_to_human_agents", {"summary": "anything else"})], ["Transfer successful"]
    )
    stop: MessageRecord = {"role": "user", "content": "###TRANSFER###"}
    info = await evaluate_episode(
        airline_domain, task, [GREETING, *transfer, stop], "user_stop", judge=None
    )
    assert info.reward == 1.0 and info.details["DB"]["replayed_writes"] == 0
    info = await evaluate_episode(airline_domain, task, [GREETING, STOP], "user_stop", judge=None)
    assert info.reward == 0.0


async def test_retail_nl_task_with_scripted_judge(
    retail_domain: Tau2Domain, tau2_data_dir: Path
) -> None:
    [task] = load_tasks("retail", data_dir=tau2_data_dir, task_ids=["2"])
    assert task.evaluation_criteria is not None and task.evaluation_criteria.nl_assertions
    records = gold_records(
        retail_domain, task, final_text="There are 10 t-shirt options available."
    )
    judge = ScriptedChatModel([judge_json(True)])
    info = await evaluate_episode(
        retail_domain, task, records, "user_stop", judge=judge, judge_model_name="j"
    )
    assert info.components == {
        "DB": 1.0,
        "ENV_ASSERTION": 1.0,
        "COMMUNICATE": 1.0,
        "ACTION": 1.0,
        "NL_ASSERTION": 1.0,
    }
    assert info.reward == 1.0
    prompt = str(judge.calls[0][1].content)
    assert "assistant: There are 10 t-shirt options available." in prompt
    assert "assistant: None" in prompt
