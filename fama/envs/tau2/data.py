"""Where the tau2 data lives, and cached loading of a domain's raw files (policy, DB path).

Layout (as upstream's ``data/tau2``): ``<data>/domains/<domain>/{db.json,policy.md,tasks.json,
split_tasks.json}`` and ``<data>/user_simulator/*.md``. The legacy v0.2 task sets live in a
sibling folder ``tau2_legacy_v0.2`` with the same ``domains/<domain>/`` layout.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from fama.core.paths import pulled_data_dir

DATA_ENV = "FAMA_DATA_DIR"
LEGACY_ENV = "FAMA_LEGACY_DATA_DIR"
LEGACY_NAME = "tau2_legacy_v0.2"


class DataNotFoundError(FileNotFoundError):
    """The tau2 data (or one of its files) is not where it was looked for."""


def resolve_data_dir(explicit: Path | str | None = None) -> Path:
    """The tau2 data folder: ``explicit``, else ``$FAMA_DATA_DIR``, else the pulled copy."""
    if explicit is not None:
        return _existing_dir(Path(explicit), "--data-dir")
    from_env = os.environ.get(DATA_ENV)
    if from_env:
        return _existing_dir(Path(from_env), f"${DATA_ENV}")
    pulled = pulled_data_dir("tau2")
    if (pulled / "domains").is_dir():
        return pulled
    raise DataNotFoundError(
        "tau2 data not found. Pass --data-dir DIR (the folder holding domains/), set "
        f"{DATA_ENV}=DIR, or run `fama data pull tau2` (it would be put in {pulled})."
    )


def resolve_legacy_dir(data_dir: Path, explicit: Path | str | None = None) -> Path:
    """The legacy v0.2 task folder: explicit, ``$FAMA_LEGACY_DATA_DIR``, or next to the data."""
    if explicit is not None:
        return _existing_dir(Path(explicit), "--legacy-dir")
    from_env = os.environ.get(LEGACY_ENV)
    if from_env:
        return _existing_dir(Path(from_env), f"${LEGACY_ENV}")
    candidates = [data_dir.parent / LEGACY_NAME, data_dir / "legacy"]
    for candidate in candidates:
        if (candidate / "domains").is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise DataNotFoundError(
        f"legacy tau2 task sets ({LEGACY_NAME}) not found (looked in {looked}). "
        f"Set {LEGACY_ENV}=DIR or place them next to the tau2 data folder."
    )


def domain_dir(data_dir: Path, domain: str) -> Path:
    """``<data>/domains/<domain>``, which must exist."""
    path = data_dir / "domains" / domain
    if not path.is_dir():
        raise DataNotFoundError(f"no tau2 domain {domain!r}: folder {path} does not exist")
    return path


def domain_file(data_dir: Path, domain: str, name: str) -> Path:
    """A file of a domain's folder, which must exist."""
    path = domain_dir(data_dir, domain) / name
    if not path.is_file():
        raise DataNotFoundError(f"tau2 {domain} file missing: {path}")
    return path


def read_text(path: Path) -> str:
    """A UTF-8 text file's content, with a clear error when it is missing."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataNotFoundError(f"tau2 file missing: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc


@lru_cache(maxsize=16)
def load_policy(data_dir: Path, domain: str) -> str:
    """The domain policy text (``policy.md``), cached per process."""
    return read_text(domain_file(data_dir, domain, "policy.md"))


def _existing_dir(path: Path, source: str) -> Path:
    if not path.is_dir():
        raise DataNotFoundError(f"tau2 data folder given by {source} does not exist: {path}")
    return path
