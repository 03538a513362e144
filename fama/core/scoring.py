"""The score of one episode, shared by every benchmark's evaluator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from fama.core.state import LLMCall

    JudgeUsage = list[LLMCall]
else:  # pydantic cannot validate typing.TypedDict on Python < 3.12; the shape is LLMCall
    JudgeUsage = list[dict[str, Any]]


class RewardInfo(BaseModel):
    """The score of one episode, its components and what they were computed from.

    ``reward`` is the number pass^k and the mean reward are computed from; ``components``
    are the named parts (e.g. tau2 ``DB``/``COMMUNICATE``, ACEBench ``end_to_end``/``process``),
    ``details`` explains them, ``judge_usage`` holds the usage of any LLM judge calls.
    """

    model_config = ConfigDict(frozen=True)

    reward: float
    components: dict[str, float] = Field(default_factory=dict)
    reward_basis: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    nl_judge_skipped: bool = False
    judge_usage: JudgeUsage = Field(default_factory=list)
