"""Child processes that never outlive FAMA: own process group, parent-death signal, group kill.

``spawn_child`` starts a command in a new session (so a terminal Ctrl-C reaches only FAMA,
which then stops it) and, on Linux, asks the kernel to SIGKILL it when the process that
started it dies, even by SIGKILL (``prctl(PR_SET_PDEATHSIG)``). The signal fires when the
*thread* that started the child exits, so start long-lived children from the main thread.
``stop_child`` terminates the whole process group (anything the child started too), then
kills it if it does not stop. Children still running at interpreter exit are stopped by an
``atexit`` hook.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 10.0
_live: dict[int, subprocess.Popen[bytes]] = {}


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child before exec: SIGKILL on parent death (Linux only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(127)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def spawn_child(cmd: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session and process group, bound to this process's life."""
    parent = os.getpid()
    preexec = (lambda: _die_with_parent(parent)) if sys.platform.startswith("linux") else None
    proc: subprocess.Popen[bytes] = subprocess.Popen(
        list(cmd), start_new_session=True, preexec_fn=preexec, **popen_kwargs
    )
    _live[proc.pid] = proc
    return proc


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the child leads its group (new session)


def stop_child(proc: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the child's process group, SIGKILL it after ``timeout_s``; reap the child."""
    _live.pop(proc.pid, None)
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=timeout_s)
    _signal_group(proc, signal.SIGKILL)  # anything the child left behind in its group


@atexit.register
def _stop_all() -> None:
    for proc in list(_live.values()):
        stop_child(proc, timeout_s=2.0)
