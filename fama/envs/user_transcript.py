"""The transcript user style: the conversation as ``Agent:`` / ``Customer:`` lines.

The official (``chat``) style gives the user simulator a role-flipped chat: agent turns as
``user`` messages, its own as ``assistant`` messages. Small instruction-tuned models then
keep answering as the assistant they were trained to be ("How can I assist you today?").
The ``transcript`` style instead sends one user message with an instruction. Before the
customer has written anything it only asks for the customer's first message (prompt
``user_transcript_first``; shown the agent's greeting, the 0.5B model mostly repeated it);
afterwards it holds the conversation so far as ``Agent:`` / ``Customer:`` lines ending with
``Customer:`` (``user_transcript_next``, which also carries the stop rule: given in the
system prompt, the 0.5B model answered ``###STOP###`` at once). A leading ``Customer:`` in
the reply is stripped, a reply that goes on to write the agent's next turn is cut before
it, and a reply that only repeats the agent's last message counts as empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:  # kept light: the CLI imports this module to build its options
    from langchain_core.messages import BaseMessage

    from fama.core.trajectory import MessageRecord

UserStyle = Literal["chat", "transcript"]
USER_STYLES: tuple[str, ...] = get_args(UserStyle)
AGENT_LABEL = "Agent"
CUSTOMER_LABEL = "Customer"
SYSTEM_PROMPT = "tau2_user_transcript"  # generic: the customer's scenario, any benchmark
FIRST_PROMPT = "user_transcript_first"
NEXT_PROMPT = "user_transcript_next"

# "Customer:", "**Customer**:", "customer :" ... at the start of the reply
_LEADING_LABEL = re.compile(r"^\s*(?:\*\*)?customer(?:\*\*)?\s*(?:\*\*)?:(?:\*\*)?\s*", re.I)
# a line where the model starts writing the agent's turn
_AGENT_LINE = re.compile(r"^\s*(?:\*\*)?(?:agent|assistant)(?:\*\*)?\s*:", re.I | re.M)


def default_user_style(user_model: str) -> UserStyle:
    """The style for a user model when none is asked for.

    ``local:`` (embedded small) models get ``transcript``: measured on tau2 retail, the
    0.5B model states its request in the first turn far more often with it (README,
    "Embedded models"). Other models keep the official ``chat`` style.
    """
    return "transcript" if user_model.split(":", 1)[0] == "local" else "chat"


def render_system_prompt(scenario: str) -> str:
    """The transcript-style user system prompt (``SYSTEM_PROMPT``) around a scenario text."""
    from fama.prompts.registry import load_prompt

    return load_prompt(SYSTEM_PROMPT).render(scenario=scenario)


def _call_text(name: str, arguments: object) -> str:
    args = json.dumps(arguments, ensure_ascii=False, sort_keys=True, default=str)
    return f"{name}({args})"


def transcript_lines(history: Sequence[MessageRecord]) -> list[str]:
    """The conversation as the customer sees it: agent texts, its own messages and tool use.

    The agent's tool calls and their results are hidden, as in the chat style.
    """
    lines: list[str] = []
    for record in history:
        role = record["role"]
        content = (record.get("content") or "").strip()
        if role == "assistant" and content and not record.get("tool_calls"):
            lines.append(f"{AGENT_LABEL}: {content}")
        elif role == "user":
            if content:
                lines.append(f"{CUSTOMER_LABEL}: {content}")
            for call in record.get("tool_calls") or []:
                lines.append(
                    f"{CUSTOMER_LABEL} (action): {_call_text(call['name'], call['arguments'])}"
                )
        elif role == "tool" and record.get("requestor") == "user":
            lines.append(f"(result of your action): {content}")
    return lines


def transcript_prompt(system_prompt: str, history: Sequence[MessageRecord]) -> list[BaseMessage]:
    """The two-message prompt: the system prompt, then the first-message request or the
    transcript ending in ``Customer:``."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from fama.prompts.registry import load_prompt

    if not any(r["role"] == "user" for r in history):
        body = load_prompt(FIRST_PROMPT).render()
    else:
        body = load_prompt(NEXT_PROMPT).render(transcript="\n".join(transcript_lines(history)))
    return [SystemMessage(content=system_prompt), HumanMessage(content=body)]


def clean_transcript_reply(text: str, history: Sequence[MessageRecord] = ()) -> str:
    """The customer's message in a reply: leading label stripped, any agent turn cut off,
    empty when it only repeats the agent's last message."""
    text = _LEADING_LABEL.sub("", text, count=1)
    match = _AGENT_LINE.search(text)
    if match is not None:
        text = text[: match.start()]
    text = text.strip()
    last_agent = next(
        (r["content"] for r in reversed(history) if r["role"] == "assistant" and r["content"]),
        None,
    )
    return "" if last_agent is not None and text == last_agent.strip() else text
