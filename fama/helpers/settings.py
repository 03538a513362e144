"""FAMA's run settings, resolved once per run, and what each helper gets from them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, get_args

from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.fama_state import (
    DEFAULT_GUIDANCE_BUDGET,
    FamaContext,
    FamaSettings,
    seed_taxonomy,
    taxonomy_entries,
)
from fama.helpers.base import HelperEnv
from fama.helpers.memory import domain_k
from fama.helpers.registry import HELPERS, registry_order


def helper_params(name: str, config: FamaConfig | None) -> dict[str, Any]:
    """A helper's parameters: its defaults, the domain's memory window, the configuration's."""
    params = dict(HELPERS[name].default_params)
    if config is not None:
        k = domain_k(config.environment) if name == "memory" else None
        if k is not None:
            params["k"] = k
        params.update(config.params.get(name, {}))
    return params


def fama_settings(
    mode: FamaMode = "dynamic",
    config: FamaConfig | None = None,
    taxonomy: Iterable[Mapping[str, Any] | Any] | None = None,
    guidance_budget: int = DEFAULT_GUIDANCE_BUDGET,
) -> FamaSettings:
    """Validated run settings: the mode, configuration, taxonomy (the seed categories at
    count 0 when none is given), budget and every helper's resolved parameters."""
    if mode not in get_args(FamaMode):
        raise ValueError(f"FAMA mode must be one of {get_args(FamaMode)}, got {mode!r}")
    if guidance_budget < 1:
        raise ValueError(f"guidance_budget must be >= 1 token, got {guidance_budget}")
    if mode == "static" and config is None:
        raise ValueError("static mode needs a FamaConfig (the helper set to run)")
    unknown = [h for h in (config.helpers if config else []) if h not in HELPERS]
    if unknown:
        raise ValueError(f"unknown helpers in the FAMA configuration: {unknown}")
    entries = seed_taxonomy() if taxonomy is None else taxonomy_entries(taxonomy)
    params = {name: MappingProxyType(helper_params(name, config)) for name in HELPERS}
    return FamaSettings(
        mode=mode,
        config=config,
        taxonomy=tuple(entries),
        guidance_budget=guidance_budget,
        helper_params=MappingProxyType(params),
    )


def pool(settings: FamaSettings) -> list[str]:
    """The helpers a run may activate: the configuration's in static mode, else all."""
    if settings.mode == "static" and settings.config is not None:
        return registry_order(settings.config.helpers)
    return list(HELPERS)


def prompt_names(settings: FamaSettings) -> list[str]:
    """Every prompt FAMA's nodes may render in this run (the guidance block included)."""
    from fama.helpers import decision_verifier

    names = ["decision_guidance"]
    for helper in pool(settings):
        for name in HELPERS[helper].prompts:
            skipped = name == decision_verifier.PROMPT and not settings.helper_params[helper].get(
                "llm_check", True
            )
            if not skipped:
                names.append(name)
    return names


def helper_env(ctx: FamaContext, helper: str, params: Mapping[str, Any] | None = None) -> HelperEnv:
    """What a helper may use in this episode (its run parameters unless ``params``)."""
    return HelperEnv(
        policy=ctx.env.policy,
        tools=ctx.agent_tools,
        tool_kind=ctx.env.tool_kind,
        model=ctx.helper_model or ctx.agent_model,
        retries=ctx.retry,
        params=ctx.fama.params(helper) if params is None else params,
        prompts=ctx.prompts,
        output_limits=ctx.output_limits,
    )
