"""What the analysis LLMs must answer (pydantic, parsed leniently) and what nodes record."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

_DIGITS = re.compile(r"\d+")


def _step_indices(value: Any) -> list[int]:
    """Accept ``[3, "5", "step 7"]`` or ``"3, 5"``: every integer mentioned, in order, unique."""
    items = value if isinstance(value, list) else [value]
    found: list[int] = []
    for item in items:
        if isinstance(item, bool):
            continue
        numbers = [item] if isinstance(item, int) else [int(d) for d in _DIGITS.findall(str(item))]
        found += [n for n in numbers if n not in found]
    return found


def _id_list(value: Any) -> list[str]:
    """Accept one id or a list of ids (``None`` = none)."""
    if value is None:
        return []
    return [str(v).strip() for v in (value if isinstance(value, list) else [value])]


StepList = Annotated[list[int], BeforeValidator(_step_indices)]
IdList = Annotated[list[str], BeforeValidator(_id_list)]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AnalystAnswer(_Answer):
    """One category analyst's verdict on one trajectory."""

    occurred: bool
    recovered: bool = False
    rationale: str = ""
    evidence_steps: StepList = []


class NewCategory(_Answer):
    """A category the proposer thinks the taxonomy lacks."""

    name: str
    definition: str = ""


class ProposerAnswer(_Answer):
    """Whether the trajectory's main failure fits an existing category, else a proposal."""

    covered_by_existing: bool
    new_category: NewCategory | None = None
    rationale: str = ""
    evidence_steps: StepList = []

    @model_validator(mode="after")
    def _proposal_when_not_covered(self) -> ProposerAnswer:
        if not self.covered_by_existing and (
            self.new_category is None or not self.new_category.name.strip()
        ):
            raise ValueError("covered_by_existing is false but new_category has no name")
        return self


class OrchestratorAnswer(_Answer):
    """The fused attribution: the primary error(s) that caused the failure."""

    primary_errors: IdList
    recovered_errors: IdList = []
    rationale: str = ""
    evidence_steps: StepList = []


class MitigationAnswer(_Answer):
    """The helper subset recommended for one failed episode."""

    helpers: IdList
    rationale: str = ""


class AnalystVerdict(TypedDict):
    """Recorded outcome of one analyst (``occurred`` is None when the analysis failed)."""

    episode: str
    category: str
    occurred: bool | None
    recovered: bool
    rationale: str
    evidence_steps: list[int]
    error: str | None


class Proposal(TypedDict):
    """Recorded outcome of the category proposer for one episode (``name`` None: covered)."""

    episode: str
    name: str | None
    definition: str
    rationale: str
    evidence_steps: list[int]
    error: str | None


class ProposedCategory(TypedDict):
    """A new category merged from proposals that recur across episodes."""

    id: str
    name: str
    definition: str
    aliases: list[str]
    episodes: list[str]


class Attribution(TypedDict):
    """The orchestrator's final attribution for one episode."""

    episode: str
    primary_errors: list[str]
    recovered_errors: list[str]
    rationale: str
    evidence_steps: list[int]
    source: Literal["orchestrator", "analyst_fallback"]
    error: str | None


class Recommendation(TypedDict):
    """Helpers recommended for one episode (always a valid minimal cover)."""

    episode: str
    helpers: list[str]
    source: Literal["llm", "minimal_cover", "none"]
    rationale: str
    uncovered: list[str]


_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
LESSON_SENTENCES = (2, 4)
LESSON_MAX_CHARS = 600


def lesson_sentences(text: str) -> int:
    """How many sentences a lesson has (ends of sentences, plus an unterminated tail)."""
    stripped = text.strip()
    ends = len(_SENTENCE_END.findall(stripped))
    return ends + (0 if not stripped or stripped[-1] in ".!?" else 1)


class CategoryMitigationAnswer(_Answer):
    """The mitigation agent's answer for a discovered category: helpers, or a lesson."""

    helpers: IdList = []
    lesson: str = ""
    triggers: IdList = []
    rationale: str = ""

    @model_validator(mode="after")
    def _helpers_or_lesson(self) -> CategoryMitigationAnswer:
        lesson = self.lesson.strip()
        if bool(self.helpers) == bool(lesson):
            raise ValueError("give either helpers or a lesson (exactly one of them)")
        if lesson:
            low, high = LESSON_SENTENCES
            count = lesson_sentences(lesson)
            if not low <= count <= high:
                raise ValueError(f"the lesson must have {low} to {high} sentences, not {count}")
            if len(lesson) > LESSON_MAX_CHARS:
                raise ValueError(f"the lesson must be at most {LESSON_MAX_CHARS} characters")
        return self


class MergeGroup(_Answer):
    """Proposals naming the same failure (1-based indices), or a duplicate of a category."""

    members: StepList
    existing: str | None = None
    name: str = ""
    definition: str = ""


class MergeAnswer(_Answer):
    """The analyst model's grouping of the proposals by meaning."""

    groups: list[MergeGroup]


class CategoryMitigationRecord(TypedDict):
    """Recorded outcome of the mitigation agent for one discovered category."""

    category: str
    helpers: list[str]
    lesson: str | None
    triggers: list[str]
    rationale: str
    evidence: list[str]
    error: str | None
