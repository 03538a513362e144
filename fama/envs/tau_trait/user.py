"""The tau-bench v1 user simulator prompt, with tau-trait's trait layer.

Without traits the system prompt is exactly tau-trait's LLM user prompt (tau-bench v1's
text plus a final newline): registry prompt ``tau_bench_user`` rendered with the task
instruction. With traits, as in tau-trait's steer mode, the rule "Do not give away all the
instruction at once..." becomes "Do not give away information unless the agent persists in
asking for the information for at least 3 turns.", and the persona block of
``fama.envs.tau_trait.traits`` is appended. The conversation opens with the agent line
"Hi! How can I help you today?" (the episode loop's default greeting) and the user ends it
with ``###STOP###``. Behaviour follows collinear-ai/tau-trait and sierra-research/tau-bench
(MIT). For small models, ``style="transcript"`` gives the user the generic transcript prompt
(``fama.envs.user_transcript``: the instruction, and the persona block with traits, as the
scenario; the conversation as ``Agent:``/``Customer:`` lines).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fama.envs.tau_trait.traits import render_persona, traits_prompt, validate_traits
from fama.envs.user_transcript import render_system_prompt
from fama.prompts.registry import load_prompt

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from fama.core.retry import RetryPolicy
    from fama.envs.tau_trait.data import TauTraitTask
    from fama.envs.user_simulator import LLMUserSimulator
    from fama.envs.user_transcript import UserStyle

PROMPT_NAME = "tau_bench_user"
OPENER = "Hi! How can I help you today?"
STOP_TOKEN = "###STOP###"
DEFAULT_RULE = (
    "Do not give away all the instruction at once. "
    "Only provide the information that is necessary for the current step."
)
STEER_RULE = (
    "Do not give away information unless the agent persists in asking for the information "
    "for at least 3 turns."
)


def render_user_prompt(instruction: str, traits: Mapping[str, str] | None = None) -> str:
    """The user simulator's system prompt for a task instruction and optional traits."""
    text = load_prompt(PROMPT_NAME).render(instruction=instruction)
    chosen = validate_traits(traits or {})
    if not chosen:
        return text
    rule = f"- {DEFAULT_RULE}\n"
    if text.count(rule) != 1:
        raise ValueError(f"prompt {PROMPT_NAME} does not contain the rule {DEFAULT_RULE!r} once")
    return text.replace(rule, f"- {STEER_RULE}\n") + "\n" + render_persona(chosen)


def user_prompt_refs(traits: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """Registry refs of the prompts the user simulator uses with these traits."""
    refs = [load_prompt(PROMPT_NAME).ref]
    if validate_traits(traits or {}):
        refs.append(traits_prompt().ref)
    return refs


def render_transcript_user_prompt(instruction: str, traits: Mapping[str, str] | None = None) -> str:
    """The transcript-style system prompt: the instruction (and persona) as the scenario."""
    persona = render_persona(validate_traits(traits or {}))
    return render_system_prompt(instruction + (f"\n\n{persona}" if persona else ""))


def make_user_simulator(
    model: BaseChatModel,
    task: TauTraitTask,
    traits: Mapping[str, str] | None = None,
    *,
    retries: RetryPolicy | None = None,
    style: UserStyle = "chat",
) -> LLMUserSimulator:
    """An LLM user for one task (no tools: tau-trait users only talk)."""
    from fama.envs.user_simulator import LLMUserSimulator

    if style == "transcript":
        prompt = render_transcript_user_prompt(task.instruction, traits)
        return LLMUserSimulator(model, prompt, retries=retries, style="transcript")
    return LLMUserSimulator(model, render_user_prompt(task.instruction, traits), retries=retries)
