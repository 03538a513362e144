"""Does the simulated customer behave like one? Measures on stored tau2 episodes.

``states_request``: the first customer message is not agent talk ("How can I help you?")
and shares at least ``MIN_SHARED_WORDS`` content words (4+ letters, not stop words) with the
task's reason for the call. This is a lexical proxy, not a judgement: it can miss a request
phrased in other words, and it counts a copied instruction as a stated request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fama.core.trajectory import MessageRecord

MIN_SHARED_WORDS = 2
_AGENT_TALK = re.compile(
    r"how (?:can|may|could) i (?:help|assist)|assist you|help you (?:with|today)", re.I
)
_WORD = re.compile(r"[a-z]{4,}")
_STOP_WORDS = frozenset(
    [
        "that",
        "this",
        "with",
        "your",
        "have",
        "want",
        "would",
        "like",
        "they",
        "them",
        "their",
        "there",
        "what",
        "when",
        "will",
        "from",
        "about",
        "some",
        "also",
        "been",
        "were",
        "which",
        "into",
        "just",
        "only",
        "then",
        "than",
        "very",
        "more",
        "most",
        "such",
    ]
)


def first_user_text(records: Sequence[MessageRecord]) -> str | None:
    """The text of the first customer message, or None when the customer never wrote."""
    for record in records:
        if record["role"] == "user" and (record.get("content") or "").strip():
            return str(record["content"])
    return None


def is_agent_talk(text: str) -> bool:
    """True when a customer message sounds like the agent ("How can I assist you today?")."""
    return _AGENT_TALK.search(text) is not None


def content_words(text: str) -> set[str]:
    """Lower-case words of 4+ letters that are not stop words."""
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS}


def states_request(text: str | None, reason_for_call: str) -> bool:
    """The ``states_request`` measure of the module doc for one first customer message."""
    if not text or is_agent_talk(text):
        return False
    return len(content_words(text) & content_words(reason_for_call)) >= MIN_SHARED_WORDS


@dataclass(frozen=True)
class UserTurnSummary:
    """The customer-behaviour figures of one run."""

    episodes: int
    scored: int
    states_request: int
    agent_talk: int
    solved: int

    def share(self, count: int) -> float:
        """``count`` as a share of the episodes (0 when there are none)."""
        return count / self.episodes if self.episodes else 0.0


def summarize(
    episodes: Sequence[tuple[Sequence[MessageRecord], float | None]], reasons: Sequence[str]
) -> UserTurnSummary:
    """Figures over ``(trajectory, reward)`` pairs, each with its task's reason for the call."""
    firsts = [first_user_text(records) for records, _ in episodes]
    return UserTurnSummary(
        episodes=len(episodes),
        scored=sum(reward is not None for _, reward in episodes),
        states_request=sum(states_request(t, r) for t, r in zip(firsts, reasons, strict=True)),
        agent_talk=sum(t is not None and is_agent_talk(t) for t in firsts),
        solved=sum(reward == 1.0 for _, reward in episodes),
    )
