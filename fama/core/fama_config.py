"""The FAMA configuration: which helpers run for a (backbone, environment), with parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from fama.core.validation import brief

FamaMode = Literal["static", "dynamic", "all"]


class FamaConfig(BaseModel):
    """Helper set and parameters chosen by failure analysis (saved beside the taxonomy)."""

    format_version: int = 1
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
