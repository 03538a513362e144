"""The user simulator's system prompt: the guidelines text plus the task's scenario (spec §7)."""

from __future__ import annotations

from pathlib import Path
from textwrap import indent

from fama.envs.tau2.data import read_text
from fama.envs.tau2.tasks import StructuredInstructions, Task, UserScenario
from fama.envs.user_transcript import render_system_prompt


def load_user_guidelines(data_dir: Path, with_tools: bool = False) -> str:
    """The user-simulation guidelines (the ``_tools`` variant when the user has tools)."""
    name = "simulation_guidelines_tools.md" if with_tools else "simulation_guidelines.md"
    return read_text(Path(data_dir) / "user_simulator" / name)


def render_user_system_prompt(task: Task, guidelines_text: str) -> str:
    """The official user-simulator system prompt for a task."""
    scenario = render_scenario(task.user_scenario)
    return f"{guidelines_text}\n\n<scenario>\n{scenario}\n</scenario>"


def render_transcript_user_prompt(task: Task) -> str:
    """The transcript-style user system prompt for a task (its scenario as the scenario)."""
    return render_system_prompt(render_scenario(task.user_scenario))


def render_scenario(scenario: UserScenario) -> str:
    """A scenario as text: ``Persona:`` (if any) and ``Instructions:`` blocks, tab-indented."""
    blocks = []
    if scenario.persona is not None:
        blocks.append(f"Persona:\n{_indent(scenario.persona)}")
    instructions = scenario.instructions
    text = instructions if isinstance(instructions, str) else render_instructions(instructions)
    blocks.append(f"Instructions:\n{_indent(text)}")
    return "\n".join(blocks)


def render_instructions(instructions: StructuredInstructions) -> str:
    """Structured instructions as ``Domain:`` / ``Reason for call:`` / ... lines."""
    lines = [f"Domain: {instructions.domain}"]
    lines.append(f"Reason for call:\n{_indent(instructions.reason_for_call)}")
    if instructions.known_info is not None:
        lines.append(f"Known info:\n{_indent(instructions.known_info)}")
    if instructions.unknown_info is not None:
        lines.append(f"Unknown info:\n{_indent(instructions.unknown_info)}")
    lines.append(f"Task instructions:\n{_indent(instructions.task_instructions)}")
    return "\n".join(lines)


def _indent(text: str) -> str:
    return indent(text, "\t")
