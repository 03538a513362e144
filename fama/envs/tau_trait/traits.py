"""User traits of tau-trait (impatience, confusion, skeptical, incoherence) as persona text.

Official tau-trait generates trait-steered user turns on Collinear's hosted activation-
steering service (TraitBasis), which is closed and cannot be used here. We use the
prompt-based alternative: for each chosen trait and level, a short behavioural instruction
(registry prompt ``tau_trait_traits``, written from the behaviour seen in the released
trajectories) is appended to the user simulator's prompt. Levels: low | medium | high;
traits combine. Trait names follow collinear-ai/tau-trait (MIT).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fama.prompts.registry import Prompt, load_prompt

TRAITS = ("impatience", "confusion", "skeptical", "incoherence")
LEVELS = ("low", "medium", "high")
ALIASES = {"skepticism": "skeptical", "impatient": "impatience", "incoherent": "incoherence"}
PROMPT_NAME = "tau_trait_traits"
_SEPARATOR = "\n---\n"
_LINE = re.compile(r"^(\w+) (low|medium|high): (.+)$")


def validate_traits(traits: Mapping[str, str]) -> dict[str, str]:
    """Normalised traits (lower case, canonical names, canonical order); bad input raises.

    Raises ``ValueError`` naming the valid traits or levels.
    """
    normalised: dict[str, str] = {}
    for raw_name, raw_level in traits.items():
        name = ALIASES.get(raw_name.strip().lower(), raw_name.strip().lower())
        level = str(raw_level).strip().lower()
        if name not in TRAITS:
            raise ValueError(f"unknown trait {raw_name!r} (choose from {', '.join(TRAITS)})")
        if level not in LEVELS:
            raise ValueError(
                f"trait {name}: unknown level {raw_level!r} (choose from {', '.join(LEVELS)})"
            )
        if name in normalised:
            raise ValueError(f"trait {name} given more than once")
        normalised[name] = level
    return {name: normalised[name] for name in TRAITS if name in normalised}


def parse_traits(spec: str) -> dict[str, str]:
    """``"impatience=high,confusion=low"`` -> ``{"impatience": "high", "confusion": "low"}``.

    An empty string means no traits. Raises ``ValueError`` for malformed entries.
    """
    pairs: dict[str, str] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, sep, level = item.partition("=")
        if not sep or not name.strip() or not level.strip():
            raise ValueError(
                f"bad trait {item!r}: write trait=level, e.g. impatience=high,confusion=low"
            )
        key = name.strip().lower()
        if key in pairs:
            raise ValueError(f"trait {key} given more than once")
        pairs[key] = level.strip()
    return validate_traits(pairs)


def format_traits(traits: Mapping[str, str]) -> str:
    """The inverse of ``parse_traits`` (``""`` for no traits)."""
    return ",".join(f"{name}={level}" for name, level in validate_traits(traits).items())


def traits_prompt() -> Prompt:
    """The registry prompt holding the persona header and the per-trait, per-level lines."""
    return load_prompt(PROMPT_NAME)


def _split_prompt(prompt: Prompt) -> tuple[str, dict[tuple[str, str], str]]:
    header, sep, table = prompt.text.partition(_SEPARATOR)
    if not sep:
        raise ValueError(f"prompt {prompt.name}/{prompt.version}: missing '---' separator")
    lines: dict[tuple[str, str], str] = {}
    for line in table.strip().splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            raise ValueError(f"prompt {prompt.name}/{prompt.version}: bad line {line!r}")
        lines[(match.group(1), match.group(2))] = match.group(3)
    missing = [f"{t} {lv}" for t in TRAITS for lv in LEVELS if (t, lv) not in lines]
    if missing:
        raise ValueError(f"prompt {prompt.name}/{prompt.version}: no text for {missing}")
    return header, lines


def render_persona(traits: Mapping[str, str]) -> str:
    """The persona block appended to the user prompt ("" when no traits are set)."""
    chosen = validate_traits(traits)
    if not chosen:
        return ""
    header, lines = _split_prompt(traits_prompt())
    bullets = "\n".join(
        f"- {name} ({level}): {lines[(name, level)]}" for name, level in chosen.items()
    )
    return header.format(traits=bullets)
