"""FAMA's run settings and what each helper gets: its parameters and its environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from fama.core.context import EpisodeContext
from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.fama_state import TaxonomyEntry
from fama.helpers.base import HelperEnv
from fama.helpers.memory import domain_k
from fama.helpers.registry import HELPERS

DEFAULT_GUIDANCE_BUDGET = 500  # tokens (chars / 4) of guidance per decision


@dataclass(frozen=True)
class FamaDefaults:
    """What a decision runs with when its input state does not say otherwise."""

    mode: FamaMode
    config: FamaConfig | None
    taxonomy: tuple[TaxonomyEntry, ...]
    guidance_budget: int = DEFAULT_GUIDANCE_BUDGET

    def __post_init__(self) -> None:
        if self.mode not in get_args(FamaMode):
            raise ValueError(f"FAMA mode must be one of {get_args(FamaMode)}, got {self.mode!r}")
        if self.guidance_budget < 1:
            raise ValueError(f"guidance_budget must be >= 1 token, got {self.guidance_budget}")
        if self.mode == "static" and self.config is None:
            raise ValueError("static mode needs a FamaConfig (the helper set to run)")
        helpers = [] if self.config is None else self.config.helpers
        unknown = [h for h in helpers if h not in HELPERS]
        if unknown:
            raise ValueError(f"unknown helpers in the FAMA configuration: {unknown}")


def helper_params(name: str, config: FamaConfig | None) -> dict[str, Any]:
    """A helper's parameters: its defaults, the domain's memory window, the configuration's."""
    params = dict(HELPERS[name].default_params)
    if config is not None:
        k = domain_k(config.environment) if name == "memory" else None
        if k is not None:
            params["k"] = k
        params.update(config.params.get(name, {}))
    return params


def helper_env(ctx: EpisodeContext, params: Mapping[str, Any]) -> HelperEnv:
    """What a helper may use in this episode."""
    model = getattr(ctx, "helper_model", None) or ctx.agent_model
    return HelperEnv(
        policy=ctx.env.policy,
        tools=ctx.agent_tools,
        tool_kind=ctx.env.tool_kind,
        model=model,
        retries=ctx.retry,
        params=params,
        output_limits=ctx.output_limits,
    )
