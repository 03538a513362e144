"""The user-simulator contract: what the episode loop asks of a simulated customer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from langchain_core.messages import HumanMessage

    from fama.core.state import LLMCall
    from fama.core.trajectory import MessageRecord

STOP_TOKENS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")


def is_user_stop(text: str, tokens: Sequence[str] = STOP_TOKENS) -> bool:
    """True when a user text message ends the conversation (contains a stop token)."""
    return any(token in text for token in tokens)


class UserSimulatorError(RuntimeError):
    """The user simulator could not produce a usable message (not the agent's fault)."""


class UserSimulator(Protocol):
    """Produces the user's next message from the trajectory (agent point of view)."""

    async def respond(self, history: list[MessageRecord]) -> tuple[HumanMessage, list[LLMCall]]:
        """The next user message and the usage of the model calls it took."""
        ...
