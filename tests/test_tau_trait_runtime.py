"""The tau-trait runtime: DomainTools contract, per-episode data copies, tau-bench error rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fama.envs.tau_trait.runtime import (
    DomainTools,
    TauTraitDomain,
    load_json_files,
    load_tool_schemas,
)


def _counter_tools() -> DomainTools:
    def get_count(data: dict[str, Any]) -> str:
        return str(data["counter"]["value"])

    def add(data: dict[str, Any], amount: int) -> str:
        if amount < 0:
            return "Error: amount must be positive"
        data["counter"]["value"] += amount
        return "ok"

    def explode(data: dict[str, Any]) -> str:
        raise KeyError("boom")

    def think(data: dict[str, Any], thought: str) -> str:
        return ""

    def transfer(data: dict[str, Any], summary: str) -> str:
        return "Transfer successful"

    return DomainTools(
        name="toy",
        tools={
            "get_count": get_count,
            "add": add,
            "explode": explode,
            "think": think,
            "transfer": transfer,
            "hidden": get_count,
        },
        write_tools=frozenset({"add"}),
        terminal_tools=frozenset({"transfer"}),
        load_data=lambda root: load_json_files(root, "toy", ["counter"]),
    )


def _schema(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} tool.",
            "parameters": {
                "type": "object",
                "properties": params or {},
                "required": list(params or {}),
            },
        },
    }


@pytest.fixture
def toy_root(tmp_path: Path) -> Path:
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "wiki.md").write_text("# Toy policy\n")
    (folder / "counter.json").write_text(json.dumps({"value": 1}))
    schemas = [
        _schema("get_count"),
        _schema("add", {"amount": {"type": "integer", "description": "How much."}}),
        _schema("explode"),
        _schema("think", {"thought": {"type": "string"}}),
        _schema("transfer", {"summary": {"type": "string"}}),
    ]
    (folder / "tool_schemas.json").write_text(json.dumps(schemas))
    return tmp_path


@pytest.fixture
def toy(toy_root: Path) -> TauTraitDomain:
    return TauTraitDomain(_counter_tools(), toy_root)


def test_environment_offers_the_schema_tools_exactly(toy: TauTraitDomain) -> None:
    env = toy.new_environment()
    assert env.policy == "# Toy policy\n"
    tools = env.agent_tools()
    assert [t.name for t in tools] == ["get_count", "add", "explode", "think", "transfer"]
    add = tools[1]
    assert add.description == "The add tool."
    assert add.args_schema == toy.schemas[1]["function"]["parameters"]


def test_tool_kinds(toy: TauTraitDomain) -> None:
    env = toy.new_environment()
    assert env.tool_kind("get_count") == "read"
    assert env.tool_kind("add") == "write"
    assert env.tool_kind("think") == "think"
    assert env.tool_kind("transfer") == "generic"
    assert env.tool_kind("hidden") is None  # implemented but not offered
    assert env.tool_kind("nope") is None


def test_execute_follows_tau_bench_rules(toy: TauTraitDomain) -> None:
    env = toy.new_environment()
    assert env.execute("add", {"amount": 2}).content == "ok"
    assert env.execute("get_count", {}).content == "3"
    out = env.execute("add", {"amount": -1})
    assert (out.content, out.error) == ("Error: amount must be positive", True)
    assert env.execute("explode", {}).content == "Error: 'boom'"
    assert env.execute("explode", {}).error
    unknown = env.execute("hidden", {})
    assert (unknown.content, unknown.error) == ("Unknown action hidden", True)
    missing = env.execute("add", {})
    assert missing.error and missing.content.startswith("Error: ")
    assert "amount" in missing.content
    assert env.execute("add", [1]).error  # type: ignore[arg-type]
    assert env.execute("get_count", {}, requestor="user").content == "Unknown action get_count"


def test_each_environment_has_its_own_copy(toy: TauTraitDomain) -> None:
    first, second = toy.new_environment(), toy.new_environment()
    first.execute("add", {"amount": 5})
    assert first.data["counter"]["value"] == 6
    assert second.data["counter"]["value"] == 1
    assert toy.fresh_data() == {"counter": {"value": 1}}


def test_missing_implementation_and_bad_files_are_clear_errors(
    toy_root: Path, tmp_path: Path
) -> None:
    schemas = json.loads((toy_root / "toy" / "tool_schemas.json").read_text())
    schemas.append(_schema("not_implemented"))
    (toy_root / "toy" / "tool_schemas.json").write_text(json.dumps(schemas))
    with pytest.raises(ValueError, match="no implementation for tools \\['not_implemented'\\]"):
        TauTraitDomain(_counter_tools(), toy_root)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_tool_schemas(bad)
    bad.write_text(json.dumps({"name": "x"}))
    with pytest.raises(ValueError, match="expected a list"):
        load_tool_schemas(bad)
    with pytest.raises(FileNotFoundError, match=r"counter\.json"):
        load_json_files(tmp_path, "elsewhere", ["counter"])
    with pytest.raises(FileNotFoundError, match="domain folder not found"):
        TauTraitDomain(_counter_tools(), tmp_path / "nowhere")


def test_telecom_environment_matches_the_data_folder(tau_trait_data_dir: Path) -> None:
    from fama.envs.tau_trait.telecom import DOMAIN

    domain = TauTraitDomain(DOMAIN, tau_trait_data_dir)
    env = domain.new_environment()
    schemas = json.loads((tau_trait_data_dir / "telecom" / "tool_schemas.json").read_text())
    assert [t.name for t in env.agent_tools()] == [s["function"]["name"] for s in schemas]
    assert [t.description for t in env.agent_tools()] == [
        s["function"]["description"] for s in schemas
    ]
    assert env.policy == (tau_trait_data_dir / "telecom" / "wiki.md").read_text()
    assert set(DOMAIN.tools) == {s["function"]["name"] for s in schemas}
