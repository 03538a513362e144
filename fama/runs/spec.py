"""The run configuration: one pydantic ``RunSpec``, built by the CLI and stored with the run.

Its JSON form is the ``config`` column of the run store, so ``fama report``, ``compare``,
``view`` and ``analyze`` read the same keys a run was made with. Resuming compares the
stored spec with the new one after filling the defaults of fields added since the stored
run was made, so adding a field never breaks the resume of an older run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.output_limits import DEFAULT_OUTPUT_LIMITS
from fama.runs.store import RESUME_IGNORED_KEYS, config_differences

AgentKind = Literal["fc", "react", "fama"]
AGENTS: tuple[AgentKind, ...] = ("fc", "react", "fama")
SEED_SCHEME = "official: random.seed(300); randint(0, 10**6) per trial (reference)"


class RunSpec(BaseModel):
    """Everything that decides what a run computes (plus ``concurrency`` and ``command``,
    which may change on resume)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    env: str = Field(description="benchmark:domain, e.g. tau2:retail")
    domain: str
    split: str | None = None
    task_ids: list[str]
    trials: int = Field(ge=1)
    trial_seeds: list[int]
    seed_scheme: str = SEED_SCHEME
    agent: AgentKind
    mode: FamaMode | None = None
    fama_config: dict[str, Any] | None = Field(
        default=None, description="the FamaConfig the run used (JSON)"
    )
    model: str
    base_url: str | None = None
    user_model: str | None = None
    user_base_url: str | None = None
    judge_model: str | None = None
    judge_base_url: str | None = None
    no_judge: bool = False
    temperature: float = 0.0
    loop: dict[str, Any] = Field(default_factory=dict, description="episode-loop options")
    max_steps: int = Field(ge=1)
    max_errors: int = Field(ge=1)
    tool_call_mode: Literal["native", "tolerant", "constrained"] = "native"
    max_output_tokens: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_OUTPUT_LIMITS),
        description="output-token limit per role (fama.core.output_limits)",
    )
    fairness_warning: str | None = None
    concurrency: int = Field(default=4, ge=1)
    command: str = ""

    def to_config(self) -> dict[str, Any]:
        """The stored form (JSON data; the benchmark's own keys are kept as extras)."""
        return self.model_dump(mode="json")

    def differences(self, stored: Mapping[str, Any]) -> list[str]:
        """What differs from a stored configuration, ignoring keys that may change on resume.

        Fields absent from the stored configuration (added after it was written) count as
        their default.
        """
        try:
            old = RunSpec.model_validate(dict(stored)).to_config()
        except ValidationError:
            old = dict(stored)
        return config_differences(old, self.to_config(), RESUME_IGNORED_KEYS)

    def fama_configuration(self) -> FamaConfig | None:
        """The FAMA configuration the run used, if any."""
        return None if self.fama_config is None else FamaConfig.model_validate(self.fama_config)


def jsonable(value: Any) -> Any:
    """Loop option values as JSON data (sets and tuples become sorted/plain lists)."""
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def loop_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """Episode-loop options as stored in a ``RunSpec``."""
    return {key: jsonable(value) for key, value in sorted(options.items())}


def default_run_id(domain: str, split: str | None, agent: str) -> str:
    """``<domain>-<split>-<agent>-<UTC timestamp>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{domain}-{split or 'all'}-{agent}-{stamp}"


def fairness_warning(
    config: FamaConfig, source: str, split: str | None, task_ids: Sequence[str]
) -> str | None:
    """A warning when the FAMA configuration was derived from the tasks being evaluated."""
    derived = config.derived_from
    derived_ids = {str(i) for i in derived.get("task_ids") or []}
    overlap = sorted(derived_ids & set(task_ids))
    if overlap:
        shown = ", ".join(overlap[:8]) + (", ..." if len(overlap) > 8 else "")
        return (
            f"{source} was derived from {len(overlap)} of the {len(task_ids)} evaluated tasks "
            f"({shown}); results on them are not a held-out evaluation"
        )
    derived_split = derived.get("split")
    if derived_split is not None and derived_split == split:
        return (
            f"{source} was derived from split {derived_split!r}, the split being evaluated; "
            "results are not a held-out evaluation"
        )
    return None
