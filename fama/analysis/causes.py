"""Typical causes per seed category, shown to that category's analyst (FAMA's cause lists)."""

from __future__ import annotations

CATEGORY_CAUSES: dict[str, tuple[str, ...]] = {
    "policy_violation": (
        "made a write (cancel, modify, exchange, return, book, update) without first stating "
        "the details and getting an explicit yes from the user",
        "acted before authenticating the user as the policy requires",
        "acted on an order, item or reservation the policy makes ineligible (status, time "
        "limit, fare class, membership)",
        "applied a policy rule wrongly (refund method, compensation, baggage, cabin or "
        "passenger changes, one action per request)",
        "transferred to a human when the policy says to handle or refuse the request, or "
        "did not transfer when the policy requires it",
    ),
    "wrong_retrieval": (
        "picked the wrong order, reservation, item, variant or flight from a list a tool returned",
        "copied a wrong id, price, date, option or payment method out of a tool result",
        "missed an entry of a long or nested output (e.g. looked only at the first item)",
        "computed a total, refund or price difference wrongly from retrieved values",
    ),
    "contextual_misinterpretation": (
        "misunderstood which item, option or action the user wanted",
        "invented ids, arguments or facts that neither the user nor a tool provided",
        "forgot or ignored a constraint or preference the user stated earlier",
        "assumed details instead of asking the user",
    ),
    "incomplete_fulfilment": (
        "ended or transferred the conversation before every request of the user was handled",
        "gave up after a tool error instead of fixing the call or trying an allowed alternative",
        "handled only part of a multi-part request",
        "did not tell the user information they asked for (e.g. a total or refund amount)",
        "looped until the step or error limit",
    ),
}


def render_causes(category_id: str) -> str:
    """The cause list of a category as bullet lines (a neutral line if none is known)."""
    causes = CATEGORY_CAUSES.get(category_id, ())
    if not causes:
        return "- (no list for this category; rely on its definition)"
    return "\n".join(f"- {cause}" for cause in causes)
