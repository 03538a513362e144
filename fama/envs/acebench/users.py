"""Who the ACEBench agent talks to: an LLM user (multi_turn) or a fixed reply (multi_step).

In ``agent_multi_turn`` the user simulator gets the phone or travel template with the task's
``question`` as its instruction and the agent-side opener; it ends the dialogue with
``finish conversation``. In ``agent_multi_step`` nobody answers: any agent text that is not
a tool call gets the fixed sentence upstream's executor sends back (upstream uses the same
English sentence for both languages). Behaviour follows chenchen0103/ACEBench (MIT); the
templates are paraphrased.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.messages import HumanMessage

from fama.envs.acebench.data import AceTask, Lang
from fama.prompts.registry import Prompt, load_prompt

if TYPE_CHECKING:
    from fama.core.state import LLMCall
    from fama.core.trajectory import MessageRecord

STOP_PHRASE = "finish conversation"
OPENERS: dict[Lang, str] = {
    "en": "Is there anything you need help with today?",
    "zh": "今天有什么需要帮助的吗？",  # noqa: RUF001
}
NO_QUESTIONS = "Please do not ask me any questions, use the known conditions to solve the problem"


def _suffix(lang: Lang) -> str:
    return "_zh" if lang == "zh" else ""


def user_prompt(task: AceTask) -> Prompt:
    """The user-simulator template of a multi_turn task (travel or phone, in its language)."""
    kind = "travel" if task.is_travel else "phone"
    return load_prompt(f"acebench_user_{kind}{_suffix(task.lang)}")


def render_user_system_prompt(task: AceTask) -> str:
    """The simulator's system prompt: the template with the task's instruction."""
    return user_prompt(task).render(instruction=task.question)


def policy_prompt(task: AceTask) -> Prompt:
    """The rules appended to the agent prompt: phone, travel, or multi-step."""
    if task.category == "multi_step":
        return load_prompt(f"acebench_multi_step{_suffix(task.lang)}")
    kind = "travel" if task.is_travel else "phone"
    return load_prompt(f"acebench_policy_{kind}{_suffix(task.lang)}")


def agent_prompt_name(lang: Lang) -> str:
    """The registry name of the agent system prompt (rendered with ``policy=...``)."""
    return f"acebench_agent{_suffix(lang)}"


class FixedReplyUser:
    """A multi_step "user": always answers with the fixed no-questions sentence."""

    def __init__(self, text: str = NO_QUESTIONS) -> None:
        self.text = text

    async def respond(self, history: list[MessageRecord]) -> tuple[HumanMessage, list[LLMCall]]:
        """The fixed sentence (no model call)."""
        return HumanMessage(content=self.text), []
