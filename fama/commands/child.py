"""A ``fama`` sub-command in a child process, for commands that chain several runs.

Each child owns its event loop and HTTP clients: langchain-openai's shared async client does
not survive a second ``asyncio.run`` in one process (closing it later printed "Event loop is
closed" tracebacks). On Ctrl-C the child is passed the interrupt and given time to store
what it finished (it records its run as interrupted) before the parent re-raises.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence

GRACE_S = 60.0


def run_child(command: Sequence[str], grace_s: float = GRACE_S) -> int:
    """Run ``command`` to its end and return its exit code; on Ctrl-C pass it on, wait up to
    ``grace_s`` (then kill the child) and re-raise."""
    child = subprocess.Popen(list(command))
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


def run_fama(argv: Sequence[str], grace_s: float = GRACE_S) -> int:
    """``fama ARGV...`` in a child process (this interpreter); its exit code."""
    return run_child([sys.executable, "-m", "fama.cli", *argv], grace_s)
