"""Domain-constraints extractor: the few policy rules relevant to the current state.

Deterministic retrieval (no model call): the policy is split once into rules (paragraphs and
list groups, labelled with their section heading), and the rules are ranked by BM25 overlap
of their text and of their section heading with the recent conversation and the write
tools in play. The top few are injected, in policy order, within the helper's share of the
guidance budget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from fama.helpers.base import HelperEnv, HelperInput, HelperSpec, HelperUpdate, guidance
from fama.helpers.text import bm25, conversation_query, one_line, tokens

NAME = "constraints_extractor"
PROMPT = "helper_constraints_extractor"
MAX_RULE_CHARS = 420
MIN_RULE_CHARS = 30

SPEC = HelperSpec(
    name=NAME,
    description="Domain-constraints extractor: before each decision, extracts from the "
    "domain policy the few rules that apply to the current state (e.g. authentication, "
    "confirmation before a write, eligibility conditions of the requested action) and "
    "injects them. Facilitates following the domain policy.",
    addresses=frozenset({"policy_violation"}),
    uses_llm=False,
    default_params={"rules": 3, "impl": "rules"},  # impl llm: the agent variant
    typical_tokens=160,
    prompts=(PROMPT, "helper_constraints_extractor_llm"),  # the second: impl llm
)

_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
_ITEM = re.compile(r"^[-*]\s+")


@dataclass(frozen=True)
class Rule:
    """One retrievable piece of the policy."""

    section: str
    text: str
    tokens: tuple[str, ...]
    section_tokens: tuple[str, ...]

    def render(self) -> str:
        """The rule as one guidance line."""
        return f"- [{self.section}] {self.text}" if self.section else f"- {self.text}"


def _flat(lines: list[str]) -> str:
    return one_line(" ".join(_ITEM.sub("• ", line.strip()) for line in lines).replace("**", ""))


def _chunks(lines: list[str]) -> list[list[str]]:
    """A long block split into its intro plus groups of top-level list items."""
    if len("\n".join(lines)) <= MAX_RULE_CHARS:
        return [lines]
    first_item = next((i for i, line in enumerate(lines) if _ITEM.match(line)), None)
    if first_item is None:
        return [lines]
    intro = lines[:first_item]
    items: list[list[str]] = []
    for line in lines[first_item:]:
        if _ITEM.match(line) or not items:
            items.append([line])
        else:
            items[-1].append(line)  # a nested or continued line stays with its item
    chunks: list[list[str]] = []
    current: list[str] = []
    for item in items:
        if current and len("\n".join([*intro, *current, *item])) > MAX_RULE_CHARS:
            chunks.append([*intro, *current])
            current = []
        current.extend(item)
    chunks.append([*intro, *current])
    return chunks


@lru_cache(maxsize=16)
def split_policy(policy: str) -> tuple[Rule, ...]:
    """The policy's rules, in order (blank-line separated blocks under their heading)."""
    blocks: list[tuple[str, list[str]]] = []
    headings: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            section = headings[-1] if len(headings) > 1 else ""
            only_items = all(_ITEM.match(line) for line in current)
            after_intro = (
                bool(blocks) and blocks[-1][0] == section and blocks[-1][1][-1].endswith(":")
            )
            if only_items and after_intro:
                blocks[-1][1].extend(current)  # a list that belongs to the paragraph before
            else:
                blocks.append((section, list(current)))
            current.clear()

    for raw in policy.splitlines():
        line = raw.rstrip()
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = len(heading.group(1))
            del headings[level - 1 :]
            headings.extend([""] * (level - 1 - len(headings)))
            headings.append(heading.group(2).replace("**", ""))
        elif not line.strip():
            flush()
        else:
            current.append(line)
    flush()
    rules: list[Rule] = []
    for section, lines in blocks:
        for chunk in _chunks(lines):
            text = _flat(chunk)
            if len(text) >= MIN_RULE_CHARS:
                rules.append(Rule(section, text, tuple(tokens(text)), tuple(tokens(section))))
    return tuple(rules)


def relevant_rules(
    policy: str, query: Mapping[str, float], count: int, max_chars: int
) -> list[Rule]:
    """The best ``count`` rules for a query that fit in ``max_chars``, in policy order."""
    rules = split_policy(policy)
    body = bm25(query, [r.tokens for r in rules])
    heading = bm25(query, [r.section_tokens for r in rules])
    scores = [b + h for b, h in zip(body, heading, strict=True)]
    ranked = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: -scores[i])
    chosen: list[int] = []
    used = 0
    for index in ranked:
        if len(chosen) == count:
            break
        size = len(rules[index].render()) + 3  # newline and indentation
        if used + size <= max_chars:
            chosen.append(index)
            used += size
    return [rules[i] for i in sorted(chosen)]


async def run(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
    """Guidance with the policy rules most relevant to the current state."""
    # read tools add only generic words (get, details, find); write tools name the action
    write = env.tool_kind
    query = conversation_query(inp["messages"], tool_filter=lambda n: write(n) == "write")
    prompt = env.prompts[PROMPT]
    budget = inp["max_chars"] - len(prompt.text)
    rules = relevant_rules(env.policy, query, int(env.params["rules"]), budget)
    if not rules:
        return guidance(NAME, "")
    text = prompt.render(rules="\n".join(r.render() for r in rules))
    return guidance(NAME, text, inp["max_chars"])
