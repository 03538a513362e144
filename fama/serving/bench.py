"""Speed of a chat model as an agent sees it: first-call latency, prompt and generation rate.

Works with any LangChain chat model (a local llama-server through ChatOpenAI, or a hosted
provider): the prompt rate is input tokens over the time to the first streamed token of a
long prompt, the generation rate is the output tokens after the first over the time they
took. Token counts come from the provider's usage report (estimated at 4 characters per
token, and flagged, if it sends none).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)

CHARS_PER_TOKEN = 4
_CITIES = ("Austin", "Denver", "Boston", "Seattle", "Chicago", "Phoenix", "Houston", "Miami")
_STATUSES = ("pending", "processed", "delivered", "cancelled")


@dataclass(frozen=True)
class BenchResult:
    """Measured speeds (seconds, tokens, tokens per second)."""

    first_call_s: float
    first_call_input_tokens: int
    first_call_output_tokens: int
    prompt_tokens: int
    prompt_s: float
    prompt_tok_s: float
    gen_tokens: int
    gen_s: float
    gen_tok_s: float
    usage_estimated: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return asdict(self)


def synthetic_prompt(approx_tokens: int, nonce: str) -> str:
    """A retail-log-like text of about ``approx_tokens`` tokens; ``nonce`` first, so that
    no server-side prompt cache can reuse an earlier benchmark's prefix."""
    lines = [f"Benchmark session {nonce}. Order log:"]
    for i in range(max(1, approx_tokens // 40)):
        city = _CITIES[i % len(_CITIES)]
        status = _STATUSES[(i * 3) % len(_STATUSES)]
        lines.append(
            f"Order #W{1_000_000 + i * 7919 % 9_000_000}: {1 + i % 4} x item "
            f"{(i * 104729) % 100_000:05d} shipped to {city} on 2024-{1 + i % 12:02d}-"
            f"{1 + i % 28:02d}, status {status}."
        )
    return "\n".join(lines)


def _tokens(reply: AIMessage | None, messages: list[BaseMessage]) -> tuple[int, int, bool]:
    """(input, output, estimated) token counts of a reply."""
    if reply is not None and reply.usage_metadata:
        usage = reply.usage_metadata
        return usage["input_tokens"], usage["output_tokens"], False
    prompt_chars = sum(len(m.text) for m in messages)
    output_chars = len(reply.text) if reply is not None else 0
    return prompt_chars // CHARS_PER_TOKEN, output_chars // CHARS_PER_TOKEN, True


async def bench_chat_model(
    model: BaseChatModel,
    *,
    prompt_tokens: int = 2000,
    gen_tokens: int = 128,
    clock: Callable[[], float] = time.perf_counter,
) -> BenchResult:
    """Measure ``model``: one short call, then one long prompt streamed with generation."""
    short = [HumanMessage(content="Reply with the single word: ready")]
    start = clock()
    first = await model.bind(max_tokens=8).ainvoke(short)
    first_s = clock() - start
    first_in, first_out, first_est = _tokens(first, list(short))

    messages: list[BaseMessage] = [
        SystemMessage(content=synthetic_prompt(prompt_tokens, uuid.uuid4().hex)),
        HumanMessage(
            content="Summarise the order log above in a long, detailed report of at least "
            f"{gen_tokens * 2} words, order by order."
        ),
    ]
    total: AIMessageChunk | None = None
    first_token_at: float | None = None
    last_token_at = 0.0
    start = clock()
    async for chunk in model.bind(max_tokens=gen_tokens).astream(messages):
        now = clock()
        if not isinstance(chunk, AIMessage):
            continue
        if not isinstance(chunk, AIMessageChunk):  # a model that cannot stream: one reply
            chunk = AIMessageChunk(content=chunk.content, usage_metadata=chunk.usage_metadata)
        if chunk.text:
            first_token_at = now if first_token_at is None else first_token_at
            last_token_at = now
        total = chunk if total is None else total + chunk
    end = clock()
    in_tokens, out_tokens, estimated = _tokens(total, messages)
    ttft = (first_token_at if first_token_at is not None else end) - start
    gen_s = max(last_token_at - (first_token_at or last_token_at), 0.0)
    return BenchResult(
        first_call_s=first_s,
        first_call_input_tokens=first_in,
        first_call_output_tokens=first_out,
        prompt_tokens=in_tokens,
        prompt_s=ttft,
        prompt_tok_s=in_tokens / ttft if ttft > 0 else 0.0,
        gen_tokens=out_tokens,
        gen_s=gen_s,
        gen_tok_s=(out_tokens - 1) / gen_s if gen_s > 0 and out_tokens > 1 else 0.0,
        usage_estimated=estimated or first_est,
    )


def format_result(label: str, result: BenchResult) -> list[str]:
    """Human-readable report lines."""
    note = " (token counts estimated: no usage reported)" if result.usage_estimated else ""
    return [
        f"model: {label}{note}",
        f"first-call latency: {result.first_call_s:.2f} s "
        f"({result.first_call_input_tokens} prompt / {result.first_call_output_tokens} "
        "generated tokens)",
        f"prompt processing: {result.prompt_tokens} tokens in {result.prompt_s:.2f} s = "
        f"{result.prompt_tok_s:.1f} tok/s",
        f"generation: {result.gen_tokens} tokens in {result.gen_s:.2f} s = "
        f"{result.gen_tok_s:.1f} tok/s",
    ]
