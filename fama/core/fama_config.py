"""The FAMA configuration: which helpers run for a (backbone, environment), with parameters.

Besides the helper set, a configuration made by ``fama analyze`` carries what the run needs
to act on the analysis: the category counts of its environment (``categories``, discovered
ones included), how each discovered category is mitigated (``mitigations``: existing helpers,
or a lesson the ``lessons`` helper injects), and where it came from (environment, task set,
split and every analysed task id), so that ``fama run`` can refuse a dishonest split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from fama.core.validation import brief

FamaMode = Literal["static", "dynamic", "all"]
FORMAT_VERSION = 2


class CategoryCount(BaseModel):
    """A failure category of the analysed environment and how often it was a primary error."""

    id: str
    name: str = ""
    definition: str = ""
    source: Literal["seed", "proposed"] = "seed"
    count: int = Field(default=0, ge=0)


class CategoryMitigation(BaseModel):
    """How a discovered category is mitigated: existing helpers, or a lesson (never both).

    ``triggers`` are the orchestrator's signal names that put the category at risk in dynamic
    mode (``always``: every decision).
    """

    category: str
    helpers: list[str] = Field(default_factory=list)
    lesson: str | None = None
    triggers: list[str] = Field(default_factory=list)
    rationale: str = ""
    evidence: list[str] = Field(default_factory=list, description="episodes it was drawn from")


class FamaConfig(BaseModel):
    """Helper set and parameters chosen by failure analysis (saved beside the taxonomy)."""

    format_version: int = FORMAT_VERSION
    backbone: str = Field(description="model the configuration was derived for")
    environment: str = Field(description="e.g. tau2:retail")
    helpers: list[str] = Field(description="helper names, in the registry's order")
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-helper parameters, e.g. {'memory': {'k': 6}}"
    )
    derived_from: dict[str, Any] = Field(
        default_factory=dict,
        description="provenance: taxonomy file, run id, split, task ids analysed",
    )
    recommendation_counts: dict[str, int] = Field(default_factory=dict)
    task_set: str | None = Field(default=None, description="task set analysed (tau2)")
    split: str | None = Field(default=None, description="split analysed")
    analysed_task_ids: list[str] = Field(
        default_factory=list, description="every task of the analysed run, passed or failed"
    )
    categories: list[CategoryCount] = Field(
        default_factory=list, description="category counts in this environment"
    )
    mitigations: list[CategoryMitigation] = Field(
        default_factory=list, description="how each discovered category is mitigated"
    )

    def lessons(self) -> list[CategoryMitigation]:
        """The mitigations that are lessons."""
        return [m for m in self.mitigations if m.lesson]

    def task_ids(self) -> set[str]:
        """Every task the configuration was derived from (older files: the failed ones)."""
        older = self.derived_from.get("task_ids") or []
        return {str(t) for t in [*self.analysed_task_ids, *older]}

    def split_analysed(self) -> str | None:
        """The split the configuration was derived from (older files: in ``derived_from``)."""
        return self.split or self.derived_from.get("split")

    def save(self, path: Path) -> None:
        """Write as indented JSON (human-editable)."""
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FamaConfig:
        """Read a configuration file, with a clear error if it is not one."""
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise ValueError(f"{path} is not a valid FAMA configuration: {brief(exc)}") from exc
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a valid FAMA configuration: {exc}") from exc
