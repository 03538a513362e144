"""Fetch distribution files from the package index with pip, without installing them."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

PIP_TIMEOUT_S = 3600.0
ERROR_TAIL_LINES = 15


class FetchError(RuntimeError):
    """pip could not download a distribution (no network, unknown name or version)."""


def pip_command(requirements: Sequence[str], dest: Path, *, source: bool = False) -> list[str]:
    """The ``pip download --no-deps`` command line for ``requirements`` into ``dest``.

    ``source=True`` asks for the named projects' source distributions (their build
    requirements may still come as wheels: pip reads an sdist's metadata by preparing it);
    otherwise only wheels are accepted, so nothing is ever built.
    """
    names = [re.split(r"[=<>!~ \[]", r, maxsplit=1)[0] for r in requirements]
    kind = ["--no-binary", ",".join(names)] if source else ["--only-binary", ":all:"]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        *kind,
        "-d",
        str(dest),
        *requirements,
    ]


def pip_download(
    requirements: Sequence[str],
    dest: Path,
    *,
    source: bool = False,
    timeout_s: float = PIP_TIMEOUT_S,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Download pinned ``requirements`` into ``dest`` with the running interpreter's pip.

    Each file pip saves is reported to ``progress``. Returns the files in
    ``dest`` afterwards; failures raise FetchError with the end of pip's output.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cmd = pip_command(requirements, dest, source=source)
    tail: collections.deque[str] = collections.deque(maxlen=ERROR_TAIL_LINES)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            if progress is not None and line.startswith("Saved "):
                progress(f"  saved {Path(line[len('Saved ') :].strip()).name}")
        code = proc.wait()
    finally:
        timer.cancel()
    if code == -9:
        raise FetchError(f"pip download timed out after {timeout_s:.0f} s: {' '.join(cmd)}")
    if code != 0:
        raise FetchError(
            f"pip download failed (exit {code}) for {', '.join(requirements)}.\n"
            "Is the package index reachable (pip config / PIP_INDEX_URL)?\n" + "\n".join(tail)
        )
    return sorted(dest.iterdir())
