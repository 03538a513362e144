"""Cache locations, inter-process locks and progress output for the embedded backbone."""

from __future__ import annotations

import fcntl
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fama.core.paths import cache_dir

Progress = Callable[[str], None]


def print_progress(text: str) -> None:
    """Default progress sink: one line on stderr (stdout stays clean for results)."""
    print(text, file=sys.stderr, flush=True)


def serving_dir(*parts: str) -> Path:
    """A directory under the FAMA cache (created): e.g. ``serving_dir("models")``."""
    path = cache_dir().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock named ``name`` so concurrent FAMA processes never build or
    assemble the same artefact twice; the second one waits, then finds it cached."""
    lock_path = serving_dir("locks") / f"{name}.lock"
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
