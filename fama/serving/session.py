"""Serve the ``local:`` models a run names: one embedded server per distinct model."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from fama.llm.models import LOCAL_PROVIDER, ModelSpec


class LocalServingError(RuntimeError):
    """A ``local:`` model could not be installed, built or started."""


class UnknownLocalModelError(ValueError):
    """A ``local:`` model name that FAMA does not know (a usage error)."""


@contextmanager
def served_models(
    specs: dict[str, ModelSpec | None], stack: ExitStack
) -> Iterator[dict[str, ModelSpec | None]]:
    """Start one local server per distinct ``local:`` model (stopped when ``stack`` closes)
    and fill in its base URL."""
    local = sorted(
        {s.model for s in specs.values() if s and s.provider == LOCAL_PROVIDER and not s.base_url}
    )
    urls: dict[str, str] = {}
    if local:
        from fama.serving import BuildError, ModelInstallError, ServerStartError, local_server_for

        for model in local:
            print(f"starting local model server for {model} ...", file=sys.stderr)
            try:
                server = stack.enter_context(local_server_for(model))
            except ValueError as exc:
                raise UnknownLocalModelError(str(exc)) from exc
            except (BuildError, ModelInstallError, ServerStartError, OSError) as exc:
                raise LocalServingError(f"cannot serve {model}: {exc}") from exc
            urls[model] = server.base_url
            print(f"  {model} served at {server.base_url} (pid {server.pid})", file=sys.stderr)
    yield {
        role: spec
        if spec is None or spec.model not in urls
        else spec.with_base_url(urls[spec.model])
        for role, spec in specs.items()
    }
