"""Output-token limits per role: every model call may write at most this many tokens.

A limit is looked up by the LLM call's node name: the exact name (``helper:planner``), then
its part before ``:`` (``helper``, ``analyst``), then ``default``. The defaults fit each
role's job: the agent writes one message or a few tool calls, the user simulator one short
customer line, the judge one JSON verdict per assertion, a helper at most its guidance share
(the planner's plan is clipped to 500 characters, the verifier answers one line).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

DEFAULT_OUTPUT_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "agent": 1024,
        "user": 256,
        "judge": 1024,
        "analyst": 1024,
        "helper": 256,
        "helper:planner": 192,
        "helper:decision_verifier": 128,
        "default": 1024,
    }
)
MAX_OUTPUT_LIMIT = 32_768
_PREFIXED = frozenset({"helper", "analyst"})  # roles that may name one node: helper:planner


class OutputLimitError(ValueError):
    """A malformed ``ROLE=TOKENS`` list or an out-of-range limit."""


def _checked(role: str, tokens: Any) -> int:
    if isinstance(tokens, bool) or not isinstance(tokens, int):
        raise OutputLimitError(f"output limit of {role!r} must be an integer, got {tokens!r}")
    if not 1 <= tokens <= MAX_OUTPUT_LIMIT:
        raise OutputLimitError(
            f"output limit of {role!r} must be between 1 and {MAX_OUTPUT_LIMIT}, got {tokens}"
        )
    return tokens


@dataclass(frozen=True)
class OutputLimits:
    """The run's output-token limit of every role (defaults plus overrides)."""

    overrides: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role, tokens in self.overrides.items():
            if not isinstance(role, str) or not role.strip():
                raise OutputLimitError(f"output limit roles must be non-empty names, got {role!r}")
            _checked(role, tokens)
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    @property
    def table(self) -> dict[str, int]:
        """Every role's limit: the defaults with the overrides applied (JSON-ready)."""
        return {**DEFAULT_OUTPUT_LIMITS, **self.overrides}

    def for_node(self, node: str) -> int:
        """The limit of an LLM call made by ``node`` (exact name, then its prefix, then default)."""
        table = self.table
        for key in (node, node.partition(":")[0]):
            if key in table:
                return table[key]
        return table["default"]

    @classmethod
    def parse(cls, text: str | None) -> OutputLimits:
        """``"agent=1024,user=256,helper:planner=300"`` -> limits with those overrides."""
        overrides: dict[str, int] = {}
        for part in (text or "").split(","):
            if not part.strip():
                continue
            role, sep, value = part.strip().partition("=")
            role = role.strip()
            if not sep or not role or not value.strip().isdigit():
                raise OutputLimitError(
                    f"expected ROLE=TOKENS pairs (e.g. agent=1024,user=256), got {part.strip()!r}"
                )
            if role not in DEFAULT_OUTPUT_LIMITS and role.partition(":")[0] not in _PREFIXED:
                known = ", ".join(sorted(DEFAULT_OUTPUT_LIMITS))
                raise OutputLimitError(
                    f"unknown role {role!r} for an output limit (known: {known}, helper:NAME)"
                )
            overrides[role] = _checked(role, int(value))
        return cls(overrides)
