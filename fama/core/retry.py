"""How model calls are retried: a run setting, read by the LLM layer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a model call that failed transiently."""

    attempts: int = 4  # total attempts, first one included
    initial_backoff_s: float = 1.0
    multiplier: float = 2.0
    max_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        if self.initial_backoff_s < 0 or self.max_backoff_s < 0 or self.multiplier < 1:
            raise ValueError(f"invalid backoff settings in {self}")

    def backoff(self, failed_attempt: int) -> float:
        """Seconds to wait after the given (0-based) failed attempt."""
        return min(self.max_backoff_s, self.initial_backoff_s * self.multiplier**failed_attempt)
