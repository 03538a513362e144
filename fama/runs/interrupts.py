"""SIGTERM handled like Ctrl-C while a run is in progress.

``asyncio.run`` turns SIGINT into a clean cancellation of the running episodes (finished ones
stay stored, the run is marked ``interrupted``); a service manager, ``timeout`` or CI stops a
process with SIGTERM instead, which by default kills it on the spot. Inside
``sigterm_as_interrupt()`` a SIGTERM raises SIGINT, so both take the same path.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def sigterm_as_interrupt() -> Iterator[list[int]]:
    """Within the block SIGTERM acts as SIGINT; yields the list of SIGTERMs received.

    Outside the main thread (where Python cannot set handlers) nothing changes.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)
