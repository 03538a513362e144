"""Where a benchmark's data folder is: an option, its own env var, or next to the tau2 data.

The official data layout puts the benchmarks side by side (``data/tau2``, ``data/acebench``,
``data/tau-trait``), so with ``$FAMA_DATA_DIR`` pointing at the tau2 folder the others are
found without further settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from fama.envs.tau2.data import DATA_ENV as TAU2_DATA_ENV
from fama.envs.tau2.data import DataNotFoundError


def resolve_benchmark_dir(
    explicit: Path | str | None, *, folder: str, env_var: str, markers: tuple[str, ...]
) -> Path:
    """The data folder: ``explicit`` (``--data-dir``), ``$env_var``, else the sibling ``folder``
    of ``$FAMA_DATA_DIR``. A folder counts when it holds one of ``markers``."""
    sources = [(explicit, "--data-dir"), (os.environ.get(env_var) or None, f"${env_var}")]
    for value, source in sources:
        if value is not None:
            path = Path(value)
            if not any((path / marker).exists() for marker in markers):
                raise DataNotFoundError(
                    f"{folder} data folder {path} (from {source}) does not exist or has none "
                    f"of {', '.join(markers)}"
                )
            return path
    tau2 = os.environ.get(TAU2_DATA_ENV)
    sibling = Path(tau2).parent / folder if tau2 else None
    if sibling is not None and any((sibling / marker).exists() for marker in markers):
        return sibling
    looked = f" (also looked in {sibling})" if sibling is not None else ""
    raise DataNotFoundError(
        f"{folder} data not found{looked}. Pass --data-dir DIR (the folder holding "
        f"{', '.join(markers)}), set {env_var}=DIR, or put it next to the tau2 data as "
        f"<parent of ${TAU2_DATA_ENV}>/{folder}."
    )
