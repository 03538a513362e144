"""One structured question to a chat model: JSON answer, one corrective retry, usage recorded.

The call goes through ``fama.llm.call.call_model``, so it is bounded by the analyst model's
output limit and its record carries the finish reason and the usage-missing flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, ValidationError

from fama.analysis.jsonparse import parse_json_object
from fama.core.retry import RetryPolicy
from fama.core.state import LLMCall
from fama.llm.call import ModelUnavailableError, call_model
from fama.prompts import load_prompt

T = TypeVar("T", bound=BaseModel)

RETRY_PROMPT = "analyst_json_retry"
_ONCE = RetryPolicy(attempts=1)  # ask_json retries failed calls itself, within ``attempts``


@dataclass
class JsonAnswer(Generic[T]):
    """The parsed answer (None if every attempt failed), the calls made, the last error."""

    value: T | None
    calls: list[LLMCall] = field(default_factory=list)
    error: str | None = None


def message_text(message: BaseMessage) -> str:
    """The plain text of a model reply."""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 400 else text[:400] + " ..."


async def ask_json(
    model: BaseChatModel,
    prompt: str,
    schema: type[T],
    *,
    node: str,
    model_name: str,
    attempts: int = 2,
) -> JsonAnswer[T]:
    """Ask ``prompt`` and parse the reply into ``schema``; never raises for model trouble.

    A reply that is not valid JSON for the schema gets a corrective follow-up (the model sees
    its own answer and the error); a failing model call is retried as is. After ``attempts``
    tries the answer is ``None`` with the last error.
    """
    messages: list[BaseMessage] = [HumanMessage(prompt)]
    answer: JsonAnswer[T] = JsonAnswer(value=None)
    for _ in range(max(1, attempts)):
        try:
            reply, call = await call_model(model, messages, node=node, retries=_ONCE)
        except Exception as exc:  # a model/server failure is recorded, not raised
            cause = exc.__cause__ if isinstance(exc, ModelUnavailableError) else None
            answer.error = f"model call failed: {_short(cause or exc)}"
            continue
        answer.calls.append({**call, "model": model_name})
        try:
            answer.value = schema.model_validate(parse_json_object(message_text(reply)))
        except (ValueError, ValidationError) as exc:
            answer.error = f"malformed answer: {_short(exc)}"
            retry = load_prompt(RETRY_PROMPT).render(error=answer.error)
            messages = [messages[0], reply, HumanMessage(retry)]
            continue
        answer.error = None
        return answer
    return answer
