"""``build_comparison``: pairing, pass^k, paired intervals and tests, tokens, latency, helpers,
failure categories, checked by hand on small runs built directly in a run store."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fama.runs.compare import (
    CompareError,
    build_comparison,
    decision_latencies,
    token_role,
)
from fama.runs.store import (
    EpisodeLabelRow,
    EpisodeRecord,
    EpisodeStatus,
    RunNotFoundError,
    RunStore,
)

Call = tuple[str, int, int]


def episode(
    run_id: str,
    task_id: str,
    trial: int,
    reward: float | None,
    *,
    domain: str = "retail",
    status: EpisodeStatus = "done",
    calls: Sequence[Call] = (("agent", 100, 10), ("user", 50, 5)),
    timings: Sequence[tuple[str, float]] = (("user", 5.0), ("agent", 100.0), ("tools", 1.0)),
    extra: dict[str, Any] | None = None,
    duration: float = 2.0,
    components: dict[str, float] | None = None,
) -> EpisodeRecord:
    """A stored episode with the given outcome, LLM calls and node timings."""
    return EpisodeRecord(
        run_id=run_id,
        task_id=task_id,
        trial=trial,
        domain=domain,
        split="test",
        status=status,
        termination="user_stop" if status == "done" else status,
        reward=reward,
        reward_info={"components": components or {"DB": reward or 0.0}},
        llm_calls=[
            {"node": n, "model": "m", "input_tokens": i, "output_tokens": o, "latency_ms": 1.0}
            for n, i, o in calls
        ],
        node_timings=[{"node": n, "latency_ms": ms} for n, ms in timings],
        duration_s=duration,
        agent_kind="fc",
        extra=extra or {},
    )


def add_run(
    store: RunStore,
    run_id: str,
    episodes: Iterable[EpisodeRecord],
    *,
    agent: str = "fc",
    mode: str | None = None,
) -> None:
    config = {"env": "tau2:retail", "agent": agent, "mode": mode, "model": "m", "split": "test"}
    store.create_or_resume_run(run_id, config, [])
    for ep in episodes:
        store.save_episode(run_id, ep)


def outcomes(run_id: str, table: dict[str, list[float]], **kwargs: Any) -> list[EpisodeRecord]:
    """Episodes from {task: [reward of trial 0, reward of trial 1, ...]}."""
    return [
        episode(run_id, task, trial, reward, **kwargs)
        for task, rewards in table.items()
        for trial, reward in enumerate(rewards)
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "runs.sqlite") as s:
        yield s


def test_hand_computed_pass_hat_k_deltas_and_sign_test(store: RunStore) -> None:
    add_run(store, "base", outcomes("base", {"A": [1, 0], "B": [0, 0.5]}))
    add_run(store, "fama", outcomes("fama", {"A": [1, 1], "B": [1, 0]}), agent="fama", mode="all")
    c = build_comparison(store, ["base", "fama"], resamples=500)
    assert (c.baseline, c.run_ids, c.tasks, c.episodes) == ("base", ["base", "fama"], 2, 4)
    assert c.trials_per_task == (2, 2)
    base, fama = c.overall.rows
    assert base.delta is None and base.metrics.pass_hat_k == {1: 0.25, 2: 0.0}
    assert fama.metrics.pass_hat_k == {1: 0.75, 2: 0.5}
    assert base.metrics.mean_reward == 0.375  # (0.5 + 0.25) / 2
    assert fama.metrics.mean_reward == 0.75
    assert (base.metrics.successes, fama.metrics.successes) == (1, 3)
    assert fama.metrics.components == {"DB": 0.75}
    assert fama.delta is not None
    # Both tasks gain +0.5 success: every resample gives exactly +0.5.
    d = fama.delta.success_rate
    assert (d.estimate, d.low, d.high) == (0.5, 0.5, 0.5)
    assert fama.delta.pass_hat_k[1] == d
    assert fama.delta.pass_hat_k[2].estimate == 0.5  # per task +1 (A) and 0 (B)
    assert 0.0 <= fama.delta.pass_hat_k[2].low <= fama.delta.pass_hat_k[2].high <= 1.0
    reward = fama.delta.mean_reward  # per task +0.5 (A) and +0.25 (B)
    assert reward.estimate == 0.375 and 0.25 <= reward.low <= reward.high <= 0.5
    test = fama.delta.sign_test
    assert (test.improved, test.worsened, test.ties, test.p_value) == (2, 0, 2, 0.5)
    assert [m.label for m in c.runs] == ["fc", "fama/all"]
    assert c.domains == []  # one domain: no per-domain section


def test_pairing_and_the_two_error_conventions(store: RunStore) -> None:
    add_run(
        store,
        "base",
        [
            *outcomes("base", {"A": [1, 0], "B": [0, 0]}),
            episode("base", "C", 0, 1.0),  # only in base
        ],
    )
    add_run(
        store,
        "run",
        [
            *outcomes("run", {"A": [1, 1], "B": [1]}),  # B trial 1 missing
            episode("run", "B", 1, None, status="infrastructure_error"),
        ],
    )
    official = build_comparison(store, ["base", "run"], resamples=200)
    assert official.episodes == 3  # A/0, A/1, B/0; B/1 dropped for the error, C not in run
    assert official.dropped["base"].not_in_every_run == 1
    assert official.dropped["run"].not_in_every_run == 0
    assert official.dropped["base"].for_errors == official.dropped["run"].for_errors == 1
    strict = build_comparison(store, ["base", "run"], convention="strict", resamples=200)
    assert strict.episodes == 4 and strict.dropped["run"].for_errors == 0
    run_row = strict.overall.rows[1]
    assert run_row.metrics.errors_as_failures == 1
    assert run_row.metrics.pass_hat_k[1] == pytest.approx((1 + 0.5) / 2)
    assert run_row.metrics.components == {"DB": 1.0}  # errors have no scored components


def test_domains_get_their_own_rows(store: RunStore) -> None:
    add_run(
        store,
        "base",
        [episode("base", "r1", 0, 1.0), episode("base", "a1", 0, 0.0, domain="airline")],
    )
    add_run(
        store,
        "run",
        [episode("run", "r1", 0, 0.0), episode("run", "a1", 0, 1.0, domain="airline")],
    )
    c = build_comparison(store, ["base", "run"], resamples=100)
    assert [s.name for s in c.domains] == ["airline", "retail"]
    airline, retail = c.domains
    assert airline.rows[1].delta is not None and airline.rows[1].delta.success_rate.estimate == 1
    assert retail.rows[1].delta is not None and retail.rows[1].delta.success_rate.estimate == -1
    overall = c.overall.rows[1].delta
    assert overall is not None and overall.success_rate.estimate == 0


def test_token_roles_and_overhead(store: RunStore) -> None:
    assert [token_role(n) for n in ("agent", "helper:planner", "orchestrator", "user")] == [
        "agent",
        "helpers",
        "helpers",
        "user",
    ]
    assert token_role("judge") == "judge" and token_role("mitigation") == "helpers"
    add_run(store, "base", [episode("base", "A", 0, 1.0, calls=[("agent", 100, 10)])])
    fama_calls = [
        ("agent", 150, 15),
        ("agent", 50, 5),
        ("helper:planner", 20, 5),
        ("orchestrator", 7, 0),
        ("user", 50, 5),
        ("judge", 30, 3),
    ]
    add_run(store, "fama", [episode("fama", "A", 0, 1.0, calls=fama_calls)], agent="fama")
    c = build_comparison(store, ["base", "fama"], resamples=10)
    assert c.tokens["fama"].per_episode == {
        "agent": 220,
        "helpers": 32,
        "user": 55,
        "judge": 33,
        "agent+helpers": 252,
        "total": 340,
    }
    overhead = c.tokens["fama"].overhead_pct
    assert overhead["agent"] == pytest.approx(100.0)
    assert overhead["agent+helpers"] == pytest.approx(129.0909, abs=1e-3)
    assert overhead["total"] == pytest.approx(209.0909, abs=1e-3)
    assert overhead["helpers"] is None and overhead["user"] is None  # baseline had none
    assert set(c.tokens["base"].overhead_pct.values()) == {None}


def test_decision_latency_counts_parallel_helpers_once() -> None:
    timings = [
        {"node": "user", "latency_ms": 9.0},
        {"node": "orchestrator", "latency_ms": 1.0},
        {"node": "mitigation", "latency_ms": 1.0},
        {"node": "helper:planner", "latency_ms": 30.0},
        {"node": "helper:memory", "latency_ms": 20.0},
        {"node": "agent", "latency_ms": 100.0},
        {"node": "helper:decision_verifier", "latency_ms": 10.0},
        {"node": "agent", "latency_ms": 90.0},
        {"node": "tools", "latency_ms": 2.0},
        {"node": "agent", "latency_ms": 50.0},
    ]
    assert decision_latencies(timings) == [1 + 1 + 30 + 100 + 10 + 90, 50.0]
    assert decision_latencies([]) == []


def test_latency_summary(store: RunStore) -> None:
    add_run(store, "base", [episode("base", "A", t, 1.0, duration=d) for t, d in [(0, 1), (1, 3)]])
    add_run(store, "run", [episode("run", "A", t, 1.0) for t in (0, 1)])
    latency = build_comparison(store, ["base", "run"], resamples=10).latency["base"]
    assert latency.episode_s is not None and latency.episode_s.mean == 2.0
    assert latency.episode_s.p95 == pytest.approx(2.9)
    assert latency.agent_ms is not None and latency.agent_ms.mean == 100.0
    assert latency.decision_ms is not None and latency.decision_ms.count == 2


def test_helper_activations_from_every_record_kind(store: RunStore) -> None:
    decisions = [
        {
            "message_index": 1,
            "mode": "dynamic",
            "diagnosis": {},
            "active_helpers": ["planner", "memory"],
            "guidance": [],
        },
        {
            "message_index": 3,
            "mode": "dynamic",
            "diagnosis": {},
            "active_helpers": ["planner"],
            "guidance": [],
        },
    ]
    add_run(store, "base", [episode("base", t, 0, 1.0) for t in "ABC"])
    add_run(
        store,
        "fama",
        [
            episode("fama", "A", 0, 1.0, extra={"fama_decisions": decisions}),
            episode(
                "fama",
                "B",
                0,
                1.0,
                extra={"diagnosis": {"decisions": 4, "helper_runs": {"planner": 3}}},
            ),
            episode("fama", "C", 0, 1.0, extra={"active_helpers": ["memory"]}),
        ],
        agent="fama",
    )
    c = build_comparison(store, ["base", "fama"], resamples=10)
    helpers = c.helpers["fama"]
    assert helpers.sources == ["active_helpers", "diagnosis", "fama_decisions"]
    assert helpers.decisions == 6
    assert helpers.activations == {"planner": 5, "memory": 2}
    assert helpers.episodes == {"memory": 2, "planner": 2}
    assert c.helpers["base"].activations == {} and c.helpers["base"].sources == []


def test_failure_categories_before_and_after(store: RunStore) -> None:
    add_run(store, "base", outcomes("base", {"A": [0, 0], "B": [0, 1]}))
    add_run(store, "fama", outcomes("fama", {"A": [1, 0], "B": [1, 1]}))
    add_run(store, "other", outcomes("other", {"A": [0, 0], "B": [0, 0]}))
    store.save_labels(
        "base",
        [
            EpisodeLabelRow("A", 0, "policy_violation", True),
            EpisodeLabelRow("A", 0, "wrong_retrieval", False),  # not primary: not counted
            EpisodeLabelRow("A", 1, "policy_violation", True),
            EpisodeLabelRow("B", 0, "wrong_retrieval", True),
            EpisodeLabelRow("B", 1, "policy_violation", True),  # a success: ignored
        ],
    )
    store.save_labels("fama", [EpisodeLabelRow("A", 1, "wrong_retrieval", True)])
    c = build_comparison(store, ["base", "fama", "other"], resamples=10)
    base = c.failures["base"]
    assert base is not None
    assert (base.failures, base.labelled_failures) == (3, 3)
    assert base.counts == {"policy_violation": 2, "wrong_retrieval": 1}
    assert c.failures["other"] is None
    by_name = {ch.category: ch for ch in c.categories}
    assert [ch.category for ch in c.categories] == ["policy_violation", "wrong_retrieval"]
    assert by_name["policy_violation"].counts == {"base": 2, "fama": 0}
    assert by_name["policy_violation"].went_down_in == ["fama"]
    assert (
        by_name["wrong_retrieval"].went_down_in == []
        and by_name["wrong_retrieval"].went_up_in == []
    )
    assert any("`fama analyze other --split test`" in note for note in c.notes)


def test_baseline_option_errors_and_json(store: RunStore) -> None:
    add_run(store, "base", outcomes("base", {"A": [1]}))
    add_run(store, "run", outcomes("run", {"A": [0]}))
    add_run(store, "elsewhere", outcomes("elsewhere", {"Z": [1]}))
    c = build_comparison(store, ["run"], baseline="base", resamples=10)
    assert c.run_ids == ["base", "run"]
    assert c.overall.rows[1].delta is not None
    with pytest.raises(CompareError, match="at least two"):
        build_comparison(store, ["base", "base"])
    with pytest.raises(CompareError, match="no common scored episodes"):
        build_comparison(store, ["base", "elsewhere"])
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        build_comparison(store, ["base", "nope"])
    data = json.loads(json.dumps(c.to_json()))
    assert data["overall"]["rows"][0]["metrics"]["pass_hat_k"] == {"1": 1.0}
    assert data["overall"]["rows"][1]["delta"]["sign_test"]["worsened"] == 1
