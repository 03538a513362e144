"""Check a FAMA configuration's helpers and parameters before a run starts.

Each helper's parameter schema is its ``default_params``: the same names, the same type
(``bool`` or a whole number), and whole numbers between 0 and ``MAX_INT``. A configuration
that breaks it would make every episode fail, so ``fama run`` refuses it at start.
"""

from __future__ import annotations

from typing import Any

from fama.core.fama_config import FamaConfig
from fama.helpers.registry import HELPERS

MAX_INT = 100_000


def param_problem(helper: str, name: str, value: Any) -> str | None:
    """What is wrong with one parameter value, or None."""
    defaults = HELPERS[helper].default_params
    if name not in defaults:
        known = ", ".join(sorted(defaults)) or "none"
        return f"{helper}.{name}: unknown parameter (known: {known})"
    expected = defaults[name]
    if isinstance(expected, bool):
        return None if isinstance(value, bool) else f"{helper}.{name}: must be true or false"
    if isinstance(expected, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{helper}.{name}: must be a whole number, got {value!r}"
        if not 0 <= value <= MAX_INT:
            return f"{helper}.{name}: must be between 0 and {MAX_INT}, got {value}"
        return None
    if not isinstance(value, type(expected)):
        return f"{helper}.{name}: must be a {type(expected).__name__}, got {value!r}"
    return None


def config_problems(config: FamaConfig) -> list[str]:
    """Every problem of the configuration's helper names and parameters (empty: usable)."""
    problems = [f"unknown helper {name!r}" for name in config.helpers if name not in HELPERS]
    for helper, params in config.params.items():
        if helper not in HELPERS:
            problems.append(f"parameters for unknown helper {helper!r}")
            continue
        found = (param_problem(helper, name, value) for name, value in params.items())
        problems.extend(p for p in found if p is not None)
    return problems
