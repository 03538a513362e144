"""The prompt registry: versions, strict rendering, refs; the official agent prompt is exact."""

from pathlib import Path

import pytest

from fama.prompts import PromptSet, all_prompt_names, load_prompt, pins, versions
from fama.prompts.registry import PINS_FILE, Prompt

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs" / "tau2_prompts"


def test_every_prompt_loads_and_has_a_stable_ref() -> None:
    names = all_prompt_names()
    assert "tau2_agent" in names
    for name in names:
        prompt = load_prompt(name)
        assert prompt.version == pins()[name] and prompt.version in versions(name)
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


def test_every_prompt_has_exactly_one_pin() -> None:
    assert sorted(pins()) == all_prompt_names()


def write_prompt(root: Path, name: str, version: str, text: str) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / f"{version}.md").write_text(text, encoding="utf-8")


def test_a_new_version_changes_the_record_only_when_selected(tmp_path: Path) -> None:
    write_prompt(tmp_path, "helper_memory", "v1", "Recent: {lines}")
    write_prompt(tmp_path, "other", "v1", "x")
    (tmp_path / PINS_FILE).write_text('{"helper_memory": "v1", "other": "v1"}')
    before = PromptSet.resolve(["helper_memory"], root=tmp_path).refs
    write_prompt(tmp_path, "helper_memory", "v2", "Last turns: {lines}")
    after = PromptSet.resolve(["helper_memory"], root=tmp_path)
    assert after.refs == before and before[0]["version"] == "v1"
    assert after["helper_memory"].render(lines="a") == "Recent: a"  # what renders = record
    chosen = PromptSet.resolve(["helper_memory"], {"helper_memory": "v2"}, root=tmp_path)
    assert [r["version"] for r in chosen.refs] == ["v2"]
    assert chosen["helper_memory"].render(lines="a") == "Last turns: a"
    with pytest.raises(KeyError, match="not in this run's prompt set"):
        chosen["other"]  # never declared: cannot be rendered unrecorded
    with pytest.raises(KeyError, match="does not use"):
        PromptSet.resolve(["other"], {"helper_memory": "v2"}, root=tmp_path)


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_agent_system_prompt_is_byte_exact(domain: str, tau2_data_dir: Path) -> None:
    expected = (SPECS / f"{domain}_agent_system_prompt.txt").read_text()
    policy = (tau2_data_dir / "domains" / domain / "policy.md").read_text()
    assert load_prompt("tau2_agent", "v1").render(policy=policy) == expected
