"""``local:<model>`` model specs: everything needed to serve an embedded model locally."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fama.serving.build import ensure_llama_server
from fama.serving.cache import Progress, print_progress
from fama.serving.models import DEFAULT_MODEL, ensure_model, model_entry
from fama.serving.server import LocalServer

LOCAL_PROVIDER = "local"


def is_local_spec(spec: str) -> bool:
    """True for ``local`` and ``local:<model key>`` specs."""
    return spec == LOCAL_PROVIDER or spec.startswith(f"{LOCAL_PROVIDER}:")


def local_model_key(spec: str) -> str:
    """The registry key of a ``local[:key]`` spec (``local`` alone = the default model).

    Raises ValueError for non-local specs and unknown keys.
    """
    if not is_local_spec(spec):
        raise ValueError(f"{spec!r} is not a local model spec (expected 'local:<model>')")
    key = spec.partition(":")[2] or DEFAULT_MODEL
    return model_entry(key).key


def ensure_local_model(key: str, progress: Progress = print_progress) -> tuple[Path, Path]:
    """``(llama-server binary, GGUF model)`` for ``key``, building/downloading on first use.

    The model download runs in a thread while llama-server builds, so a fresh machine waits
    for the longer of the two, not their sum.
    """
    model_entry(key)  # fail fast on a bad key before any download or build
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fama-model") as pool:
        model_job = pool.submit(ensure_model, key, progress)
        try:
            binary = ensure_llama_server(progress)
        finally:
            model = model_job.result()  # a build error still waits for the download
    return binary, model


def local_server_for(
    spec: str, *, progress: Progress = print_progress, **server_options: Any
) -> LocalServer:
    """A not yet started LocalServer for ``local:<model>`` (use it as a context manager).

    ``server_options`` are passed to LocalServer (port, threads, ctx_size, parallel, ...).
    The server's ``base_url`` and ``model_spec`` then configure an OpenAI-compatible client.
    """
    key = local_model_key(spec)
    binary, model = ensure_local_model(key, progress)
    return LocalServer(binary, model, alias=key, **server_options)
