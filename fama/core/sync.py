"""Running FAMA's async code from synchronous callers (``invoke``, sync tools, sync hooks).

``run_sync(coro)`` runs a coroutine to completion on one long-lived background event loop
(a daemon thread), so async model clients keep a single loop across calls; when it is
called on that loop's own thread (a sync call nested in code already running there), the
coroutine gets a short-lived loop in a worker thread instead, so nothing waits on itself.
The caller's context variables go with the coroutine (LangGraph's config and runtime,
LangChain's callbacks), so streaming and tracing see the calls it makes.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(target=_loop.run_forever, name="fama-sync-loop", daemon=True)
            _thread.start()
        return _loop


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """The coroutine's result, computed from synchronous code (exceptions propagate)."""
    loop = _background_loop()
    context = contextvars.copy_context()
    if threading.current_thread() is _thread:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fama-nested") as pool:
            return pool.submit(context.run, asyncio.run, coroutine).result()
    done: Future[T] = Future()

    def finish(task: asyncio.Task[T]) -> None:
        if task.cancelled():
            done.cancel()
        elif task.exception() is not None:
            done.set_exception(task.exception())  # type: ignore[arg-type]
        else:
            done.set_result(task.result())

    def start() -> None:
        loop.create_task(coroutine, context=context).add_done_callback(finish)

    loop.call_soon_threadsafe(start)
    return done.result()
