"""Where FAMA keeps its caches (pulled data, assembled models, built binaries)."""

from __future__ import annotations

import os
import re
from pathlib import Path


def cache_dir() -> Path:
    """``$FAMA_CACHE_DIR``, else ``$XDG_CACHE_HOME/fama``, else ``~/.cache/fama``."""
    explicit = os.environ.get("FAMA_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fama"


def pulled_data_dir(benchmark: str) -> Path:
    """Where ``fama data pull BENCHMARK`` puts a benchmark's data (e.g. ``.../data/tau2``)."""
    return cache_dir() / "data" / benchmark


def safe_name(text: str) -> str:
    """``text`` as one file name: characters other than ``A-Za-z0-9._-`` become ``_`` and
    leading dots are dropped, so a run id like ``../../x`` or ``/etc/x`` stays in its folder."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".") or "run"


DEFAULT_DB = Path("fama-runs.sqlite")
"""The run store used when no ``--db`` is given (in the working directory)."""
