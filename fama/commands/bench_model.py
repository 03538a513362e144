"""``fama bench-model``: first-call latency, prompt and generation speed of a chat model."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import ExitStack
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``fama bench-model``."""
    parser = subparsers.add_parser(
        "bench-model",
        help="measure a model's latency and token rates",
        description=(
            "Measure first-call latency, prompt processing and generation speed. "
            "local:<model> starts the embedded llama-server for the measurement; "
            "provider:model (with --base-url for OpenAI-compatible servers) uses that model."
        ),
    )
    parser.add_argument("--model", required=True, help="local:<model> or provider:model")
    parser.add_argument("--base-url", help="OpenAI-compatible server URL (e.g. .../v1)")
    parser.add_argument("--prompt-tokens", type=int, default=2000, help="long prompt size")
    parser.add_argument("--gen-tokens", type=int, default=128, help="tokens to generate")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    """Run the benchmark and print the numbers."""
    from fama.llm.call import is_transient
    from fama.llm.models import ModelConfigError, ModelSpec, resolve_chat_model
    from fama.serving import (
        BuildError,
        ModelInstallError,
        ServerStartError,
        is_local_spec,
        local_server_for,
    )
    from fama.serving.bench import bench_chat_model, format_result

    if args.prompt_tokens < 1 or args.gen_tokens < 2:
        print("fama bench-model: --prompt-tokens >= 1 and --gen-tokens >= 2", file=sys.stderr)
        return 2
    extra: dict[str, Any] = {}
    try:
        with ExitStack() as stack:
            base_url = args.base_url
            if is_local_spec(args.model) and not base_url:
                server = stack.enter_context(local_server_for(args.model))
                base_url = server.base_url
                extra["server_startup_s"] = server.startup_seconds
                print(f"server ready in {server.startup_seconds:.1f} s", file=sys.stderr)
            model = resolve_chat_model(ModelSpec(model=args.model, base_url=base_url))
            result = asyncio.run(
                bench_chat_model(
                    model, prompt_tokens=args.prompt_tokens, gen_tokens=args.gen_tokens
                )
            )
    except (ValueError, ModelConfigError) as exc:
        print(f"fama bench-model: {exc}", file=sys.stderr)
        return 2
    except (BuildError, ModelInstallError, ServerStartError, OSError) as exc:
        print(f"fama bench-model: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not is_transient(exc):
            raise
        print(f"fama bench-model: model unreachable: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"model": args.model, **extra, **result.to_dict()}))
    else:
        print("\n".join(format_result(args.model, result)))
        if "server_startup_s" in extra:
            print(f"server startup (health wait): {extra['server_startup_s']:.2f} s")
    return 0
