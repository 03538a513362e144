"""Embedded local backbone: model packages, a cached llama-server build, and the server."""

from fama.serving.build import BuildError, BuildToolsMissingError, ensure_llama_server
from fama.serving.local import (
    LOCAL_PROVIDER,
    ensure_local_model,
    is_local_spec,
    local_model_key,
    local_server_for,
)
from fama.serving.models import DEFAULT_MODEL, MODELS, ModelInstallError, ensure_model
from fama.serving.server import LocalServer, ServerStartError

__all__ = [
    "DEFAULT_MODEL",
    "LOCAL_PROVIDER",
    "MODELS",
    "BuildError",
    "BuildToolsMissingError",
    "LocalServer",
    "ModelInstallError",
    "ServerStartError",
    "ensure_llama_server",
    "ensure_local_model",
    "ensure_model",
    "is_local_spec",
    "local_model_key",
    "local_server_for",
]
