"""The user simulator's system prompt is byte-exact with the official rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from fama.envs.tau2.tasks import Task, load_tasks
from fama.envs.tau2.user_scenario import load_user_guidelines, render_user_system_prompt


@pytest.mark.parametrize(
    ("domain", "task_id", "example"),
    [
        ("retail", "5", "retail_user_system_prompt_task_5.txt"),
        ("airline", "1", "airline_user_system_prompt_task_1.txt"),
    ],
)
def test_prompt_is_byte_exact(
    tau2_data_dir: Path, tau2_prompts_dir: Path, domain: str, task_id: str, example: str
) -> None:
    task = load_tasks(domain, data_dir=tau2_data_dir, task_ids=[task_id])[0]
    prompt = render_user_system_prompt(task, load_user_guidelines(tau2_data_dir))
    assert prompt == (tau2_prompts_dir / example).read_text(encoding="utf-8")


def test_persona_and_plain_instructions(tau2_data_dir: Path) -> None:
    task = Task.model_validate(
        {
            "id": "x",
            "user_scenario": {"persona": "Calm.\nPolite.", "instructions": "Line 1\n\nLine 2"},
        }
    )
    prompt = render_user_system_prompt(task, "G\n")
    assert prompt == (
        "G\n\n\n<scenario>\nPersona:\n\tCalm.\n\tPolite.\n"
        "Instructions:\n\tLine 1\n\n\tLine 2\n</scenario>"
    )


def test_guideline_variants(tau2_data_dir: Path) -> None:
    plain = load_user_guidelines(tau2_data_dir)
    with_tools = load_user_guidelines(tau2_data_dir, with_tools=True)
    assert len(plain) == 1449
    assert len(with_tools) == 2747
    with pytest.raises(FileNotFoundError, match=r"simulation_guidelines\.md"):
        load_user_guidelines(tau2_data_dir / "missing")
