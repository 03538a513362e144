"""Serve one page over HTTP on the loopback interface only (for ``fama view --serve``).

Exactly the one file is served, at ``/`` and ``/<its name>``, plus its episode data files
(``/<NAME-data>/episodes-NNNNN.js``, ``fama.view.site``): no directory listing and nothing
else from its folder. A request whose ``Host`` header is not the address the server
bound (``127.0.0.1:PORT``) is refused, so a web page cannot reach the server through a
DNS name that points at 127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fama.view.site import CHUNK_FILE, data_dir

HOST = "127.0.0.1"


class PageServer(ThreadingHTTPServer):
    """A loopback server of one HTML file and its episode data files."""

    def __init__(self, page: Path, port: int) -> None:
        self.page = page
        super().__init__((HOST, port), PageHandler)

    @property
    def host_header(self) -> str:
        """The ``Host`` value a request must carry."""
        return f"{HOST}:{self.server_address[1]}"


class PageHandler(BaseHTTPRequestHandler):
    """GET/HEAD of the page and its data files; 403 for a foreign Host, 404 for any other
    path."""

    server: PageServer

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged."""

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        if self.headers.get("Host") != self.server.host_header:
            self._status(403, "forbidden host")
            return
        path = urlsplit(self.path).path
        page = self.server.page
        folder, _, name = path.rpartition("/")
        if path in ("/", "/" + quote(page.name)):
            target, kind = page, "text/html; charset=utf-8"
        elif folder == "/" + quote(data_dir(page).name) and re.fullmatch(CHUNK_FILE, name):
            target, kind = data_dir(page) / name, "text/javascript; charset=utf-8"
        else:
            self._status(404, "not found")
            return
        try:
            data = target.read_bytes()
        except OSError:
            self._status(404, "not found")
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _status(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_server(page: Path, port: int = 0) -> PageServer:
    """A server of the file ``page`` bound to 127.0.0.1:``port`` (0: a free port).

    The caller runs ``serve_forever()`` and closes it; ``server_address[1]`` is the port.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {port}")
    if not page.is_file():
        raise ValueError(f"not a file: {page}")
    return PageServer(page.resolve(), port)
