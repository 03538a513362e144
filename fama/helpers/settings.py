"""FAMA's run settings, resolved once per run, and what each helper gets from them.

The configuration made by ``fama analyze`` drives the run: its category counts are the
taxonomy dynamic mode ranks signals by, its helper set is the pool dynamic mode chooses from
(the full pool without a configuration), its lessons go to the ``lessons`` helper and its
discovered categories (``mitigations``) are signalled at their triggers. ``helpers`` (the
command line's ``--helpers``) overrides the pool, ``max_redecisions`` the verifier's bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
from fama.helpers import decision_verifier, lessons
from fama.helpers.base import HelperEnv
from fama.helpers.llm_variants import IMPLS
from fama.helpers.memory import domain_k
from fama.helpers.registry import HELPERS, registry_order
from fama.helpers.triggers import coverage_of


def helper_params(
    name: str, config: FamaConfig | None, environment: str | None = None
) -> dict[str, Any]:
    """A helper's parameters: its defaults, the domain's memory window (the run's
    environment, else the configuration's), the configuration's, and the lessons."""
    params = dict(HELPERS[name].default_params)
    domain = environment or (config.environment if config is not None else None)
    if name == "memory" and domain is not None and (k := domain_k(domain)) is not None:
        params["k"] = k
    if config is not None:
        params.update(config.params.get(name, {}))
    if name == lessons.NAME:
        params["lessons"] = [
            {"category": m.category, "lesson": m.lesson}
            for m in (config.lessons() if config else [])
        ]
    return params


def _check_params(name: str, params: Mapping[str, Any]) -> None:
    impl = params.get("impl", "rules")
    if impl not in IMPLS:
        raise ValueError(f"{name}: impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    if impl == "llm" and name not in ("constraints_extractor", "tool_suggester"):
        raise ValueError(f"{name} has no agent variant (impl: llm)")


def fama_settings(
    mode: FamaMode = "dynamic",
    config: FamaConfig | None = None,
    taxonomy: Iterable[Mapping[str, Any] | Any] | None = None,
    guidance_budget: int = DEFAULT_GUIDANCE_BUDGET,
    *,
    helpers: Sequence[str] | None = None,
    max_redecisions: int | None = None,
    environment: str | None = None,
) -> FamaSettings:
    """Validated run settings: the mode, configuration, taxonomy (the configuration's
    category counts, else the seed categories at count 0), budget, helper pool and every
    helper's resolved parameters."""
    if mode not in get_args(FamaMode):
        raise ValueError(f"FAMA mode must be one of {get_args(FamaMode)}, got {mode!r}")
    if guidance_budget < 1:
        raise ValueError(f"guidance_budget must be >= 1 token, got {guidance_budget}")
    if mode == "static" and config is None and helpers is None:
        raise ValueError("static mode needs a FamaConfig or --helpers (the helper set to run)")
    unknown = [
        h for h in [*(config.helpers if config else []), *(helpers or [])] if h not in HELPERS
    ]
    if unknown:
        raise ValueError(f"unknown helpers: {unknown} (known: {', '.join(HELPERS)})")
    if max_redecisions is not None and max_redecisions < 0:
        raise ValueError(f"max_redecisions must be >= 0, got {max_redecisions}")
    if taxonomy is None and config is not None and config.categories:
        taxonomy = [c.model_dump() for c in config.categories]
    entries = seed_taxonomy() if taxonomy is None else taxonomy_entries(taxonomy)
    params: dict[str, Mapping[str, Any]] = {}
    for name in HELPERS:
        resolved = helper_params(name, config, environment)
        if name == decision_verifier.NAME and max_redecisions is not None:
            resolved["max_redecisions"] = max_redecisions
        _check_params(name, resolved)
        params[name] = MappingProxyType(resolved)
    return FamaSettings(
        mode=mode,
        config=config,
        taxonomy=tuple(entries),
        guidance_budget=guidance_budget,
        helper_params=MappingProxyType(params),
        helpers=None if helpers is None else tuple(registry_order(helpers)),
        environment=environment,
    )


def pool(settings: FamaSettings) -> list[str]:
    """The helpers a run may activate: ``--helpers`` if given; else the configuration's in
    static and dynamic mode; else every helper (``lessons`` only when there are lessons)."""
    if settings.helpers is not None:
        return list(settings.helpers)
    config = settings.config
    if config is not None and settings.mode != "all":
        return registry_order(config.helpers)
    has_lessons = config is not None and bool(config.lessons())
    return [h for h in HELPERS if h != lessons.NAME or has_lessons]


def discovered_coverage(settings: FamaSettings) -> dict[str, list[str]]:
    """Discovered category -> the helpers that address it (``lessons`` for a lesson)."""
    return coverage_of(settings.config.mitigations if settings.config else [])


def prompt_names(settings: FamaSettings) -> list[str]:
    """Every prompt FAMA's nodes may render in this run (the guidance block included)."""
    names = ["decision_guidance"]
    helpers = pool(settings)
    if settings.mode == "dynamic" and decision_verifier.NAME not in helpers:
        helpers = [*helpers, decision_verifier.NAME]  # dynamic mode checks every write
    for helper in helpers:
        params = settings.helper_params[helper]
        for name in HELPERS[helper].prompts:
            skipped = (name == decision_verifier.PROMPT and not params.get("llm_check", True)) or (
                name.endswith("_llm") and params.get("impl", "rules") != "llm"
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
