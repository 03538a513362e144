"""FAMA mitigation: which helpers run for this decision, and the fan-out to them.

* ``static``: the configuration's helper set (from failure analysis), every decision.
* ``all``: every helper, every decision (the IRMA-style baseline).
* ``dynamic``: the exact minimal cover, within the run's helper pool (the configuration's
  helpers, or all), of the categories the orchestrator's signals put at risk (discovered
  categories are covered by the helpers analysis mapped them to, or ``lessons``),
  preferring the helpers the signals name, then helpers without model calls; the cover is
  trimmed to the guidance budget, least urgent helpers first. Which categories each chosen
  helper serves is recorded (``drivers``).

No model call in any mode. The guidance helpers then run in parallel (``Send``), each with
its share of the guidance budget (in proportion to its typical size); the decision verifier
is not fanned out: it checks write proposals after the tool-use node.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from langgraph.runtime import Runtime
from langgraph.types import Send

from fama.core.fama_state import FamaContext, FamaSettings, FamaState, Signal, timing
from fama.core.views import agent_view
from fama.helpers.registry import (
    GUIDANCE_HELPERS,
    HELPERS,
    coverage,
    minimal_cover,
    registry_order,
)
from fama.helpers.settings import discovered_coverage, pool

NODE = "mitigation"
TOOL_USE: Final = "tool_use"
CHARS_PER_TOKEN = 4


def helper_node_name(helper: str) -> str:
    """Graph node name of a guidance helper (``:`` is reserved in LangGraph node names)."""
    return f"helper_{helper}"


def select_dynamic(
    signals: Sequence[Signal],
    budget_tokens: int,
    *,
    allowed: Sequence[str] | None = None,
    extra: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, list[str]]:
    """Minimal cover (of ``allowed`` helpers, default all) of the signalled categories that
    fits the guidance budget: each chosen helper with the signalled categories it serves.

    Helpers are kept in the order of the first signal they serve; a helper that would
    exceed the budget is dropped (the most urgent one is always kept). ``extra`` maps
    discovered categories to their helpers.
    """
    categories = list(dict.fromkeys(s["category"] for s in signals))
    cover = minimal_cover(
        categories, prefer=[s["helper"] for s in signals], extra=extra, pool=allowed
    )
    serves = coverage(extra)

    def urgency(helper: str) -> int:
        return next(i for i, s in enumerate(signals) if s["category"] in serves[helper])

    kept: list[str] = []
    used = 0
    for helper in sorted(cover, key=urgency):
        cost = HELPERS[helper].typical_tokens
        if kept and used + cost > budget_tokens:
            continue
        kept.append(helper)
        used += cost
    return {h: [c for c in categories if c in serves[h]] for h in registry_order(kept)}


def choose(state: FamaState, settings: FamaSettings) -> dict[str, list[str]]:
    """This decision's helpers, each with the categories that drove its choice (dynamic
    mode; in static and all modes the pool runs with no per-decision reason)."""
    if settings.mode != "dynamic":
        return {h: [] for h in pool(settings)}
    signals: list[Signal] = (state.get("diagnosis") or {}).get("signals", [])
    return select_dynamic(
        signals,
        settings.guidance_budget,
        allowed=pool(settings),
        extra=discovered_coverage(settings),
    )


def active_helpers(state: FamaState, settings: FamaSettings) -> list[str]:
    """The helpers of this decision, by mode."""
    return list(choose(state, settings))


async def mitigation_node(state: FamaState, runtime: Runtime[FamaContext]) -> dict[str, Any]:
    """Choose this decision's helpers and count how often each was active."""
    started = time.perf_counter()
    drivers = choose(state, runtime.context.fama)
    runs: Counter[str] = Counter((state.get("diagnosis") or {}).get("helper_runs", {}))
    runs.update(list(drivers))
    return {
        "active_helpers": list(drivers),
        "diagnosis": {"helper_runs": dict(runs), "drivers": drivers},
        "node_timings": timing(NODE, started),
    }


def budget_shares(helpers: Sequence[str], budget_tokens: int) -> dict[str, int]:
    """Characters of guidance each helper may write, in proportion to its typical size."""
    total = sum(HELPERS[h].typical_tokens for h in helpers) or 1
    chars = budget_tokens * CHARS_PER_TOKEN
    return {h: chars * HELPERS[h].typical_tokens // total for h in helpers}


def fan_out(state: FamaState, runtime: Runtime[FamaContext]) -> list[Send] | Literal["tool_use"]:
    """Send the decision to every active guidance helper, or straight to the tool-use node.

    Helpers read the agent's view of the trajectory (``agent_view``).
    """
    helpers = [h for h in state.get("active_helpers", []) if h in GUIDANCE_HELPERS]
    if not helpers:
        return TOOL_USE
    settings = runtime.context.fama
    shares = budget_shares(helpers, settings.guidance_budget)
    record = state.get("diagnosis") or {}
    visible = agent_view(state["messages"])
    return [
        Send(
            helper_node_name(h),
            {
                "messages": visible,
                "diagnosis": record,
                "max_chars": shares[h],
                "params": settings.params(h),
            },
        )
        for h in helpers
    ]
