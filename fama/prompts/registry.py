"""Versioned prompt templates: ``fama/prompts/<name>/v<N>.md``, loaded through one registry.

Templates use ``{placeholder}`` fields (``str.format``; a literal brace is written ``{{``).
Rendering with a missing variable raises. Every loaded prompt carries its name, version and
sha256 so a run can record exactly which texts produced its results.

Which version is used has one source: ``pins.json`` (prompt name -> version). Adding a
``v2.md`` changes nothing until the pin, or a run's ``PromptSet`` override, selects it. A run
resolves one ``PromptSet`` for the prompts its components declare; its nodes load through
it, and the run records the set's refs, so the record is exactly what can be rendered.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

PROMPTS_DIR = Path(__file__).parent
PINS_FILE = "pins.json"
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


def versions(name: str, root: Path = PROMPTS_DIR) -> list[str]:
    """Available versions of a prompt, oldest first (e.g. ``["v1", "v2"]``)."""
    folder = root / name
    found = [m.group(1) for p in folder.glob("v*.md") if (m := _VERSION_FILE.match(p.name))]
    return [f"v{n}" for n in sorted(int(n) for n in found)]


@cache
def pins(root: Path = PROMPTS_DIR) -> Mapping[str, str]:
    """The pinned (default) version of every prompt: ``<root>/pins.json``."""
    path = root / PINS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"prompt pins {path} unreadable: {exc}") from exc
    return MappingProxyType({str(k): str(v) for k, v in data.items()})


@cache
def load_prompt(name: str, version: str | None = None, root: Path = PROMPTS_DIR) -> Prompt:
    """Load a prompt by name: its pinned version unless one is given."""
    available = versions(name, root)
    if not available:
        raise FileNotFoundError(f"no prompt named {name!r} under {root}")
    chosen = version or pins(root).get(name)
    if chosen is None:
        raise FileNotFoundError(f"prompt {name!r} has no pin in {root / PINS_FILE}")
    if chosen not in available:
        raise FileNotFoundError(f"prompt {name!r} has no version {chosen!r} ({available})")
    text = (root / name / f"{chosen}.md").read_text(encoding="utf-8")
    return Prompt(name=name, version=chosen, text=text)


def all_prompt_names(root: Path = PROMPTS_DIR) -> list[str]:
    """Every prompt name that has at least one version file."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and versions(p.name, root))


@dataclass(frozen=True)
class PromptSet:
    """The prompts one run may render, each at one version, resolved once.

    ``PromptSet.resolve(names, overrides)`` loads every declared prompt (pinned version, or
    the override's); nodes then get them with ``prompts[name]``. Asking for a prompt that
    was not declared raises ``KeyError``, so ``refs`` (what the run records) always covers
    everything the run renders.
    """

    prompts: Mapping[str, Prompt] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        names: Iterable[str],
        overrides: Mapping[str, str] | None = None,
        root: Path = PROMPTS_DIR,
    ) -> PromptSet:
        """Load ``names`` (unique, in order) at their pinned or overridden versions."""
        chosen = dict(overrides or {})
        loaded = {name: load_prompt(name, chosen.get(name), root) for name in dict.fromkeys(names)}
        unused = sorted(chosen.keys() - loaded.keys())
        if unused:
            raise KeyError(f"prompt overrides for prompts this run does not use: {unused}")
        return cls(MappingProxyType(loaded))

    @classmethod
    def defaults(cls, root: Path = PROMPTS_DIR) -> PromptSet:
        """Every prompt at its pinned version (for components used outside a run)."""
        return _default_set(root)

    def __getitem__(self, name: str) -> Prompt:
        try:
            return self.prompts[name]
        except KeyError:
            raise KeyError(
                f"prompt {name!r} is not in this run's prompt set "
                f"(declared: {', '.join(self.prompts) or 'none'})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.prompts

    def merged(self, other: PromptSet) -> PromptSet:
        """This set plus ``other``'s prompts (``other`` wins on a name in both)."""
        return PromptSet(MappingProxyType({**self.prompts, **other.prompts}))

    @property
    def refs(self) -> list[dict[str, str]]:
        """Name, version and sha256 of every prompt in the set (what the run records)."""
        return [prompt.ref for prompt in self.prompts.values()]


@cache
def _default_set(root: Path) -> PromptSet:
    return PromptSet.resolve(pins(root), root=root)
