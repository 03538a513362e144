"""Tolerant extraction of one JSON object from a model's free-text answer."""

from __future__ import annotations

import json
import re
from typing import Any

from fama.llm.brackets import scan_brackets

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
MAX_DEPTH = 64  # deeper objects are not analyst answers (and parsers recurse per level)


def _objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object of ``text`` that is not inside another one, in text order.

    Candidates come from one linear bracket scan (``fama.llm.brackets``): a reply full of
    unbalanced braces no longer costs one parse attempt per ``{`` over the rest of the text.
    """
    found: list[dict[str, Any]] = []
    covered = 0  # end of the last object found: what starts before it is inside it
    for start, end, too_deep in scan_brackets(text, MAX_DEPTH):
        if end is None or too_deep or start < covered or text[start] != "{":
            continue
        try:
            value = json.loads(text[start:end])
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            found.append(value)
            covered = end
    return found


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (reasoning blocks and code fences are tolerated).

    Raises ``ValueError`` when the text holds no JSON object.
    """
    cleaned = _THINK.sub("", text)
    candidates = [m.group(1) for m in _FENCE.finditer(cleaned)] + [cleaned]
    for candidate in candidates:
        for variant in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            objects = _objects(variant)
            if objects:
                return objects[0]
    raise ValueError("the answer contains no JSON object")
