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
# A CPU-served 1.5B model takes minutes for its first tau2 call; a hung server is caught by
# the endpoint probe before the run and by the circuit breaker during it.
DEFAULT_REQUEST_TIMEOUT_S = 600.0
DEFAULT_RETRIES = 2
DEFAULT_CIRCUIT_BREAKER = 10


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
    helper_model: str | None = Field(default=None, description="FAMA helpers' model")
    helper_base_url: str | None = None
    guidance_budget: int | None = Field(default=None, ge=1, description="tokens per decision")
    helpers: list[str] | None = Field(default=None, description="helper pool (--helpers)")
    tool_use: Literal["fc", "react"] | None = Field(default=None, description="FAMA's backbone")
    max_redecisions: int | None = Field(default=None, ge=0)
    allow_overlap: bool = False
    overlap_task_ids: list[str] = Field(
        default_factory=list, description="evaluated tasks the FAMA configuration was made from"
    )
    concurrency: int = Field(default=4, ge=1)
    command: str = ""
    request_timeout_s: float = Field(default=DEFAULT_REQUEST_TIMEOUT_S, gt=0)
    retries: int = Field(default=DEFAULT_RETRIES, ge=0, description="after the first attempt")
    circuit_breaker: int = Field(
        default=DEFAULT_CIRCUIT_BREAKER,
        ge=0,
        description="stop after this many consecutive infrastructure errors (0: never)",
    )

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


class SplitError(ValueError):
    """A FAMA configuration that must not be evaluated on these tasks."""


def check_split(
    config: FamaConfig,
    source: str,
    *,
    env: str,
    split: str | None,
    task_ids: Sequence[str],
    allow_overlap: bool = False,
    force_config: bool = False,
) -> tuple[str | None, list[str]]:
    """The one place a run's honest split is decided.

    Refuses (``SplitError``) a configuration made for another environment (unless
    ``force_config``), and one whose
    analysed tasks overlap the evaluated ones unless ``allow_overlap`` (then the overlap is
    returned, to be recorded and shown as a flag). A configuration without analysed task
    ids (older files record only the failed ones) made from the split being evaluated
    counts as overlapping. Returns (the warning to record, the overlapping task ids).
    """
    if config.environment != env and not force_config:
        raise SplitError(
            f"{source} was made for {config.environment}, not {env}: analyse a run of {env} "
            "(or add --force-config to run it anyway)"
        )
    overlap = sorted(config.task_ids() & set(task_ids))
    complete = bool(config.analysed_task_ids)
    same_split = not complete and split is not None and config.split_analysed() == split
    if not overlap and not same_split:
        return None, []
    if overlap:
        shown = ", ".join(overlap[:8]) + (", ..." if len(overlap) > 8 else "")
        what = f"{len(overlap)} of the {len(task_ids)} evaluated tasks ({shown})"
    else:
        what = f"split {split!r}, the split being evaluated"
    if not allow_overlap:
        raise SplitError(
            f"{source} was derived from {what}: evaluate it on other tasks, or pass "
            "--allow-overlap to run it anyway (the run is flagged)"
        )
    return f"{source} was derived from {what}; results on them are not a held-out evaluation", (
        overlap or list(task_ids)
    )
