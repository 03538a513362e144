"""Run-scoped settings of the analysis graph (read by nodes through ``runtime.context``)."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from fama.core.categories import SEED_CATEGORIES, Category


@dataclass(frozen=True, kw_only=True)
class AnalysisContext:
    """The judging model and how trajectories are analysed."""

    model: BaseChatModel
    model_name: str
    categories: tuple[Category, ...] = SEED_CATEGORIES
    propose_categories: bool = True
    min_proposal_episodes: int = 2
    merge_by_meaning: bool = True  # the model judges duplicate proposals (else by wording)
    attempts: int = 2
    max_tool_chars: int = 600
    max_text_chars: int = 2000
