"""Serve a folder over HTTP on the loopback interface only (for ``fama view --serve``)."""

from __future__ import annotations

from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged."""


def make_server(directory: Path, port: int = 0) -> ThreadingHTTPServer:
    """A server for ``directory`` bound to 127.0.0.1:``port`` (0: a free port).

    The caller runs ``serve_forever()`` and closes it; ``server_address[1]`` is the port.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {port}")
    if not directory.is_dir():
        raise ValueError(f"not a folder: {directory}")
    handler = partial(QuietHandler, directory=str(directory))
    return ThreadingHTTPServer((HOST, port), handler)
