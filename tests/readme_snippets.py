"""The README's code blocks, for the tests that run them (documentation that cannot rot)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    """The text of one ``## title`` section of the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of one language, in order."""
    return [body for lang, body in _BLOCK.findall(text) if lang == language]


def commands(block: str, variables: Mapping[str, str]) -> list[list[str]]:
    """The ``fama`` commands of a bash block as argv lists (``$VAR`` / ``"$VAR"`` replaced)."""
    joined = block.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if not line.startswith("fama "):
            continue
        line = re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], line)
        found.append(shlex.split(line)[1:])
    return found
