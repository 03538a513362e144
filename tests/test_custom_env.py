"""Users' own domains: tasks JSONL, tools over a per-episode state, outcome checks, and
``--env python:...`` loading with one-line errors."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import StructuredTool, tool

from fama.benchmarks.python_env import EnvLoadError, load_domain
from fama.benchmarks.registry import BenchmarkOptions, load_benchmark, parse_env
from fama.core.trajectory import MessageRecord
from fama.envs.custom import CustomDomain, DomainError, TaskError, parse_tasks, state_digest
from fama.envs.custom.outcome import evaluate_outcome, replay, state_mismatch
from fama.envs.tool_runner import run_tool

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "examples.saas_admin.support:make_env"

TASKS = [
    {
        "id": "a",
        "split": "train",
        "user_scenario": "Set the price of pear to 5.",
        "expected_actions": [{"name": "set_price", "arguments": {"item": "pear", "price": 5}}],
        "expected_state": {"pear": 5},
        "expected_phrases": ["five"],
    },
    {
        "id": "b",
        "split": "test",
        "user_scenario": {"instructions": "Ask the price of apple.", "persona": "terse"},
        "expected_phrases": ["2"],
    },
]


def shop_tools(prices: dict[str, float]) -> list[Any]:
    """A sync write tool, an async-only read tool and a LangChain tool, over ``prices``."""

    def set_price(item: str, price: float) -> str:
        """Set the price of an item.

        Args:
            item: The item.
            price: The new price.
        """
        if item not in prices:
            raise KeyError(f"no item {item}")
        prices[item] = price
        return "ok"

    async def get_price(item: str) -> dict[str, Any]:
        """Get the price of an item.

        Args:
            item: The item.
        """
        await asyncio.sleep(0)
        return {"item": item, "price": prices[item]}

    @tool
    def transfer(summary: str) -> str:
        """Transfer to a human."""
        return "transferred"

    return [set_price, get_price, transfer]


def shop(tasks: list[dict[str, Any]] = TASKS, **overrides: Any) -> CustomDomain:
    values: dict[str, Any] = {
        "name": "shop",
        "policy": "Be nice.",
        "tools": shop_tools,
        "new_state": lambda: {"apple": 2, "pear": 3},
        "tasks": parse_tasks(json.dumps(t) for t in tasks),
        "write_tools": ["set_price"],
        "terminal_tools": ["transfer"],
    }
    values.update(overrides)
    return CustomDomain(**values)


# ------------------------------------------------------------------------------- tasks


def test_tasks_parse_with_defaults_and_checks() -> None:
    first, second = parse_tasks(json.dumps(t) for t in TASKS)
    assert first.basis() == ["DB", "ACTION", "STATE", "COMMUNICATE"]
    assert first.user_scenario.render() == "Instructions:\nSet the price of pear to 5."
    assert second.basis() == ["COMMUNICATE"]
    assert second.user_scenario.render().startswith("Persona:\nterse\n\nInstructions:")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{bad"], "t.jsonl line 1: not JSON"),
        (["", '{"id": "x", "user_scenario": "s"}'], "t.jsonl line 2: no outcome check"),
        (['{"id": "x", "user_scenario": "s", "expected_phrases": [], "color": 1}'], "color"),
        (
            ['{"id": "x", "user_scenario": "s", "expected_phrases": [], "reward_basis": ["DB"]}'],
            "reward_basis names checks the task does not give: ['DB']",
        ),
        (
            [json.dumps(TASKS[1]), "# comment", json.dumps(TASKS[1])],
            "t.jsonl line 3: duplicate task id 'b' (line 1)",
        ),
    ],
)
def test_bad_task_lines_are_one_line_errors(lines: list[str], message: str) -> None:
    with pytest.raises(TaskError) as exc:
        parse_tasks(lines, "t.jsonl")
    assert message in str(exc.value) and "\n" not in str(exc.value)


# --------------------------------------------------------------------- environment


def test_each_episode_gets_its_own_state_and_tools() -> None:
    domain = shop()
    env, other = domain.new_environment(), domain.new_environment()
    assert [t.name for t in env.agent_tools()] == ["set_price", "get_price", "transfer"]
    assert [env.tool_kind(n) for n in ("set_price", "get_price", "transfer", "x")] == [
        "write",
        "read",
        "generic",
        None,
    ]
    assert env.execute("set_price", {"item": "pear", "price": 5}).content == "ok"
    assert env.state == {"apple": 2, "pear": 5} and other.state == {"apple": 2, "pear": 3}
    assert env.digest() == state_digest({"pear": 5.0, "apple": 2}) != other.digest()


async def test_async_tools_run_inside_a_running_loop() -> None:
    env = shop().new_environment()
    out = env.execute("get_price", {"item": "apple"})
    assert (out.content, out.error) == ('{"item": "apple", "price": 2}', False)


def test_tool_failures_are_error_outputs() -> None:
    env = shop().new_environment()
    missing = env.execute("set_price", {"item": "kiwi", "price": 1})
    assert missing.error and missing.content == "Error: 'no item kiwi'"
    bad = env.execute("set_price", {"item": "pear"})
    assert (
        bad.error and bad.content == "Error: invalid arguments for set_price: price: Field required"
    )
    assert env.execute("nope", {}).content == "Error: Tool 'nope' not found."
    sync_only = StructuredTool.from_function(func=lambda: 1 / 0, name="boom", description="b")
    assert run_tool(sync_only, {}).content == "Error: division by zero"


def test_bad_domains_are_clear_errors() -> None:
    with pytest.raises(DomainError, match="give new_state as well"):
        shop(new_state=None)
    with pytest.raises(DomainError, match="non-empty name"):
        shop(name=" ")
    with pytest.raises(DomainError, match=r"write_tools names unknown tools: \['refund'\]"):
        shop(write_tools=["refund"]).new_environment()
    doubled = CustomDomain(name="d", policy="", tools=[shop_tools({})[0]] * 2, tasks=[])
    with pytest.raises(DomainError, match=r"must be unique: \['set_price'\]"):
        doubled.new_environment()


# ------------------------------------------------------------------------- outcome


def said(text: str, *calls: tuple[str, dict[str, Any]]) -> list[MessageRecord]:
    records: list[MessageRecord] = [{"role": "user", "content": "hi"}]
    for n, (name, args) in enumerate(calls):
        records.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": f"c{n}", "name": name, "arguments": args}],
            }
        )
    records.append({"role": "assistant", "content": text})
    return records


def test_outcome_components() -> None:
    domain = shop()
    task = domain.tasks[0]
    expected = replay(domain, task).digest()
    env = domain.new_environment()
    env.execute("set_price", {"item": "pear", "price": 5})
    good = said("Pear now costs FIVE dollars.", ("set_price", {"item": "pear", "price": 5}))
    info = evaluate_outcome(task, env, good, "user_stop", expected)
    assert info.reward == 1.0
    assert info.components == {"DB": 1.0, "ACTION": 1.0, "STATE": 1.0, "COMMUNICATE": 1.0}

    env.execute("set_price", {"item": "apple", "price": 9})  # an extra write: DB fails only
    info = evaluate_outcome(task, env, good, "user_stop", expected)
    assert info.reward == 0.0 and info.components["DB"] == 0.0 and info.components["STATE"] == 1.0

    fresh = domain.new_environment()
    info = evaluate_outcome(task, fresh, said("ok"), "agent_stop", expected)
    assert info.components == {"DB": 0.0, "ACTION": 0.0, "STATE": 0.0, "COMMUNICATE": 0.0}
    assert info.details["STATE"] == {"mismatch": "state.pear: expected 5, found 3"}
    assert info.details["ACTION"]["missing"] == [task.expected_actions[0].model_dump()]  # type: ignore[index]

    capped = evaluate_outcome(task, env, good, "max_steps", expected)
    assert capped.reward == 0.0 and capped.details == {"termination": "max_steps"}


def test_state_mismatch_paths() -> None:
    actual = {"users": {"u1": {"role": "admin", "tags": [1, 2]}}}
    assert state_mismatch({"users": {"u1": {"role": "admin"}}}, actual) is None
    assert state_mismatch({"users": {"u2": {}}}, actual) == "state.users.u2: missing"
    assert state_mismatch({"users": {"u1": {"tags": [1]}}}, actual) == (
        "state.users.u1.tags: expected [1], found [1, 2]"
    )


def test_a_failing_expected_action_is_caught_at_load() -> None:
    broken = [
        {
            **TASKS[0],
            "expected_actions": [{"name": "set_price", "arguments": {"item": "x", "price": 1}}],
        }
    ]
    with pytest.raises(DomainError, match=r"task a: expected action 1 \(set_price\) fails"):
        replay(shop(broken), shop(broken).tasks[0])


# ------------------------------------------------------------------- python: loading


@pytest.fixture
def user_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway importable package ``userpkg`` in the working directory."""
    package = tmp_path / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "envs.py").write_text(
        "def raises():\n    raise RuntimeError('database is locked')\n\n"
        "def wrong():\n    return 42\n\nNOT_CALLABLE = 3\n"
    )
    (package / "broken.py").write_text("import nonexistent_dependency_xyz\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [m for m in sys.modules if m.startswith("userpkg")]:
        monkeypatch.delitem(sys.modules, name)
    return package


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nowhere.mod:make", "python:nowhere.mod:make: cannot import 'nowhere.mod' (No module"),
        ("userpkg.envs:missing", "module 'userpkg.envs' has no attribute 'missing'"),
        ("userpkg.envs:raises", "the factory raised RuntimeError: database is locked"),
        ("userpkg.envs:wrong", "the factory returned int, not a CustomDomain"),
        ("userpkg.envs:NOT_CALLABLE", "int is not a factory"),
        ("userpkg.broken:make", "cannot import 'userpkg.broken' (No module named 'nonexistent"),
        ("no_such_entry_point", "no such entry point is installed"),
        ("missing.py:make", "python:missing.py:make: no file missing.py"),
    ],
)
def test_bad_python_targets_are_one_line_errors(
    user_package: Path, target: str, message: str
) -> None:
    with pytest.raises(EnvLoadError) as exc:
        load_domain(target)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_a_file_path_target_and_the_env_prefix(user_package: Path) -> None:
    (user_package / "mine.py").write_text(
        "from tests.test_custom_env import shop\n\ndef make():\n    return shop()\n"
    )
    loaded = load_benchmark("python:userpkg/mine.py:make", BenchmarkOptions(split="test"))
    assert loaded.domain == "shop" and [t.id for t in loaded.tasks] == ["b"]
    assert parse_env("python:a.b:c") == ("python", "a.b:c")
    with pytest.raises(ValueError, match="python:MODULE:FACTORY"):
        parse_env("nope:x")


def test_the_example_domain_loads_with_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    train = load_benchmark(f"python:{EXAMPLE}", BenchmarkOptions(split="train"))
    test = load_benchmark(f"python:{EXAMPLE}", BenchmarkOptions(split="test"))
    assert len(train.tasks) == 10 and len(test.tasks) == 10
    assert train.domain == "saas-admin" and "explicit confirmation" in train.policy
    assert train.loop_defaults == {"terminal_tools": frozenset({"transfer_to_human_agents"})}
    assert {r["name"] for r in train.data_refs} == {
        "saas-admin_policy",
        "saas-admin_tool_schemas",
        "custom_user",
    }
    with pytest.raises(EnvLoadError, match="tasks: unknown task ids"):
        load_benchmark(f"python:{EXAMPLE}", BenchmarkOptions(split="train", task_ids=["t11"]))


@pytest.mark.parametrize(
    ("style", "marker"), [("chat", "playing a customer"), ("transcript", "chat messages")]
)
def test_own_domains_offer_the_transcript_user(
    monkeypatch: pytest.MonkeyPatch, style: str, marker: str
) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from fama.envs.user_simulator import LLMUserSimulator
    from tests.fakes import fc_parts

    monkeypatch.chdir(REPO)
    loaded = load_benchmark(f"python:{EXAMPLE}", BenchmarkOptions(split="train"))
    assert loaded.user_styles == ("chat", "transcript")
    model = FakeListChatModel(responses=["ok"])
    executor = loaded.make_executor(fc_parts(loaded, model, model, user_style=style))
    task = loaded.tasks[0]
    user = executor.make_user(task, executor.make_env(task))
    assert isinstance(user, LLMUserSimulator)
    assert user.style == style and marker in user.system_prompt
    assert "leo@acme.io" in user.system_prompt  # the scenario is in both
