"""The langgraph-dev factory's executable tools give the official outputs."""

from fama.envs.tau2.environment import Tau2Domain
from fama.graph.studio import executable_tools


def test_executable_tools_run_against_the_environment(retail_domain: Tau2Domain) -> None:
    env = retail_domain.new_environment()
    tools = {t.name: t for t in executable_tools(env)}
    assert set(tools) == set(retail_domain.tool_kinds)
    assert tools["calculate"].invoke({"expression": "2 + 2"}) == "4.0"
    out = tools["find_user_id_by_email"].invoke({"email": "nobody@example.com"})
    assert out == "Error: User not found"
