"""A circuit breaker over episode outcomes: stop a run whose model server is down.

Each infrastructure error counts; any other outcome resets the count. When ``limit``
consecutive episodes (in the order they end) were infrastructure errors, the breaker trips
and the runner stops instead of grinding through every remaining task.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CircuitBreaker:
    """Trips after ``limit`` consecutive infrastructure errors."""

    limit: int
    consecutive: int = 0
    last_detail: str = ""

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"the circuit breaker limit must be >= 1, got {self.limit}")

    def record(self, status: str, detail: str | None = None) -> bool:
        """Count one finished episode; True when the breaker has tripped."""
        if status == "infrastructure_error":
            self.consecutive += 1
            lines = (detail or "").strip().splitlines()
            self.last_detail = lines[-1] if lines else ""
        else:
            self.consecutive = 0
        return self.tripped

    @property
    def tripped(self) -> bool:
        """Whether ``limit`` consecutive infrastructure errors have been seen."""
        return self.consecutive >= self.limit

    def reason(self) -> str:
        """One line saying why the run was stopped."""
        last = f"; last: {self.last_detail}" if self.last_detail else ""
        return f"{self.consecutive} consecutive episodes ended in an infrastructure error{last}"
