"""The run viewer's page: one HTML file (inline CSS and script, no network).

The page model is embedded as JSON in ``<script type="application/json">`` with ``<``,
``>`` and ``&`` written as ``\\u003c`` escapes, so no run content can close the element or
open markup; the page script inserts every value as text. A Content-Security-Policy allows
only the page's own inline style and script (by hash), scripts of its own origin (the
episode data files beside it, ``fama.view.site``) and no other network access.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
import re
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(r"@@(title|csp|css|js|data)@@")
_JSON_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def _asset(name: str) -> str:
    return files("fama.view").joinpath("assets", name).read_text(encoding="utf-8")


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``None`` (JSON has no NaN/Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def embed_json(value: Any) -> str:
    """``value`` as JSON safe inside a ``<script>`` element (no ``<``, ``>``, ``&``); a NaN
    or infinite float is written as ``null``."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a non-finite float somewhere: the slow path, only then
        text = json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))
    for char, escape in _JSON_ESCAPES:
        text = text.replace(char, escape)
    return text


def _sha256_source(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def render_html(view: Mapping[str, Any]) -> str:
    """The complete page for a view model (see ``fama.view.model``)."""
    css, js = _asset("view.css"), _asset("view.js")
    csp = (
        "default-src 'none'; "
        f"style-src {_sha256_source(css)}; script-src {_sha256_source(js)} 'self'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    parts = {
        "title": html.escape(f"FAMA run {view['run']['run_id']}"),
        "csp": html.escape(csp),
        "css": css,
        "js": js,
        "data": embed_json(view),
    }
    # one pass over the template: inserted text is never scanned for placeholders again
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("page.html"))


def write_html(page: str, out: Path) -> Path:
    """Write ``page`` to ``out`` (parent folders created; replaced atomically; the temporary
    file is removed when the write fails, e.g. when ``out`` is a folder)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
