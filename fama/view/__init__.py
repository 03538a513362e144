"""``fama view``: a static HTML page per stored run, its episodes loaded on demand.

``build_view`` turns a run of the store into the page's JSON-ready model and
``episode_views`` yields each listed episode's detail (``fama.view.model``), ``render_html``
makes the page (``fama.view.render``), ``write_view`` writes the page and its episode data
files (``fama.view.site``) and ``make_server`` serves a folder on 127.0.0.1
(``fama.view.serve``).
"""

from __future__ import annotations

from fama.view.model import build_view, episode_views, view_model
from fama.view.render import render_html
from fama.view.serve import make_server
from fama.view.site import data_dir, write_view

__all__ = [
    "build_view",
    "data_dir",
    "episode_views",
    "make_server",
    "render_html",
    "view_model",
    "write_view",
]
