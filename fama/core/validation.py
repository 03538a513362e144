"""Pydantic validation errors as a few short lines (one per problem) for command output."""

from __future__ import annotations

from pydantic import ValidationError

MAX_PROBLEMS = 5


def brief(exc: ValidationError, limit: int = MAX_PROBLEMS) -> str:
    """``"N problem(s):"`` then one ``  location: message`` line per problem (at most
    ``limit``, then how many more), without pydantic's input dumps and URLs."""
    errors = exc.errors(include_url=False)
    lines = [
        f"  {'.'.join(str(part) for part in e['loc']) or '(document)'}: {e['msg']}"
        for e in errors[:limit]
    ]
    if len(errors) > limit:
        lines.append(f"  ... and {len(errors) - limit} more")
    return f"{len(errors)} problem(s):\n" + "\n".join(lines)
