"""Tolerant extraction of one JSON object from a model's free-text answer."""

from __future__ import annotations

import json
import re
from typing import Any

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_DECODER = json.JSONDecoder()


def _objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object that starts at a ``{`` of ``text``, outermost first."""
    found: list[dict[str, Any]] = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        position = text.find("{", end)
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
