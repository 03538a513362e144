"""Decision verifier: checks a proposed WRITE action against the policy before it runs.

It runs after the tool-use node, only when the proposal calls a write tool. Deterministic
checks come first (free and certain): when the policy demands explicit confirmation, the
user's latest message must confirm; identifier-like argument values must appear in a user
message or a tool output. Then, optionally, the helper model judges the action against the
most relevant policy rules. On a violation the proposal is withdrawn and the tool-use node
decides again with the remediation as guidance (a bounded number of times).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolCall, ToolMessage

from fama.core.state import LLMCall
from fama.core.views import agent_view
from fama.helpers.base import HelperEnv, HelperSpec, failure_text, llm_node
from fama.helpers.constraints_extractor import relevant_rules
from fama.helpers.text import clip, message_text, one_line, strip_thinking, tokens
from fama.llm.call import call_model

NAME = "decision_verifier"
PROMPT = "helper_decision_verifier"
REMEDIATION_PROMPT = "helper_decision_verifier_remediation"
REFUSAL_PROMPT = "helper_decision_verifier_refusal"
CONVERSATION_MESSAGES = 6

SPEC = HelperSpec(
    name=NAME,
    description="Decision verifier: checks every proposed write action (cancel, modify, "
    "book, ...) before it runs: explicit user confirmation, argument values grounded in the "
    "conversation, and the relevant policy rules; a violating action is withdrawn and the "
    "agent decides again with the reason. Facilitates following the domain policy.",
    addresses=frozenset({"policy_violation"}),
    uses_llm=True,
    default_params={"max_redecisions": 1, "llm_check": True, "rules": 4},
    typical_tokens=60,
    prompts=(PROMPT, REMEDIATION_PROMPT, REFUSAL_PROMPT),
)

_EXPLICIT_CONFIRMATION = re.compile(r"explicit[^.\n]*confirm|confirm[^.\n]*explicit", re.I)
_NEGATIVE = re.compile(r"^\W*(no|nope|not|don'?t|do not|wait|hold on|stop)\b", re.I)
_POSITIVE = re.compile(
    r"\b(yes|yeah|yep|yup|sure|confirm|confirmed|correct|proceed|go ahead|please do|do it|"
    r"ok|okay|affirmative|that's right|that is right)\b",
    re.I,
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Verdict:
    """The verifier's judgement of one proposal."""

    ok: bool
    problem: str = ""  # what is wrong and what to do instead (empty when ok)
    check: str = ""  # which check failed: confirmation, grounding or policy
    failure: str = ""  # the model check failed (``Type: message``): passed unchecked


def write_calls(proposal: AIMessage, env: HelperEnv) -> list[ToolCall]:
    """The proposal's calls of write tools."""
    return [c for c in proposal.tool_calls if env.tool_kind(c["name"]) == "write"]


def requires_confirmation(policy: str) -> bool:
    """Whether the policy demands explicit user confirmation before write actions."""
    return bool(_EXPLICIT_CONFIRMATION.search(policy))


def confirms(text: str) -> bool:
    """Whether a user message confirms (says yes) rather than declines or asks."""
    return not _NEGATIVE.match(text) and bool(_POSITIVE.search(text))


def looks_like_identifier(value: str) -> bool:
    """Ids such as '#W2611340', '6469567736', 'gift_card_1725971' (not dates or prose)."""
    if " " in value or _DATE.match(value) or not any(ch.isdigit() for ch in value):
        return False
    if value.isdigit():
        return len(value) >= 6
    return len(value) >= 4


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def ungrounded_values(call: ToolCall, history: Sequence[AnyMessage]) -> list[str]:
    """Identifier-like argument values found in no user message and no tool output.

    Case and a leading ``#`` are ignored (a user may say "W123" for order "#W123").
    """
    texts = (message_text(m) for m in history if isinstance(m, HumanMessage | ToolMessage))
    seen = "\n".join(texts).lower()
    values = dict.fromkeys(v for v in _strings(call["args"]) if looks_like_identifier(v))
    return [v for v in values if v.lstrip("#").lower() not in seen]


def describe(call: ToolCall) -> str:
    """A call as ``name({"arg": ...})``."""
    return f"{call['name']}({json.dumps(call['args'], separators=(',', ':'))})"


def deterministic_check(call: ToolCall, history: Sequence[AnyMessage], policy: str) -> Verdict:
    """Confirmation and grounding checks of one write call."""
    if requires_confirmation(policy):
        last_user = next((m for m in reversed(history) if isinstance(m, HumanMessage)), None)
        if last_user is None or not confirms(message_text(last_user)):
            return Verdict(
                False,
                "the policy requires explicit user confirmation before this action. First "
                "list the action details to the user and ask them to confirm (yes).",
                "confirmation",
            )
    missing = ungrounded_values(call, history)
    if missing:
        return Verdict(
            False,
            f"the value(s) {', '.join(missing)} appear in no user message and no tool output. "
            "Look the correct values up with a read tool or ask the user.",
            "grounding",
        )
    return Verdict(True)


def render_conversation(history: Sequence[AnyMessage], max_chars: int = 300) -> str:
    """The last few messages, one line each, labelled by role."""
    lines: list[str] = []
    for message in history[-CONVERSATION_MESSAGES:]:
        if isinstance(message, HumanMessage):
            role = "user"
        elif isinstance(message, ToolMessage):
            role = f"tool {message.name or ''}".strip()
        elif isinstance(message, AIMessage):
            role = "agent"
        else:
            continue
        text = message_text(message)
        if isinstance(message, AIMessage) and message.tool_calls:
            text = "; ".join(describe(c) for c in message.tool_calls)
        lines.append(f"{role}: {clip(one_line(text), max_chars)}")
    return "\n".join(lines)


def parse_answer(text: str) -> Verdict:
    """The model's OK / VIOLATION answer (anything else counts as OK)."""
    for line in strip_thinking(text).splitlines():
        line = line.strip().strip("*").strip()
        if line.upper().startswith("VIOLATION"):
            problem = line.split(":", 1)[1].strip() if ":" in line else "it breaks the policy."
            return Verdict(False, problem or "it breaks the policy.", "policy")
        if line.upper().startswith("OK"):
            return Verdict(True)
    return Verdict(True)


async def policy_check(
    call: ToolCall, history: Sequence[AnyMessage], env: HelperEnv
) -> tuple[Verdict, LLMCall]:
    """Ask the helper model whether the call breaks the most relevant policy rules."""
    if env.model is None:
        raise ValueError("the decision verifier's policy check needs a helper model")
    last_user = next((m for m in reversed(history) if isinstance(m, HumanMessage)), None)
    query: Counter[str] = Counter(tokens(f"{call['name']} {call['name']} {' '.join(call['args'])}"))
    if last_user is not None:
        query.update(tokens(message_text(last_user)))
    rules = relevant_rules(env.policy, query, int(env.params["rules"]), 1600)
    prompt = env.prompts[PROMPT].render(
        rules="\n".join(r.render() for r in rules) or "(no specific rule found)",
        conversation=render_conversation(history),
        action=describe(call),
    )
    reply, usage = await call_model(
        env.model,
        [HumanMessage(content=prompt)],
        node=llm_node(NAME),
        retries=env.retries,
        max_tokens=env.max_output_tokens(NAME),
    )
    return parse_answer(message_text(reply)), usage


async def verify(
    proposal: AIMessage, history: Sequence[AnyMessage], env: HelperEnv
) -> tuple[Verdict, list[LLMCall]]:
    """Check every write call of a proposal; the first violation found wins.

    Only what the agent saw counts (``agent_view``: the user's own tool use is left out).
    When the model check fails (e.g. the helper model is down after its retries) the
    proposal passes with the failure recorded (``Verdict.failure``): a failing helper
    degrades the decision, it never ends the episode.
    """
    history = agent_view(history)
    calls: list[LLMCall] = []
    for call in write_calls(proposal, env):
        verdict = deterministic_check(call, history, env.policy)
        if verdict.ok and env.params["llm_check"]:
            try:
                verdict, usage = await policy_check(call, history, env)
            except Exception as exc:  # degrade: the deterministic checks passed
                return Verdict(True, failure=failure_text(exc)), calls
            calls.append(usage)
        if not verdict.ok:
            return verdict, calls
    return Verdict(True), calls


def remediation(
    proposal: AIMessage, verdict: Verdict, env: HelperEnv, prompt: str = REMEDIATION_PROMPT
) -> str:
    """The guidance for the re-decision after a blocked proposal (``REFUSAL_PROMPT``: the
    tool result of a write refused once the re-decisions are used up)."""
    blocked = write_calls(proposal, env) or proposal.tool_calls
    action = "; ".join(describe(c) for c in blocked)
    return env.prompts[prompt].render(action=clip(action, 300), problem=verdict.problem).strip()
