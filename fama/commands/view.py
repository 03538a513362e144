"""``fama view RUN_ID``: write a run's static HTML page and its episode data, optionally
serve them on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fama.core.paths import DEFAULT_DB, safe_name

DEFAULT_DIR = Path("fama-view")


def default_out(run_id: str) -> Path:
    """``fama-view/<run id>.html`` (characters unsafe in file names replaced by ``_``)."""
    return DEFAULT_DIR / f"{safe_name(run_id)}.html"


def register(subparsers: Any) -> None:
    """Add the ``view`` sub-command."""
    parser = subparsers.add_parser(
        "view",
        help="write a static HTML page of a stored run (episodes, conversations, FAMA, labels)",
        description="Write an HTML page for a stored run: run configuration "
        "and summary, the episode list with filters (failed only, failure category, domain, "
        "task id) and per episode the conversation with every tool call and result, FAMA's "
        "decisions (diagnosis, active helpers, guidance), the reward breakdown, usage and "
        "the failure labels. Episode details are written to a folder next to the page "
        "(NAME-data/) and loaded when an episode is opened, so big runs make small pages. "
        "The page needs no server and no network; --serve also serves the page and its "
        "data files (nothing else) on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"run store (default {DEFAULT_DB})"
    )
    parser.add_argument(
        "--out",
        "-o",
        type=Path,
        metavar="FILE",
        help=f"HTML file (or existing folder) to write (default {DEFAULT_DIR}/RUN_ID.html)",
    )
    parser.add_argument(
        "--failed-only",
        action="store_true",
        help="list only episodes that did not pass (errors included); the summary covers all",
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", help="list at most N episodes (after --failed-only)"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="serve the page and its data files (only them) on 127.0.0.1 until Ctrl-C",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port for --serve (default 0: a free port)"
    )
    parser.set_defaults(func=run_view)


def run_view(args: argparse.Namespace) -> int:
    """Write the page of ``args.run_id``; serve it with ``--serve``."""
    from fama.runs.store import RunStore, StoreError
    from fama.view import write_view

    if not 0 <= args.port <= 65535:
        print(f"fama view: --port must be between 0 and 65535, got {args.port}", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 0:
        print(f"fama view: --limit must be 0 or more, got {args.limit}", file=sys.stderr)
        return 2
    out: Path = args.out or default_out(args.run_id)
    if out.is_dir():  # -o DIR: the default file name inside it
        out = out / default_out(args.run_id).name
    try:
        with RunStore(args.db, create=False) as store:
            path = write_view(
                store, args.run_id, out, failed_only=args.failed_only, limit=args.limit
            )
    except StoreError as exc:
        print(f"fama view: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fama view: cannot write {out}: {exc}", file=sys.stderr)
        return 1
    print(path)
    return serve(path, args.port) if args.serve else 0


def serve(path: Path, port: int) -> int:
    """Serve the page ``path`` on 127.0.0.1 until Ctrl-C; print its address."""
    from urllib.parse import quote

    from fama.view import make_server

    try:
        server = make_server(path, port)
    except OSError as exc:
        print(f"fama view: cannot listen on 127.0.0.1:{port}: {exc}", file=sys.stderr)
        return 2
    with server:
        url = f"http://127.0.0.1:{server.server_address[1]}/{quote(path.name)}"
        print(f"serving {url} (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
    return 0
