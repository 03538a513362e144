"""What users may pass for FAMA's settings: objects, or the strings and paths of the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fama.core.fama_config import FamaConfig

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


def resolve_config(config: FamaConfig | str | Path | None) -> FamaConfig | None:
    """A ``FamaConfig``, or the one stored at a path (``fama_config.json``)."""
    if config is None or isinstance(config, FamaConfig):
        return config
    return FamaConfig.load(Path(config))


def resolve_model(model: BaseChatModel | str | None) -> BaseChatModel | None:
    """A chat model, or the one a ``provider:model`` string names (built now)."""
    if model is None or not isinstance(model, str):
        return model
    from fama.llm.models import ModelSpec, resolve_chat_model

    return resolve_chat_model(ModelSpec(model=model))
