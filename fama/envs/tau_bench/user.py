"""tau-bench v1's LLM user: tau-trait's prompt without its final newline, which v1 lacks.

The conversation, the opener "Hi! How can I help you today?" and ``###STOP###`` are as in
``fama.envs.tau_trait.user``; v1 has no traits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fama.envs.tau_trait.user import render_user_prompt

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from fama.core.retry import RetryPolicy
    from fama.envs.tau_trait.data import TauTraitTask
    from fama.envs.user_simulator import LLMUserSimulator


def render_v1_user_prompt(instruction: str) -> str:
    """v1's ``LLMUserSimulationEnv.build_system_prompt`` for a task instruction."""
    return render_user_prompt(instruction).removesuffix("\n")


def make_v1_user(
    model: BaseChatModel, task: TauTraitTask, *, retries: RetryPolicy | None = None
) -> LLMUserSimulator:
    """An LLM user for one v1 task."""
    from fama.envs.user_simulator import LLMUserSimulator

    return LLMUserSimulator(model, render_v1_user_prompt(task.instruction), retries=retries)
