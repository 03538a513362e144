"""One streamed reply that cannot run away: the client enforces the output limit and stops.

The limit (``max_tokens``) is sent with the request, and a model built for a local chat
template also sends that template's stop sequences (``ModelSpec.stop``), so a well-behaved
server ends the reply itself. The reply is streamed anyway, so that the request timeout
applies between tokens rather than to the whole reply, and the client checks as it reads:

* a server that goes on past the limit (more content chunks than ``max_tokens``, or more than
  ``MAX_CHARS_PER_TOKEN`` characters per allowed token) is cut: finish reason ``length``;
* text that reaches one of the stop sequences is cut before it: finish reason ``stop``;
* a stream of empty chunks is cut after ``2 * max_tokens + EMPTY_CHUNK_SLACK`` chunks.

Closing the stream closes the HTTP response, which makes llama.cpp / vLLM stop generating.
A model without streaming support answers in one piece (its finish reason is the server's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.messages.utils import message_chunk_to_message
from langchain_core.runnables import Runnable, RunnableBinding

from fama.llm.usage import finish_reason_of

MAX_CHARS_PER_TOKEN = 10
EMPTY_CHUNK_SLACK = 64


@dataclass(frozen=True)
class BoundedReply:
    """The reply, why it ended, and how many tokens were streamed (None: not streamed)."""

    message: AIMessage
    finish_reason: str | None
    streamed_tokens: int | None


def _setting(model: Runnable[Any, Any], *names: str) -> Any:
    """The first of ``names`` set on a binding (outermost first) or on the bound model."""
    current: Any = model
    while isinstance(current, RunnableBinding):
        for name in names:
            if current.kwargs.get(name) is not None:
                return current.kwargs[name]
        current = current.bound
    for name in names:
        value = getattr(current, name, None)
        if value is not None:
            return value
    return None


def configured_max_tokens(model: Runnable[Any, Any]) -> int | None:
    """The output limit the model (or a binding of it) already sends, if any."""
    value = _setting(model, "max_tokens", "max_completion_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def configured_stop(model: Runnable[Any, Any]) -> tuple[str, ...]:
    """The stop sequences the model (or a binding of it) sends with every request."""
    value = _setting(model, "stop")
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list | tuple):
        return tuple(s for s in value if isinstance(s, str) and s)
    return ()


def _chunk_text_size(chunk: AIMessageChunk) -> int:
    return len(chunk.text) + sum(len(c.get("args") or "") for c in chunk.tool_call_chunks)


def _first_stop(text: str, stop: Sequence[str], start: int) -> int:
    """Index of the earliest stop sequence in ``text`` found at or after ``start`` (-1: none)."""
    hits = [i for s in stop if (i := text.find(s, max(0, start - len(s) + 1))) >= 0]
    return min(hits) if hits else -1


async def bounded_reply(
    model: Runnable[Any, Any],
    messages: Sequence[BaseMessage],
    *,
    max_tokens: int,
    stop: Sequence[str] = (),
) -> BoundedReply:
    """Stream one reply of ``model`` and stop it at ``max_tokens`` or a stop sequence.

    An empty stream gives an empty reply (the caller's empty-reply handling applies).
    """
    chunks: list[AIMessageChunk] = []
    text = ""
    tokens = size = 0
    finish: str | None = None
    cut = -1
    stream: AsyncIterator[Any] = model.astream(list(messages))
    try:
        async for item in stream:
            if isinstance(item, AIMessage) and not isinstance(item, AIMessageChunk):
                return BoundedReply(item, finish_reason_of(item), None)  # not streamed
            if not isinstance(item, AIMessageChunk):
                raise TypeError(f"model streamed a {type(item).__name__}, not an AIMessageChunk")
            chunks.append(item)
            piece = item.text
            if piece or item.tool_call_chunks:
                tokens += 1
                size += _chunk_text_size(item)
            if piece and stop:
                cut = _first_stop(text + piece, stop, len(text))
            text += piece
            if cut >= 0:
                finish = "stop"
                break
            if (
                tokens > max_tokens
                or size > max_tokens * MAX_CHARS_PER_TOKEN
                or len(chunks) > 2 * max_tokens + EMPTY_CHUNK_SLACK
            ):
                finish = "length"
                break
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    if not chunks:
        return BoundedReply(AIMessage(content=""), None, 0)
    merged = add_ai_message_chunks(chunks[0], *chunks[1:]) if len(chunks) > 1 else chunks[0]
    message = cast(AIMessage, message_chunk_to_message(merged))
    if cut >= 0:
        message = message.model_copy(update={"content": text[:cut]})
    return BoundedReply(message, finish or finish_reason_of(message), tokens)
