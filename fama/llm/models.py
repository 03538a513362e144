"""Chat models named by ``provider:model`` strings and resolved lazily with ``init_chat_model``.

The agent, the user simulator and the judge each get their own ``ModelSpec``. OpenAI-compatible
servers (vLLM, Ollama's ``/v1``, llama.cpp's ``llama-server``) are reached with provider
``openai`` and a ``base_url``; the API key comes from the environment (``OPENAI_API_KEY`` or the
variable named by ``api_key_env``) and is ``"none"`` when a base URL is given without a key.
A ``base_url`` may list several replicas, comma-separated (``fama.llm.endpoints``).
Specs with provider ``local`` name FAMA's embedded backbone: the serving code starts the server
and fills in ``base_url`` before the spec reaches ``resolve_chat_model``.

``max_tokens`` is the output limit sent with every request (``fama run`` sets it per role).
``stop`` are stop sequences sent with every request; a ``local`` model without its own gets
its chat template's tool-result and turn markers (``TEMPLATE_STOPS``), so that it cannot
write the environment's side of the conversation.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

LOCAL_PROVIDER = "local"
_OPENAI_COMPATIBLE = frozenset({"openai", LOCAL_PROVIDER})
_DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", LOCAL_PROVIDER: "OPENAI_API_KEY"}
# model-name prefix of a local model -> its chat template's tool-result and turn markers
TEMPLATE_STOPS: dict[str, tuple[str, ...]] = {
    "qwen": ("<tool_response>", "<|im_start|>"),  # Qwen2.5 / Qwen3 (ChatML with tool tags)
}


class ModelConfigError(ValueError):
    """A model spec that cannot be turned into a chat model (bad name, missing key or URL)."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Which chat model to use and how to reach it."""

    model: str  # "provider:model", e.g. "openai:gpt-4.1-mini" or "local:qwen3-4b"
    base_url: str | None = None
    temperature: float = 0.0
    api_key_env: str | None = None  # environment variable holding the key
    timeout_s: float | None = 120.0  # per request, for OpenAI-compatible providers
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None  # None: the local chat template's markers, if known

    def __post_init__(self) -> None:
        provider, sep, name = self.model.partition(":")
        if not sep or not provider or not name:
            raise ModelConfigError(
                f"model must be written 'provider:model' (e.g. 'openai:gpt-4.1-mini'), "
                f"got {self.model!r}"
            )

    @property
    def provider(self) -> str:
        """The provider part of the model string."""
        return self.model.partition(":")[0]

    @property
    def name(self) -> str:
        """The model name sent to the provider (may itself contain ':', e.g. 'qwen3:4b')."""
        return self.model.partition(":")[2]

    @property
    def stop_sequences(self) -> tuple[str, ...]:
        """The stop sequences sent with every request (``stop``, else the template's)."""
        if self.stop is not None:
            return self.stop
        if self.provider != LOCAL_PROVIDER:
            return ()
        name = self.name.lower()
        return next((s for prefix, s in TEMPLATE_STOPS.items() if name.startswith(prefix)), ())

    def with_base_url(self, base_url: str) -> ModelSpec:
        """A copy pointing at another server (used once a local server is up)."""
        return replace(self, base_url=base_url)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form for run configs (never contains the key itself)."""
        return asdict(self)


def _api_key(spec: ModelSpec) -> str | None:
    """The key to pass, or None to let a non-OpenAI provider package read its own variable."""
    env_name = spec.api_key_env or _DEFAULT_KEY_ENV.get(spec.provider)
    key = os.environ.get(env_name) if env_name else None
    if key:
        return key
    if spec.api_key_env:
        raise ModelConfigError(
            f"environment variable {spec.api_key_env} (api_key_env of {spec.model}) is not set"
        )
    if spec.provider not in _OPENAI_COMPATIBLE:
        return None
    if spec.base_url:
        return "none"
    raise ModelConfigError(
        f"OPENAI_API_KEY is not set: {spec.model} needs an API key, or give a base_url "
        "for an OpenAI-compatible server (vLLM, Ollama, llama.cpp)"
    )


CONNECT_TIMEOUT_S = 10.0


def request_timeout(seconds: float | None) -> Any:
    """The OpenAI client's timeout: ``seconds`` per request, at most 10 s to connect.

    A timeout object (not a number) also gives each model its own HTTP client: with a number
    langchain-openai shares one cached client per (URL, timeout) across the process, whose
    connections break when a second event loop (a second run in one process) reuses them.
    """
    if seconds is None:
        return None
    try:
        from langchain_openai._compat import httpx
    except ImportError:  # no provider package (reported when the model is built) or moved
        return seconds
    return httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT_S, seconds))


def resolve_chat_model(spec: ModelSpec) -> BaseChatModel:
    """Build the chat model of a spec (imports the provider package only now)."""
    if spec.provider == LOCAL_PROVIDER and not spec.base_url:
        raise ModelConfigError(
            f"{spec.model} names FAMA's embedded local model: start it with `fama serve` "
            "(or let the runner start it) so that its base_url is filled in"
        )
    from langchain.chat_models import init_chat_model

    from fama.llm.endpoints import routed_client, split_urls

    kwargs: dict[str, Any] = {"temperature": spec.temperature}
    if spec.max_tokens is not None:
        kwargs["max_tokens"] = spec.max_tokens
    if spec.stop_sequences:
        kwargs["stop"] = list(spec.stop_sequences)
    key = _api_key(spec)
    if key is not None:
        kwargs["api_key"] = key
    urls = split_urls(spec.base_url)
    if urls:
        kwargs["base_url"] = urls[0]
    if len(urls) > 1 and spec.provider in _OPENAI_COMPATIBLE:  # replicas: fama.llm.endpoints
        kwargs["http_async_client"] = routed_client(urls, spec.timeout_s)
    if spec.provider in _OPENAI_COMPATIBLE:
        provider = "openai"
        # usage_metadata is only filled for custom base URLs when asked for; retries are
        # done by fama.llm.call.call_model, so the client must not retry on its own.
        kwargs.update(stream_usage=True, max_retries=0, timeout=request_timeout(spec.timeout_s))
        # The first streamed chunk comes only after the whole prompt is read (minutes for a
        # 9k-token prompt on 2 CPU cores): langchain-openai's own 120 s gap limit would cut
        # such calls, so the request timeout is the only bound.
        kwargs["stream_chunk_timeout"] = spec.timeout_s
    else:
        provider = spec.provider
    try:
        model: BaseChatModel = init_chat_model(spec.name, model_provider=provider, **kwargs)
    except ImportError as exc:
        raise ModelConfigError(
            f"provider {provider!r} of {spec.model} needs its LangChain package: {exc}"
        ) from exc
    return model
