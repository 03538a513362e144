"""Memory helper: the user's last k messages, so early requests stay in view (no model call).

Small models lose track of what the user asked once tool outputs fill the context; the
paper's best window is k = 6 for retail and k = 2 for airline. With a single user message
there is nothing to recall (it is the latest turn), so no guidance is given.
"""

from __future__ import annotations

from fama.helpers.base import HelperEnv, HelperInput, HelperSpec, HelperUpdate, guidance
from fama.helpers.text import clip, message_text, one_line, user_messages

NAME = "memory"
PROMPT = "helper_memory"
DOMAIN_K: dict[str, int] = {"retail": 6, "airline": 2}  # paper's best window per domain

SPEC = HelperSpec(
    name=NAME,
    description="Memory (user context manager): before each decision, restates the user's "
    "last k messages so earlier requests and details are not forgotten as tool outputs pile "
    "up. Facilitates understanding the user's actual intent and finishing every request.",
    addresses=frozenset({"contextual_misinterpretation", "incomplete_fulfilment"}),
    uses_llm=False,
    default_params={"k": 4, "max_message_chars": 240},
    typical_tokens=150,
    prompts=(PROMPT,),
)


def domain_k(environment: str) -> int | None:
    """The paper's window for an environment such as ``tau2:retail`` (None if unknown)."""
    return DOMAIN_K.get(environment.rpartition(":")[2])


def recall(inp: HelperInput, k: int, max_message_chars: int) -> list[str]:
    """The last ``k`` user messages, each on one line and clipped."""
    if k < 1:
        raise ValueError(f"memory window k must be >= 1, got {k}")
    texts = [one_line(message_text(m)) for m in user_messages(inp["messages"])]
    return [clip(t, max_message_chars) for t in texts[-k:] if t]


async def run(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
    """Guidance listing the user's last k messages (nothing with fewer than two)."""
    recalled = recall(inp, int(env.params["k"]), int(env.params["max_message_chars"]))
    if len(recalled) < 2:
        return guidance(NAME, "")
    prompt = env.prompts[PROMPT]
    budget = inp["max_chars"] - len(prompt.text)
    kept: list[str] = []
    for text in reversed(recalled):  # the newest messages are kept first
        cost = len(text) + 6  # "n. ", the newline and the indentation
        if cost > budget:
            break
        kept.insert(0, text)
        budget -= cost
    if len(kept) < 2:
        return guidance(NAME, "")
    lines = "\n".join(f"{n}. {text}" for n, text in enumerate(kept, start=1))
    return guidance(NAME, prompt.render(count=len(kept), messages=lines), inp["max_chars"])
