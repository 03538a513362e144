"""The failure-analysis graph: analysts and proposer (Send) -> categories merged by meaning ->
a mitigation agent per discovered category (Send) -> orchestrator -> mitigation, per failed
episode. Compile with ``build_analysis_graph().compile()`` and run with
``context=AnalysisContext(...)``; ``max_concurrency`` in the run config bounds parallel calls.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from fama.analysis.context import AnalysisContext
from fama.analysis.nodes import (
    CATEGORIES_READY,
    AnalysisState,
    analyst,
    categories_ready,
    fan_out_analyses,
    fan_out_category_mitigations,
    fan_out_orchestrators,
    merge_categories,
    mitigate_category_node,
    mitigation,
    orchestrator,
    proposer,
)


def build_analysis_graph() -> StateGraph[AnalysisState, AnalysisContext]:
    """The uncompiled analysis graph."""
    builder = StateGraph(AnalysisState, context_schema=AnalysisContext)
    builder.add_node("analyst", analyst)
    builder.add_node("proposer", proposer)
    builder.add_node("merge_categories", merge_categories)
    builder.add_node("mitigate_category", mitigate_category_node)
    builder.add_node(CATEGORIES_READY, categories_ready)
    builder.add_node("orchestrator", orchestrator, destinations=("mitigation",))
    builder.add_node("mitigation", mitigation)
    builder.add_conditional_edges(START, fan_out_analyses, ["analyst", "proposer", END])
    builder.add_edge("analyst", "merge_categories")
    builder.add_edge("proposer", "merge_categories")
    builder.add_conditional_edges(
        "merge_categories", fan_out_category_mitigations, ["mitigate_category", CATEGORIES_READY]
    )
    builder.add_edge("mitigate_category", CATEGORIES_READY)
    builder.add_conditional_edges(CATEGORIES_READY, fan_out_orchestrators, ["orchestrator"])
    builder.add_edge("mitigation", END)
    return builder
