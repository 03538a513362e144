"""``fama serve``: run an embedded local model behind an OpenAI-compatible API until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType
from typing import Any

POLL_S = 1.0


def register(subparsers: Any) -> None:
    """Add ``fama serve``."""
    from fama.serving.models import DEFAULT_MODEL, MODELS

    parser = subparsers.add_parser(
        "serve",
        help="serve an embedded local model (llama-server) on 127.0.0.1",
        description=(
            "Install the model and build llama-server on first use (cached), start it on "
            "127.0.0.1, print the base URL, and stop it on Ctrl-C. Models: "
            + ", ".join(f"local:{k}" for k in MODELS)
        ),
    )
    parser.add_argument("--model", default=f"local:{DEFAULT_MODEL}", help="local:<model>")
    parser.add_argument("--port", type=int, help="port (default: a free one)")
    parser.add_argument(
        "--threads", type=int, help="CPU threads (default: every core if idle, else all but one)"
    )
    parser.add_argument("--ctx-size", type=int, help="total context tokens over all slots")
    parser.add_argument("--parallel", type=int, help="slots (one prompt cache each)")
    parser.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    """Start the server and block until interrupted; exit 1 if it cannot start or dies."""
    from fama.serving import (
        BuildError,
        ModelInstallError,
        ServerStartError,
        local_server_for,
    )

    options = {
        key: value
        for key, value in (
            ("port", args.port),
            ("threads", args.threads),
            ("ctx_size", args.ctx_size),
            ("parallel", args.parallel),
        )
        if value is not None
    }
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server = local_server_for(args.model, **options)
        with server:
            print(f"serving {args.model} at {server.base_url} (pid {server.pid})", flush=True)
            print(
                f"  use: --model {args.model} (fama run starts its own server), or "
                f"--model openai:{server.alias} --base-url {server.base_url}",
                flush=True,
            )
            print("press Ctrl-C to stop", flush=True)
            while server.running():  # until Ctrl-C / SIGTERM, or the server dies
                time.sleep(POLL_S)
            print(
                f"fama serve: llama-server stopped unexpectedly.\n{server.log_tail()}",
                file=sys.stderr,
            )
            return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
    except ValueError as exc:
        print(f"fama serve: {exc}", file=sys.stderr)
        return 2
    except (BuildError, ModelInstallError, ServerStartError, OSError) as exc:
        print(f"fama serve: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
