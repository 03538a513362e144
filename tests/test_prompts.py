"""The prompt registry: versions, strict rendering, refs; the official agent prompt is exact."""

from pathlib import Path

import pytest

from fama.prompts import all_prompt_names, load_prompt, versions
from fama.prompts.registry import Prompt

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs" / "tau2_prompts"


def test_every_prompt_loads_and_has_a_stable_ref() -> None:
    names = all_prompt_names()
    assert "tau2_agent" in names
    for name in names:
        prompt = load_prompt(name)
        assert prompt.version == versions(name)[-1]
        assert prompt.ref == {"name": name, "version": prompt.version, "sha256": prompt.sha256}
        assert len(prompt.sha256) == 64


def test_render_is_strict() -> None:
    prompt = Prompt(name="t", version="v1", text="Hello {who}, {{literal}}")
    assert prompt.variables == {"who"}
    assert prompt.render(who="x") == "Hello x, {literal}"
    with pytest.raises(KeyError, match="missing"):
        prompt.render()
    with pytest.raises(KeyError, match="unexpected"):
        prompt.render(who="x", other=1)


def test_unknown_prompt_and_version_are_clear_errors() -> None:
    with pytest.raises(FileNotFoundError, match="no prompt named"):
        load_prompt("does_not_exist")
    with pytest.raises(FileNotFoundError, match="no version"):
        load_prompt("tau2_agent", "v999")


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_agent_system_prompt_is_byte_exact(domain: str, tau2_data_dir: Path) -> None:
    expected = (SPECS / f"{domain}_agent_system_prompt.txt").read_text()
    policy = (tau2_data_dir / "domains" / domain / "policy.md").read_text()
    assert load_prompt("tau2_agent", "v1").render(policy=policy) == expected
