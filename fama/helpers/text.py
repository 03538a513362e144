"""Small deterministic text tools the helpers share: tokens, lexical scoring, clipping."""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage

_WORD = re.compile(r"[a-z0-9]+")
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)

_STOPWORD_TEXT = """
    a about above after again all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each either
    few for from further had has have having he her here hers him his how i if in into is it
    its itself just let me might more most must my no nor not now of off on once only or other
    our ours out over own please same she should so some such than that the their theirs them
    then there these they this those through to too under until up us very was we were what
    when where which while who whom why will with would yes you your yours"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_SUFFIXES = ("ational", "ations", "ation", "ments", "ment", "ings", "ing", "ies", "ed", "es", "s")


def stem(word: str) -> str:
    """A light suffix stripper so 'cancelled', 'cancellation' and 'cancel' meet."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if not word.endswith(suffix) or len(word) - len(suffix) < 3:
            continue
        if suffix == "s" and word.endswith(("ss", "us", "is")):
            break
        if suffix == "ies":
            word = word[:-3] + "y"
        elif suffix == "es" and not word.endswith(("sses", "xes", "ches", "shes", "zes")):
            word = word[:-1]
        else:
            word = word[: -len(suffix)]
        break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if word.endswith("y") and len(word) > 3:
        word = word[:-1] + "i"
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiousz":
        word = word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words (identifiers split on ``_``)."""
    return [stem(w) for w in _WORD.findall(text.lower().replace("_", " ")) if w not in STOPWORDS]


def bm25(query: Mapping[str, float], documents: Sequence[Sequence[str]]) -> list[float]:
    """BM25 score of every document for a weighted query (k1 = 1.2, b = 0.75)."""
    if not documents:
        return []
    frequency: Counter[str] = Counter()
    for doc in documents:
        frequency.update(set(doc))
    n = len(documents)
    average = sum(len(d) for d in documents) / n or 1.0
    scores: list[float] = []
    for doc in documents:
        counts = Counter(doc)
        norm = 1.2 * (0.25 + 0.75 * len(doc) / average)
        score = 0.0
        for token, weight in query.items():
            tf = counts.get(token, 0)
            if tf:
                idf = math.log(1.0 + (n - frequency[token] + 0.5) / (frequency[token] + 0.5))
                score += weight * idf * tf * 2.2 / (tf + norm)
        scores.append(score)
    return scores


def clip(text: str, max_chars: int) -> str:
    """The text cut to at most ``max_chars`` characters (with an ellipsis when cut)."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    if max_chars <= 1:
        return ""
    return text[: max_chars - 1].rstrip() + "…"


def one_line(text: str) -> str:
    """Whitespace collapsed to single spaces."""
    return " ".join(text.split())


def message_text(message: BaseMessage) -> str:
    """The plain text of a message (content parts joined)."""
    return message.text if isinstance(message.content, list) else str(message.content)


def strip_thinking(text: str) -> str:
    """A reply without ``<think>...</think>`` blocks (reasoning models)."""
    return _THINK.sub("", text).strip()


def parse_json(text: str) -> Any | None:
    """The JSON object or array a text holds, or None when it holds something else."""
    text = text.strip()
    if not text or text[0] not in "[{":
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: a tool output nested too deep
        return None


def user_messages(messages: Sequence[AnyMessage]) -> list[HumanMessage]:
    """The (simulated) user's messages, oldest first."""
    return [m for m in messages if isinstance(m, HumanMessage)]


def tool_calls_since(messages: Sequence[AnyMessage], start: int) -> list[str]:
    """Names of the tools the agent called from ``messages[start]`` on."""
    return [
        call["name"] for m in messages[start:] if isinstance(m, AIMessage) for call in m.tool_calls
    ]


def conversation_query(
    messages: Sequence[AnyMessage],
    *,
    user_turns: int = 3,
    tool_filter: Callable[[str], bool] = lambda _: True,
) -> dict[str, float]:
    """Weighted tokens describing where the conversation is now.

    The latest user message weighs most, earlier user messages (up to ``user_turns`` in all)
    and the agent's latest text less, and the names of the tools called since the latest
    user message (those ``tool_filter`` accepts) count too.
    """
    query: defaultdict[str, float] = defaultdict(float)
    users = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    for rank, index in enumerate(reversed(users[-user_turns:])):
        weight = 2.0 if rank == 0 else 1.0
        for token in set(tokens(message_text(messages[index]))):
            query[token] += weight
    for message in reversed(messages):
        if isinstance(message, AIMessage) and message_text(message).strip():
            for token in set(tokens(message_text(message))):
                query[token] += 0.5
            break
    start = users[-1] if users else 0
    for name in filter(tool_filter, tool_calls_since(messages, start)):
        for token in tokens(name):
            query[token] += 1.5
    return dict(query)
