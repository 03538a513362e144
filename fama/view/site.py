"""A run's page with its episodes' details beside it, loaded by the page on demand.

``NAME.html`` holds the run header, the summary and the list of episodes; ``NAME-data/``
holds the episodes' details in chunks of ``CHUNK`` episodes (``episodes-00000.js``, ...),
each a script handing its episodes to the page (``famaViewChunk([...])``). The page loads a
chunk when one of its episodes is opened, so a run of 10,000 episodes makes a small page and
``fama view`` holds one batch of messages at a time. Scripts rather than JSON files, because
a page opened from disk (``file://``) may not fetch files but may run its own folder's
scripts (CSP ``script-src 'self'``). The JSON inside is escaped as in the page.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fama.view.model import episode_details, view_model
from fama.view.render import embed_json, render_html, write_html

if TYPE_CHECKING:
    from fama.runs.store import RunStore

CHUNK = 25
CALLBACK = "famaViewChunk"
CHUNK_FILE = r"episodes-\d{5,}\.js"  # the name of every data file (``chunk_name``)


def data_dir(page: Path) -> Path:
    """The folder of the page's episode data: ``NAME-data`` next to ``NAME.html``."""
    return page.with_name(f"{page.stem}-data")


def chunk_name(number: int) -> str:
    """The file name of chunk ``number`` (episodes ``number * CHUNK`` onwards)."""
    return f"episodes-{number:05d}.js"


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: the view's data are acyclic dicts and lists
    (freed by reference counting), and its repeated full scans of the growing list of rows
    cost about a tenth of ``fama view``'s CPU on 10,000 episodes (3.1 s against 2.7 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_chunk(folder: Path, number: int, episodes: list[dict[str, Any]]) -> str:
    name = chunk_name(number)
    write_html(f"{CALLBACK}({embed_json(episodes)});\n", folder / name)
    return name


def write_view(
    store: RunStore,
    run_id: str,
    out: Path,
    *,
    failed_only: bool = False,
    limit: int | None = None,
    chunk: int = CHUNK,
) -> Path:
    """Write the page of ``run_id`` to ``out`` and its episode data beside it; return ``out``.

    ``failed_only`` lists only episodes that did not pass (errors included), ``limit`` at
    most that many; the summary always covers the whole run. Chunks left from an earlier,
    bigger page are removed. An unknown run raises the store's ``RunNotFoundError``.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    info = store.load_run(run_id)
    folder = data_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    written: set[str] = set()
    buffer: list[dict[str, Any]] = []
    details = episode_details(
        store, run_id, rows, store.episode_labels(run_id), failed_only=failed_only, limit=limit
    )
    with _no_cyclic_gc():
        for episode in details:
            if buffer and episode["index"] // chunk != buffer[0]["index"] // chunk:
                written.add(_write_chunk(folder, buffer[0]["index"] // chunk, buffer))
                buffer = []
            buffer.append(episode)
    if buffer:
        written.add(_write_chunk(folder, buffer[0]["index"] // chunk, buffer))
    for stale in folder.glob("episodes-*.js"):
        if stale.name not in written and re.fullmatch(CHUNK_FILE, stale.name):
            stale.unlink()
    view = view_model(info, rows, failed_only=failed_only, limit=limit)
    view["data"] = {"dir": quote(folder.name), "chunk": chunk}
    return write_html(render_html(view), out)
