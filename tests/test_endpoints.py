"""Several model replicas behind one chat model: least-loaded routing, failover, probing back.

The routing tests run three scripted OpenAI-compatible servers on 127.0.0.1; one of them
dies mid-run and comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.scripted_server import ScriptedServer
from fama.llm.endpoints import EndpointPool, pool_for, split_urls
from fama.llm.models import ModelSpec, resolve_chat_model

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.fixture
def servers() -> Iterator[list[ScriptedServer]]:
    started = [ScriptedServer(name) for name in ("a", "b", "c")]
    yield started
    for server in started:
        server.stop()


async def burst(model: Any, n: int) -> list[str]:
    replies = await asyncio.gather(*(model.ainvoke(f"hello {i}") for i in range(n)))
    return [str(r.content) for r in replies]


async def test_requests_spread_fail_over_and_come_back(servers: list[ScriptedServer]) -> None:
    a, b, c = servers
    urls = [s.url for s in servers]
    model = resolve_chat_model(ModelSpec("openai:m", base_url=",".join(urls), timeout_s=10))
    pool = pool_for(urls)
    pool.cooldown_s = 1.0  # short, so the test sees the probe

    replies = await burst(model, 30)
    assert len(replies) == 30 and all(r.startswith("from ") for r in replies)
    assert all(s.served >= 7 for s in servers), [s.served for s in servers]  # least-loaded
    assert sum(s.served for s in servers) == 30

    b.stop()  # one replica dies mid-run: nothing is lost
    before = (a.served, c.served)
    replies = await burst(model, 30)
    assert len(replies) == 30 and "from b" not in replies
    assert a.served + c.served - sum(before) == 30
    stats = {s["url"]: s for s in pool.stats()}
    # only requests sent before its first failure came back went to it; one outage
    assert 1 <= stats[b.url]["failures"] <= 10 and stats[b.url]["taken_out"] == 1
    tried = stats[b.url]["requests"]
    assert len(await burst(model, 30)) == 30
    assert {s["url"]: s for s in pool.stats()}[b.url]["requests"] == tried  # out of rotation

    revived = ScriptedServer("b", port=b.port)  # it comes back; after the cool-down a
    servers[1] = revived  # probe finds it healthy and it takes load again
    await asyncio.sleep(1.1)
    replies = await burst(model, 30)
    assert len(replies) == 30 and revived.served >= 5, revived.served
    final = {s["url"]: s for s in pool.stats()}
    assert sum(s["requests"] - s["failures"] for s in final.values()) == 120
    assert final[a.url]["mean_latency_ms"] >= 40  # the server's 50 ms delay


async def test_a_5xx_answer_goes_to_another_replica(servers: list[ScriptedServer]) -> None:
    b = servers[1]
    b.status = 503
    urls = [s.url for s in servers]
    model = resolve_chat_model(ModelSpec("openai:m", base_url=",".join(urls), timeout_s=10))
    replies = await burst(model, 12)
    assert len(replies) == 12 and "from b" not in replies
    assert {s["url"]: s["failures"] for s in pool_for(urls).stats()}[b.url] >= 1


async def test_when_every_replica_is_down_the_error_reaches_the_caller(
    servers: list[ScriptedServer],
) -> None:
    import openai

    urls = [s.url for s in servers]
    for server in servers:
        server.stop()
    model = resolve_chat_model(ModelSpec("openai:m", base_url=",".join(urls), timeout_s=5))
    with pytest.raises(openai.APIConnectionError):
        await model.ainvoke("hello")
    assert all(s["failures"] == 1 for s in pool_for(urls).stats())  # each tried once


# --- the choice, with a fake clock ---------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_least_outstanding_then_fewest_requests() -> None:
    pool = EndpointPool.of(["u1", "u2", "u3"], clock=Clock())
    first = pool.choose(set())
    assert first is not None and first.url == "u1"
    pool.started(first)
    second = pool.choose(set())
    assert second is not None and second.url == "u2"  # u1 is busy
    pool.started(second)
    pool.succeeded(second, 5.0)
    third = pool.choose(set())
    assert third is not None and third.url == "u3"  # idle and never used
    assert pool.choose({"u1", "u2", "u3"}) is None


def test_a_failing_endpoint_cools_down_longer_each_time_then_comes_back() -> None:
    clock = Clock()
    pool = EndpointPool.of(["u1", "u2"], clock=clock, cooldown_s=5, max_cooldown_s=12)
    u1 = pool.endpoints[0]
    for expected in (5, 10, 12):  # doubling, capped
        pool.started(u1)
        pool.started(u1)
        pool.failed(u1)
        pool.failed(u1)  # in flight when it was taken out: the same outage
        assert u1.down_until == clock.now + expected
        chosen = pool.choose(set())
        assert chosen is not None and chosen.url == "u2"
        clock.now = u1.down_until  # cool-down over: u1 is probed again
    assert u1.taken_out == 3 and u1.failures == 6 and u1.outstanding == 0
    pool.started(u1)
    pool.succeeded(u1, 1.0)
    assert u1.down_until == 0 and u1.strikes == 0
    # every endpoint cooling down: the one that comes back first is tried
    for endpoint, extra in zip(pool.endpoints, (7, 3), strict=True):
        pool.started(endpoint)
        pool.failed(endpoint)
        endpoint.down_until = clock.now + extra
    chosen = pool.choose(set())
    assert chosen is not None and chosen.url == "u2"


def test_urls_are_split_and_checked() -> None:
    assert split_urls(" http://a/v1/ , http://b/v1,, ") == ["http://a/v1", "http://b/v1"]
    assert split_urls(None) == []
    with pytest.raises(ValueError, match="duplicate endpoint"):
        EndpointPool.of(["u", "u"])
    with pytest.raises(ValueError, match="at least one"):
        EndpointPool.of([])
