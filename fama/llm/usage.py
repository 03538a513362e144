"""The usage record of one model reply: server-reported tokens, or flagged local estimates.

When a server sends no ``usage`` (some OpenAI-compatible servers never do, and a stream cut
by the client ends before the usage chunk), the call is recorded with ``usage_missing`` and
its tokens are estimated here: the output as the number of streamed tokens (one per chunk)
or, unstreamed, one token per four characters; the input as one token per four characters
of the prompt text (tool schemas not counted). Reports show such counts as estimates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage

from fama.core.state import LLMCall

CHARS_PER_TOKEN = 4
# finish reasons that mean "cut at the output limit", by provider
_LENGTH_REASONS = frozenset({"length", "max_tokens", "MAX_TOKENS"})


def message_size(message: BaseMessage) -> int:
    """Characters of a message as a model reads it: its text and any tool-call arguments."""
    size = len(message.text)
    if isinstance(message, AIMessage):
        size += sum(len(c["name"]) + len(json.dumps(c["args"])) for c in message.tool_calls)
        size += sum(len(c.get("args") or "") for c in message.invalid_tool_calls)
    return size


def finish_reason_of(reply: AIMessage) -> str | None:
    """Why the reply ended, as the server said (cut at the limit is always ``length``)."""
    meta = reply.response_metadata
    reason = meta.get("finish_reason") or meta.get("stop_reason")
    if not isinstance(reason, str) or not reason:
        return None
    return "length" if reason in _LENGTH_REASONS else reason


def usage_record(
    node: str,
    model: str,
    reply: AIMessage,
    latency_ms: float,
    *,
    prompt: Sequence[BaseMessage] = (),
    finish_reason: str | None = None,
    streamed_tokens: int | None = None,
) -> LLMCall:
    """The usage record of one reply; estimated and flagged when the server sent no usage."""
    usage = reply.usage_metadata
    call: LLMCall = {
        "node": node,
        "model": model,
        "input_tokens": 0,
        "output_tokens": 0,
        "latency_ms": latency_ms,
    }
    if finish_reason is not None:
        call["finish_reason"] = finish_reason
    if usage is not None:
        call["input_tokens"] = usage["input_tokens"]
        call["output_tokens"] = usage["output_tokens"]
        return call
    call["usage_missing"] = True
    call["input_tokens"] = math.ceil(sum(message_size(m) for m in prompt) / CHARS_PER_TOKEN)
    call["output_tokens"] = (
        streamed_tokens
        if streamed_tokens is not None
        else math.ceil(message_size(reply) / CHARS_PER_TOKEN)
    )
    return call
