"""One linear pass over a model reply: where its bracketed (JSON-like) regions are.

``scan_brackets`` pairs every ``{`` / ``[`` with its closer in a single left-to-right pass,
so finding tool calls written as text costs time linear in the reply, whatever its shape
(a flood of unbalanced braces included). Quotes count only inside brackets and only where a
JSON or Python-literal string can start (after ``{ [ , :``), so prose apostrophes ("I'll")
do not hide the rest of the text; a string ends at its closing quote or, unterminated, at a
newline. A closer of the wrong kind closes the nearest opener of its kind (the openers above
it stay unclosed) or is ignored. Openers nested deeper than ``max_depth`` are not reported;
every reported region that contains them is marked ``too_deep`` (not worth parsing: JSON and
Python parsers recurse once per level).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_OUTSIDE = re.compile(r"[{\[]")
_INSIDE = re.compile(r"""[{}\[\]"']""")
_IN_STRING = {'"': re.compile(r'["\\\n]'), "'": re.compile(r"['\\\n]")}
_STRING_AFTER = frozenset("{[,:")
_CLOSER_OF = {"{": "}", "[": "]"}


@dataclass(frozen=True, slots=True)
class Brackets:
    """The openers of one scan in text order: where each starts, the index after its closer
    (None: never closed) and whether it holds deeper openers.

    Parallel lists of plain values, not one object per bracket: nothing for the garbage
    collector to track, so a reply of thousands of brackets does not bring on the full
    collections that hold up every thread (the event loop's included).
    """

    starts: list[int]
    ends: list[int | None]
    too_deep: list[bool]

    def __iter__(self) -> Iterator[tuple[int, int | None, bool]]:
        return zip(self.starts, self.ends, self.too_deep, strict=True)


def _string_may_start(text: str, at: int) -> bool:
    """True when the quote at ``at`` follows ``{ [ , :`` (whitespace skipped)."""
    j = at - 1
    while j >= 0 and text[j].isspace():  # each whitespace run is read for one quote only
        j -= 1
    return j >= 0 and text[j] in _STRING_AFTER


class _Scan:
    """The pass's state: open brackets (indexes into the result) and what they hold."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.starts: list[int] = []
        self.ends: list[int | None] = []
        self.deep: list[bool] = []
        self.stack: list[int] = []  # result indexes of the open, reported brackets
        self.kinds: list[str] = []  # their opening characters
        self.overflow = 0  # open brackets deeper than max_depth (not reported)

    @property
    def depth(self) -> int:
        return len(self.stack) + self.overflow

    def open(self, at: int, char: str) -> None:
        if len(self.stack) >= self.max_depth:
            self.overflow += 1
            if self.stack:
                self.deep[self.stack[-1]] = True
            return
        self.stack.append(len(self.starts))
        self.kinds.append(char)
        self.starts.append(at)
        self.ends.append(None)
        self.deep.append(False)

    def close(self, at: int, char: str) -> None:
        if self.overflow:
            self.overflow -= 1
            return
        matching = [i for i, kind in enumerate(self.kinds) if _CLOSER_OF[kind] == char]
        if not matching:
            return  # a stray closer
        while len(self.stack) > matching[-1]:
            index = self.stack.pop()
            self.kinds.pop()
            if len(self.stack) == matching[-1]:
                self.ends[index] = at + 1
            if self.stack and self.deep[index]:
                self.deep[self.stack[-1]] = True

    def result(self) -> Brackets:
        for inner, outer in zip(self.stack[:0:-1], self.stack[-2::-1], strict=True):
            self.deep[outer] = self.deep[outer] or self.deep[inner]  # never closed: still inside
        return Brackets(self.starts, self.ends, self.deep)


def scan_brackets(text: str, max_depth: int) -> Brackets:
    """Every ``{``/``[`` at nesting depth <= ``max_depth`` with its match, in text order."""
    scan = _Scan(max_depth)
    pos, length = 0, len(text)
    quote: str | None = None
    while pos < length:  # every turn moves pos forward
        if quote is not None:
            found = _IN_STRING[quote].search(text, pos)
            if found is None:
                break
            char, pos = found.group(), found.end()
            if char == "\\":
                pos += 1  # the escaped character
            else:
                quote = None  # closed, or abandoned at a newline
            continue
        found = (_INSIDE if scan.depth else _OUTSIDE).search(text, pos)
        if found is None:
            break
        char, at, pos = found.group(), found.start(), found.end()
        if char in "{[":
            scan.open(at, char)
        elif char in "}]":
            scan.close(at, char)
        elif _string_may_start(text, at):
            quote = char
    return scan.result()
