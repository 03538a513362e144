"""The customer-behaviour measures on stored episodes."""

from __future__ import annotations

from fama.core.trajectory import MessageRecord
from fama.runs.user_turns import first_user_text, is_agent_talk, states_request, summarize

REASON = "You want to exchange the water bottle and the desk lamp."


def _episode(first_user: str) -> list[MessageRecord]:
    return [
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": first_user},
    ]


def test_first_user_text_skips_agent_messages_and_empty_ones() -> None:
    records: list[MessageRecord] = [
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "  "},
        {"role": "user", "content": "I want a refund."},
    ]
    assert first_user_text(records) == "I want a refund."
    assert first_user_text(records[:1]) is None


def test_states_request_and_agent_talk() -> None:
    assert states_request("I'd like to exchange my water bottle.", REASON)
    assert not states_request("Hello! How can I assist you today?", REASON)
    assert is_agent_talk("Hello! How can I assist you today?")
    assert not states_request("Hi, my name is Yusuf.", REASON)
    assert not states_request(None, REASON)


def test_summary_counts() -> None:
    summary = summarize(
        [
            (_episode("I want to exchange a water bottle."), 1.0),
            (_episode("How can I help you today?"), 0.0),
            (_episode("Hi."), None),
        ],
        [REASON] * 3,
    )
    assert (summary.episodes, summary.scored, summary.states_request) == (3, 2, 1)
    assert (summary.agent_talk, summary.solved) == (1, 1)
    assert summary.share(summary.states_request) == 1 / 3
