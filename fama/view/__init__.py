"""``fama view``: a static HTML page per stored run, its episodes loaded on demand.

``build_view`` reads a stored run's page model (header, summary, list) without messages,
``episode_details`` each listed episode's detail (``fama.view.model``),
``render_html`` makes the page (``fama.view.render``), ``write_view`` writes the page and
its episode data files (``fama.view.site``) and ``make_server`` serves that page and its
data files on 127.0.0.1 (``fama.view.serve``).
"""

from __future__ import annotations

from fama.view.model import build_view, episode_details, view_model
from fama.view.render import render_html
from fama.view.serve import make_server
from fama.view.site import data_dir, write_view

__all__ = [
    "build_view",
    "data_dir",
    "episode_details",
    "make_server",
    "render_html",
    "view_model",
    "write_view",
]
