"""The seed failure categories of the FAMA taxonomy (analysis may add more)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    """A failure category: stable id, display name and definition given to analysts."""

    id: str
    name: str
    definition: str


SEED_CATEGORIES: tuple[Category, ...] = (
    Category(
        "policy_violation",
        "Domain-policy violation",
        "The agent took an action the domain policy forbids, or skipped a step the policy "
        "requires (authentication, explicit confirmation before a write, one write per "
        "request, eligibility checks).",
    ),
    Category(
        "wrong_retrieval",
        "Wrong retrieval from complex tool output",
        "The agent misread a nested or long tool result: picked the wrong item, order, "
        "variant, price, flight or payment method from the data it was given.",
    ),
    Category(
        "contextual_misinterpretation",
        "Contextual misinterpretation / hallucination",
        "The agent misunderstood what the user asked or invented facts, ids or arguments "
        "that neither the user nor a tool provided.",
    ),
    Category(
        "incomplete_fulfilment",
        "Incomplete fulfilment / early stop",
        "The agent stopped before finishing every request of the user, gave up at a "
        "difficulty, or transferred/ended without trying the allowed alternatives.",
    ),
)

SEED_CATEGORY_IDS: tuple[str, ...] = tuple(c.id for c in SEED_CATEGORIES)
