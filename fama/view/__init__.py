"""``fama view``: a static, self-contained HTML page per stored run.

``build_view`` turns a run of the store into a JSON-ready view model (``fama.view.model``),
``render_html`` makes the page (``fama.view.render``), ``write_view`` does both into a file
and ``make_server`` serves that one page on 127.0.0.1 (``fama.view.serve``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fama.view.model import build_view, view_model
from fama.view.render import render_html, write_html
from fama.view.serve import make_server

if TYPE_CHECKING:
    from fama.runs.store import RunStore

__all__ = ["build_view", "make_server", "render_html", "view_model", "write_view"]


def write_view(store: RunStore, run_id: str, out: Path) -> Path:
    """Write the page of ``run_id`` to ``out`` and return the path."""
    return write_html(render_html(build_view(store, run_id)), out)
