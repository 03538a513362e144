"""Agent variants of two rule-based helpers: the helper model writes the guidance.

Selected per helper with ``impl: llm`` in the FAMA configuration's parameters (the rules
stay the default). Like the paper's helper agents they read the same inputs as their rule
counterparts, answer within the helper's share of the guidance budget (the prompt states
it and ``max_tokens`` bounds the reply, within the run's output limit of the helper), and
their calls are recorded under the helper's node. An answer of ``NONE`` gives no guidance.

* constraints extractor: the policy and the latest conversation -> the rules that apply
  to the next step;
* tool suggester: the tool signatures, the latest conversation and the failed call, if
  any -> the tools (with argument values) that fit the next step.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import HumanMessage

from fama.helpers import constraints_extractor, tool_suggester
from fama.helpers.base import HelperEnv, HelperFn, HelperInput, HelperUpdate, guidance, llm_node
from fama.helpers.decision_verifier import render_conversation
from fama.helpers.text import clip, message_text, strip_thinking
from fama.helpers.tool_suggester import failed_call, signature, summary
from fama.llm.call import call_model
from fama.prompts import Prompt

Impl = Literal["rules", "llm"]
IMPLS: tuple[Impl, ...] = ("rules", "llm")
CONSTRAINTS_PROMPT = "helper_constraints_extractor_llm"
TOOLS_PROMPT = "helper_tool_suggester_llm"
CHARS_PER_TOKEN = 4
CHARS_PER_WORD = 6
MIN_REPLY_TOKENS = 16


def wants_llm(env: HelperEnv) -> bool:
    """Whether the helper's parameters select the agent variant (``impl: llm``)."""
    impl = env.params.get("impl", "rules")
    if impl not in IMPLS:
        raise ValueError(f"helper parameter impl must be one of {IMPLS}, got {impl!r}")
    return impl == "llm"


async def ask_helper(helper: str, prompt: str, max_chars: int, env: HelperEnv) -> HelperUpdate:
    """One budgeted call of the helper model; its answer (clipped) and the usage record."""
    if env.model is None:
        raise ValueError(f"the {helper} agent variant needs a helper model")
    share = max(MIN_REPLY_TOKENS, max_chars // CHARS_PER_TOKEN)
    reply, call = await call_model(
        env.model,
        [HumanMessage(content=prompt)],
        node=llm_node(helper),
        retries=env.retries,
        max_tokens=min(share, env.max_output_tokens(helper)),
    )
    text = strip_thinking(message_text(reply))
    if text.strip().strip(".").upper() == "NONE":
        text = ""
    return {"guidance": [{"helper": helper, "text": clip(text, max_chars)}], "llm_calls": [call]}


def _words(max_chars: int) -> int:
    return max(10, max_chars // CHARS_PER_WORD)


async def constraints_llm(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
    """The policy rules for the next step, written by the helper model."""
    helper = constraints_extractor.NAME
    wrapper = env.prompts[constraints_extractor.PROMPT]
    budget = inp["max_chars"] - len(wrapper.text)
    prompt = env.prompts[CONSTRAINTS_PROMPT].render(
        policy=env.policy.strip() or "(no policy)",
        conversation=render_conversation(inp["messages"]) or "(no messages yet)",
        max_rules=int(env.params.get("rules", 3)),
        max_words=_words(budget),
    )
    return _wrapped(await ask_helper(helper, prompt, budget, env), wrapper, "rules", inp)


async def tools_llm(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
    """The tools for the next step, chosen by the helper model."""
    helper = tool_suggester.NAME
    wrapper = env.prompts[tool_suggester.PROMPT]
    budget = inp["max_chars"] - len(wrapper.text)
    failed = failed_call(inp["messages"])
    prompt = env.prompts[TOOLS_PROMPT].render(
        tools="\n".join(f"- {signature(t)}: {summary(t)}" for t in env.tools) or "(none)",
        conversation=render_conversation(inp["messages"]) or "(no messages yet)",
        failure=f"\nThe latest call of {failed} failed; check its arguments.\n" if failed else "",
        max_tools=int(env.params.get("tools", 2)),
        max_words=_words(budget),
    )
    return _wrapped(await ask_helper(helper, prompt, budget, env), wrapper, "tools", inp)


def _wrapped(update: HelperUpdate, wrapper: Prompt, field: str, inp: HelperInput) -> HelperUpdate:
    """The model's answer framed like the rule-based helper's guidance (none if empty)."""
    item = update["guidance"][0]
    if not item["text"]:
        return {"guidance": [], "llm_calls": update.get("llm_calls", [])}
    text = wrapper.render(**{field: item["text"]})
    framed = guidance(item["helper"], text, inp["max_chars"])
    return {**framed, "llm_calls": update.get("llm_calls", [])}


def by_impl(rules: HelperFn, llm: HelperFn) -> HelperFn:
    """A helper function running ``llm`` when its parameters say ``impl: llm``, else ``rules``."""

    async def run(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
        return await (llm if wants_llm(env) else rules)(inp, env)

    return run
