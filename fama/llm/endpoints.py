"""Several replicas of one model server behind one chat model: least-loaded, with failover.

``--base-url`` (and the user / judge URLs) may name several OpenAI-compatible endpoints,
comma-separated (``http://gpu1:8000/v1,http://gpu2:8000/v1``): vLLM, SGLang or llama.cpp
replicas serving the same model. ``RoutingTransport`` is the HTTP transport of the chat
model's client: each request goes to the healthy endpoint with the fewest outstanding
requests (then the fewest requests so far). A connection failure or a 5xx answer takes
that endpoint out for a cool-down (5 s, doubling while it keeps failing, at most 60 s)
and the same request is sent to the next endpoint, so a replica that dies mid-run loses
nothing. After its cool-down an endpoint is probed back in by one real request: success
makes it healthy again, failure starts a longer cool-down. If every endpoint is cooling
down, the one whose cool-down ends first is tried. One request tries each endpoint at
most once; when all fail, the last error goes to the caller (``call_model`` retries it).

Endpoints with the same URL list share one ``EndpointPool`` per process (agent and user on
the same replicas see each other's load); ``snapshot`` and ``usage_since`` give their
statistics for the run store (``fama report`` shows them).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

COOLDOWN_S = 5.0
MAX_COOLDOWN_S = 60.0


def split_urls(base_url: str | None) -> list[str]:
    """The endpoints of a ``base_url`` option: comma-separated, blanks dropped."""
    return [u.strip().rstrip("/") for u in (base_url or "").split(",") if u.strip()]


@dataclass
class Endpoint:
    """One replica and what happened to it."""

    url: str
    outstanding: int = 0
    requests: int = 0
    failures: int = 0
    latency_ms: float = 0.0  # total over successful requests
    taken_out: int = 0  # times a failure took it out of rotation
    down_until: float = 0.0  # monotonic time its cool-down ends (0: healthy)
    strikes: int = 0  # failures in a row

    def stats(self) -> dict[str, Any]:
        """Counts, total and mean latency of answered requests, JSON-ready."""
        ok = self.requests - self.failures
        return {
            "url": self.url,
            "requests": self.requests,
            "failures": self.failures,
            "latency_ms": self.latency_ms,
            "mean_latency_ms": self.latency_ms / ok if ok else None,
            "taken_out": self.taken_out,
        }


@dataclass
class EndpointPool:
    """The endpoints of one model and the choice among them (see the module docstring)."""

    endpoints: list[Endpoint]
    cooldown_s: float = COOLDOWN_S
    max_cooldown_s: float = MAX_COOLDOWN_S
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    @classmethod
    def of(cls, urls: Sequence[str], **options: Any) -> EndpointPool:
        """A pool of ``urls`` (at least one, no duplicates)."""
        if not urls:
            raise ValueError("an endpoint pool needs at least one URL")
        if len(set(urls)) != len(urls):
            raise ValueError(f"duplicate endpoint in {', '.join(urls)}")
        return cls([Endpoint(u) for u in urls], **options)

    def choose(self, exclude: set[str]) -> Endpoint | None:
        """The endpoint for the next attempt, not in ``exclude``; None when none is left."""
        candidates = [e for e in self.endpoints if e.url not in exclude]
        if not candidates:
            return None
        now = self.clock()
        healthy = [e for e in candidates if e.down_until <= now]
        if not healthy:
            return min(candidates, key=lambda e: e.down_until)
        return min(healthy, key=lambda e: (e.outstanding, e.requests))

    def started(self, endpoint: Endpoint) -> None:
        """A request was sent to ``endpoint``."""
        endpoint.outstanding += 1
        endpoint.requests += 1

    def succeeded(self, endpoint: Endpoint, latency_ms: float) -> None:
        """``endpoint`` answered (its answer fully read or closed)."""
        endpoint.outstanding -= 1
        endpoint.latency_ms += latency_ms
        endpoint.strikes = 0
        endpoint.down_until = 0.0

    def failed(self, endpoint: Endpoint) -> None:
        """``endpoint`` failed: out of rotation for a cool-down that grows while it fails.

        Requests already in flight when it was taken out fail too; they do not lengthen
        the cool-down (a failed probe after it does)."""
        endpoint.outstanding -= 1
        endpoint.failures += 1
        now = self.clock()
        if endpoint.down_until > now:
            return
        endpoint.taken_out += 1
        endpoint.strikes += 1
        cooldown = min(self.cooldown_s * 2 ** (endpoint.strikes - 1), self.max_cooldown_s)
        endpoint.down_until = now + cooldown

    def stats(self) -> list[dict[str, Any]]:
        """Per-endpoint counts, in the order given."""
        return [e.stats() for e in self.endpoints]


_POOLS: dict[tuple[str, ...], EndpointPool] = {}


def pool_for(urls: Sequence[str]) -> EndpointPool:
    """The process's pool of these endpoints (created on first use)."""
    key = tuple(urls)
    if key not in _POOLS:
        _POOLS[key] = EndpointPool.of(key)
    return _POOLS[key]


def snapshot() -> dict[str, dict[str, Any]]:
    """The statistics of every endpoint of this process's pools, by URL."""
    return {s["url"]: s for pool in _POOLS.values() for s in pool.stats()}


def usage_since(before: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """What each endpoint did since ``before`` (a ``snapshot``): endpoints with requests."""
    counted = ("requests", "failures", "latency_ms", "taken_out")
    usage = []
    for url, now in snapshot().items():
        old = before.get(url, {})
        delta = {key: now[key] - old.get(key, 0) for key in counted}
        if delta["requests"]:
            usage.append({"url": url, **delta})
    return usage


class _Tracked(httpx2.AsyncByteStream):
    """A response body that reports to the pool once it is read or closed."""

    def __init__(self, stream: Any, done: Callable[[], None]) -> None:
        self._stream = stream
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._done is not None:
                done, self._done = self._done, None
                done()


class RoutingTransport(httpx2.AsyncBaseTransport):
    """Sends each request to an endpoint of ``pool`` (see the module docstring).

    Requests are addressed to the pool's first URL (the client's base URL); the part after
    it is appended to the chosen endpoint's URL.
    """

    def __init__(self, pool: EndpointPool, inner: httpx2.AsyncBaseTransport | None = None):
        self.pool = pool
        self._base = httpx2.URL(pool.endpoints[0].url)
        self._inner = inner or httpx2.AsyncHTTPTransport(
            limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
        )

    def _target(self, request: httpx2.Request, endpoint: Endpoint) -> httpx2.URL:
        path = request.url.raw_path.decode("ascii")
        base_path = self._base.raw_path.decode("ascii").rstrip("/")
        rest = path[len(base_path) :] if path.startswith(base_path) else path
        return httpx2.URL(endpoint.url + rest)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Try the endpoints in the pool's order of preference until one answers."""
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"]
        tried: set[str] = set()
        error: Exception | None = None
        while (endpoint := self.pool.choose(tried)) is not None:  # at most one try each
            tried.add(endpoint.url)
            routed = httpx2.Request(
                request.method,
                self._target(request, endpoint),
                headers=headers,
                content=body,
                extensions=request.extensions,
            )
            self.pool.started(endpoint)
            start = time.perf_counter()
            try:
                response = await self._inner.handle_async_request(routed)
            except httpx2.TransportError as exc:
                self.pool.failed(endpoint)
                error = exc
                continue
            if response.status_code >= 500 and len(tried) < len(self.pool.endpoints):
                await response.aclose()
                self.pool.failed(endpoint)
                continue
            if response.status_code >= 500:
                self.pool.failed(endpoint)  # the last one: its answer goes to the caller
                return response

            def done(endpoint: Endpoint = endpoint, start: float = start) -> None:
                self.pool.succeeded(endpoint, (time.perf_counter() - start) * 1000)

            return httpx2.Response(
                response.status_code,
                headers=response.headers,
                stream=_Tracked(response.stream, done),
                extensions=response.extensions,
                request=request,
            )
        raise error or httpx2.ConnectError("no endpoint to send the request to")

    async def aclose(self) -> None:
        """Close the connections."""
        await self._inner.aclose()


def routed_client(urls: Sequence[str], timeout_s: float | None) -> httpx2.AsyncClient:
    """An async HTTP client spreading requests over ``urls`` (their shared pool)."""
    return httpx2.AsyncClient(transport=RoutingTransport(pool_for(urls)), timeout=timeout_s)
