"""The langgraph-dev factory's executable tools give the official outputs."""

from pathlib import Path

import pytest

from fama.core.fama_config import FamaConfig
from fama.envs.tau2.environment import Tau2Domain
from fama.graph.studio import executable_tools, fama_options_from_env


def test_executable_tools_run_against_the_environment(retail_domain: Tau2Domain) -> None:
    env = retail_domain.new_environment()
    tools = {t.name: t for t in executable_tools(env)}
    assert set(tools) == set(retail_domain.tool_kinds)
    assert tools["calculate"].invoke({"expression": "2 + 2"}) == "4.0"
    out = tools["find_user_id_by_email"].invoke({"email": "nobody@example.com"})
    assert out == "Error: User not found"


def test_fama_config_selects_static_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAMA_MODE", raising=False)
    monkeypatch.delenv("FAMA_CONFIG", raising=False)
    assert fama_options_from_env() == (None, "dynamic")
    path = tmp_path / "fama_config.json"
    config = FamaConfig(backbone="m", environment="tau2:retail", helpers=["memory"])
    config.save(path)
    monkeypatch.setenv("FAMA_CONFIG", str(path))
    assert fama_options_from_env() == (config, "static")
    monkeypatch.setenv("FAMA_MODE", "all")
    assert fama_options_from_env()[1] == "all"
    path.write_text("{}")
    with pytest.raises(ValueError, match="not a valid FAMA configuration"):
        fama_options_from_env()
