"""Shared pytest fixtures: where the read-only tau2 data lives, and loaded domains.

The data is never copied into the repo. It is found at ``<repo>/../shared/data/tau2``
(override with ``FAMA_DATA_DIR``); the legacy v0.2 task sets next to it as
``tau2_legacy_v0.2`` (override with ``FAMA_LEGACY_DATA_DIR``). Tests needing the data are
skipped with a clear message only when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fama.envs.tau2.environment import Tau2Domain, load_domain

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SPECS_DIR = SHARED / "specs"


def _data_dir(env_var: str, default: Path) -> Path:
    explicit = os.environ.get(env_var)
    path = Path(explicit) if explicit else default
    if not (path / "domains").is_dir():
        pytest.skip(f"tau2 data not found at {path} (set {env_var} to the folder with domains/)")
    return path


@pytest.fixture(scope="session")
def tau2_data_dir() -> Path:
    """The current tau2 data folder (``domains/``, ``user_simulator/``)."""
    return _data_dir("FAMA_DATA_DIR", SHARED / "data" / "tau2")


@pytest.fixture(scope="session")
def tau2_legacy_dir(tau2_data_dir: Path) -> Path:
    """The legacy v0.2 task sets (``domains/{retail,airline}/tasks.json``)."""
    return _data_dir("FAMA_LEGACY_DATA_DIR", tau2_data_dir.parent / "tau2_legacy_v0.2")


@pytest.fixture(scope="session")
def tau2_prompts_dir() -> Path:
    """Rendered official prompts (``shared/specs/tau2_prompts``)."""
    path = SPECS_DIR / "tau2_prompts"
    if not path.is_dir():
        pytest.skip(f"official prompt examples not found at {path}")
    return path


@pytest.fixture(scope="session")
def retail_domain(tau2_data_dir: Path) -> Tau2Domain:
    """The retail domain, loaded once per test session."""
    return load_domain("retail", tau2_data_dir)


@pytest.fixture(scope="session")
def airline_domain(tau2_data_dir: Path) -> Tau2Domain:
    """The airline domain, loaded once per test session."""
    pytest.importorskip("fama.envs.tau2.airline", reason="airline domain not available yet")
    return load_domain("airline", tau2_data_dir)


def _benchmark_dir(env_var: str, name: str, marker: str) -> Path:
    explicit = os.environ.get(env_var)
    if explicit:
        path = Path(explicit)
    else:
        tau2 = os.environ.get("FAMA_DATA_DIR")
        path = (Path(tau2).parent if tau2 else SHARED / "data") / name
    if not (path / marker).exists():
        pytest.skip(f"{name} data not found at {path} (set {env_var})")
    return path


@pytest.fixture(scope="session")
def acebench_data_dir() -> Path:
    """The ACEBench data folder (``data_en/``, ``data_zh/``, ``initial_state/``)."""
    return _benchmark_dir("FAMA_ACEBENCH_DATA_DIR", "acebench", "data_en")


@pytest.fixture(scope="session")
def tau_trait_data_dir() -> Path:
    """The tau-trait data folder (``telecom/``, ``telehealth/``, ``retail/``, ``airline/``)."""
    return _benchmark_dir("FAMA_TAU_TRAIT_DATA_DIR", "tau-trait", "telehealth")
