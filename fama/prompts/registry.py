"""Versioned prompt templates: ``fama/prompts/<name>/v<N>.md``, loaded through one registry.

Templates use ``{placeholder}`` fields (``str.format``; a literal brace is written ``{{``).
Rendering with a missing variable raises. Every loaded prompt carries its name, version and
sha256 so a run can record exactly which texts produced its results.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PROMPTS_DIR = Path(__file__).parent
_VERSION_FILE = re.compile(r"^v(\d+)\.md$")


@dataclass(frozen=True)
class Prompt:
    """One version of one prompt template."""

    name: str
    version: str
    text: str

    @property
    def sha256(self) -> str:
        """Hash of the template text."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def variables(self) -> set[str]:
        """Names of the template's placeholders."""
        return {f for _, f, _, _ in string.Formatter().parse(self.text) if f}

    @property
    def ref(self) -> dict[str, str]:
        """The record a run stores for this prompt."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256}

    def render(self, **values: Any) -> str:
        """Fill the template; every placeholder must be given, and nothing extra."""
        missing = self.variables - values.keys()
        extra = values.keys() - self.variables
        if missing or extra:
            raise KeyError(
                f"prompt {self.name}/{self.version}: missing {sorted(missing)}, "
                f"unexpected {sorted(extra)}"
            )
        return self.text.format(**values)


def versions(name: str) -> list[str]:
    """Available versions of a prompt, oldest first (e.g. ``["v1", "v2"]``)."""
    folder = PROMPTS_DIR / name
    found = [m.group(1) for p in folder.glob("v*.md") if (m := _VERSION_FILE.match(p.name))]
    return [f"v{n}" for n in sorted(int(n) for n in found)]


@cache
def load_prompt(name: str, version: str | None = None) -> Prompt:
    """Load a prompt by name; the newest version unless one is given."""
    available = versions(name)
    if not available:
        raise FileNotFoundError(f"no prompt named {name!r} under {PROMPTS_DIR}")
    chosen = version or available[-1]
    if chosen not in available:
        raise FileNotFoundError(f"prompt {name!r} has no version {chosen!r} ({available})")
    text = (PROMPTS_DIR / name / f"{chosen}.md").read_text(encoding="utf-8")
    return Prompt(name=name, version=chosen, text=text)


def all_prompt_names() -> list[str]:
    """Every prompt name that has at least one version file."""
    return sorted(p.name for p in PROMPTS_DIR.iterdir() if p.is_dir() and versions(p.name))
