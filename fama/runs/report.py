"""Run reports: pass^k, rewards, terminations, errors, tokens, latencies and per-episode rows.

How failed episodes count (documented choice):

* **official** metrics exclude episodes that ended as ``infrastructure_error`` or ``error``
  (as upstream tau2 excludes infrastructure errors from average reward and pass^k);
* **strict** metrics count those episodes as failures with reward 0 (the harsher view, useful
  for small models whose server or output handling breaks).

Both are always reported, together with the number of excluded episodes.

Token roles are derived from the LLM call's node name: ``user`` -> user simulator,
``judge``/``nl_judge`` -> NL-assertion judge, ``helper:<name>`` and FAMA's ``orchestrator`` /
``mitigation`` -> FAMA helpers, anything else -> agent.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from fama.runs.metrics import is_success, pass_hat_k
from fama.runs.reply_stats import reply_counts, reply_json, reply_lines
from fama.runs.stats import percentile
from fama.runs.store import FAILED_STATUSES, EpisodeRecord, RunStore

ROLES = ("agent", "user", "judge", "helpers")


def token_role(node: str) -> str:
    """The accounting role of an LLM call made by ``node``."""
    if node == "user" or node.startswith("user:"):
        return "user"
    if node.startswith(("judge", "nl_judge")):
        return "judge"
    if node.startswith("helper:") or node in ("orchestrator", "mitigation"):
        return "helpers"
    return "agent"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _episode_tokens(episode: EpisodeRecord, roles: Iterable[str] | None = None) -> int:
    wanted = None if roles is None else set(roles)
    return sum(
        c["input_tokens"] + c["output_tokens"]
        for c in episode.llm_calls
        if wanted is None or token_role(c["node"]) in wanted
    )


def _metrics(episodes: list[EpisodeRecord], *, strict: bool) -> dict[str, Any]:
    """pass^k, average reward and success rate, official (exclusions) or strict."""
    by_task: dict[str, list[bool]] = defaultdict(list)
    rewards: list[float] = []
    for ep in episodes:
        failed = ep.status in FAILED_STATUSES or ep.reward is None
        if failed and not strict:
            continue
        reward = 0.0 if failed or ep.reward is None else ep.reward
        rewards.append(reward)
        by_task[ep.task_id].append(not failed and is_success(reward))
    scores = pass_hat_k(dict(by_task)) if by_task else {}
    successes = sum(ok for trials in by_task.values() for ok in trials)
    return {
        "episodes": len(rewards),
        "tasks": len(by_task),
        "successes": successes,
        "success_rate": successes / len(rewards) if rewards else None,
        "avg_reward": _mean(rewards),
        "pass_hat_k": {str(k): v for k, v in sorted(scores.items())},
    }


def _components(episodes: list[EpisodeRecord]) -> dict[str, Any]:
    values: dict[str, list[float]] = defaultdict(list)
    judge_skipped = 0
    for ep in episodes:
        if ep.status != "done":
            continue
        for name, value in (ep.reward_info.get("components") or {}).items():
            if value is not None:
                values[name].append(float(value))
        judge_skipped += bool(ep.reward_info.get("nl_judge_skipped"))
    return {
        "mean": {name: sum(v) / len(v) for name, v in sorted(values.items())},
        "count": {name: len(v) for name, v in sorted(values.items())},
        "nl_judge_skipped_episodes": judge_skipped,
    }


def _tokens(episodes: list[EpisodeRecord]) -> dict[str, Any]:
    roles = {r: {"calls": 0, "input_tokens": 0, "output_tokens": 0} for r in ROLES}
    nodes: dict[str, dict[str, int]] = {}
    latencies: dict[str, list[float]] = defaultdict(list)
    for ep in episodes:
        for call in ep.llm_calls:
            for bucket in (
                roles[token_role(call["node"])],
                nodes.setdefault(call["node"], {"calls": 0, "input_tokens": 0, "output_tokens": 0}),
            ):
                bucket["calls"] += 1
                bucket["input_tokens"] += call["input_tokens"]
                bucket["output_tokens"] += call["output_tokens"]
            latencies[call["node"]].append(call["latency_ms"])
    by_node = {
        node: {**bucket, "role": token_role(node), "mean_latency_ms": _mean(latencies[node])}
        for node, bucket in sorted(nodes.items())
    }
    return {"by_role": roles, "by_node": by_node}


def _latency(episodes: list[EpisodeRecord]) -> dict[str, dict[str, float]]:
    by_node: dict[str, list[float]] = defaultdict(list)
    for ep in episodes:
        for timing in ep.node_timings:
            by_node[timing["node"]].append(timing["latency_ms"])
    return {
        node: {
            "count": len(v),
            "mean_ms": sum(v) / len(v),
            "p50_ms": percentile(v, 50),
            "p95_ms": percentile(v, 95),
        }
        for node, v in sorted(by_node.items())
    }


def _last_line(text: str | None) -> str:
    """The last non-empty line of an error text (the exception line of a traceback)."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _episode_row(ep: EpisodeRecord) -> dict[str, Any]:
    return {
        "task_id": ep.task_id,
        "trial": ep.trial,
        "status": ep.status,
        "termination": ep.termination,
        "reward": ep.reward,
        "steps": ep.steps,
        "tool_errors": ep.tool_errors,
        "input_tokens": sum(c["input_tokens"] for c in ep.llm_calls),
        "output_tokens": sum(c["output_tokens"] for c in ep.llm_calls),
        "duration_s": ep.duration_s,
    }


def token_overhead(run: list[EpisodeRecord], baseline: list[EpisodeRecord]) -> dict[str, Any]:
    """Agent-side tokens (agent + helpers) per episode vs the baseline's agent tokens.

    Only scored episodes (status ``done``) of tasks present in both runs are compared, as
    means per episode so runs with different trial counts compare fairly.
    """
    run_done = [e for e in run if e.status == "done"]
    base_done = [e for e in baseline if e.status == "done"]
    common = {e.task_id for e in run_done} & {e.task_id for e in base_done}
    mine = [e for e in run_done if e.task_id in common]
    theirs = [e for e in base_done if e.task_id in common]
    agent = _mean([_episode_tokens(e, ["agent"]) for e in mine])
    helpers = _mean([_episode_tokens(e, ["helpers"]) for e in mine])
    base = _mean([_episode_tokens(e, ["agent"]) for e in theirs])
    result: dict[str, Any] = {
        "common_tasks": len(common),
        "episodes": len(mine),
        "baseline_episodes": len(theirs),
        "agent_tokens_per_episode": agent,
        "helper_tokens_per_episode": helpers,
        "baseline_agent_tokens_per_episode": base,
        "ratio_pct": None,
        "overhead_pct": None,
    }
    if agent is not None and helpers is not None and base:
        ratio = (agent + helpers) / base * 100
        result["ratio_pct"] = ratio
        result["overhead_pct"] = ratio - 100
    return result


def build_report(store: RunStore, run_id: str, *, baseline_id: str | None = None) -> dict[str, Any]:
    """Every number of the report as a JSON-ready dict."""
    info = store.load_run(run_id)
    episodes = store.episodes(run_id, messages=False)
    status_counts = Counter(e.status for e in episodes)
    terminations = Counter(e.termination or e.status for e in episodes)
    config = info.config
    expected = len(config.get("task_ids") or []) * int(config.get("trials") or 0)
    has_helpers = any(token_role(c["node"]) == "helpers" for e in episodes for c in e.llm_calls)
    report: dict[str, Any] = {
        "run_id": run_id,
        "status": info.status,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "config": config,
        "prompts": info.prompt_refs,
        "episodes": {
            "stored": len(episodes),
            "expected": expected or None,
            "missing": max(expected - len(episodes), 0) if expected else None,
            "by_status": dict(sorted(status_counts.items())),
        },
        "metrics": {
            "official": _metrics(episodes, strict=False),
            "strict": _metrics(episodes, strict=True),
        },
        "reward_components": _components(episodes),
        "nl_assertion_skipped": bool(config.get("no_judge"))
        or any(e.reward_info.get("nl_judge_skipped") for e in episodes),
        "terminations": dict(sorted(terminations.items())),
        "errors": [
            {
                "task_id": e.task_id,
                "trial": e.trial,
                "status": e.status,
                "detail": _last_line(e.error_detail),
            }
            for e in episodes
            if e.status in FAILED_STATUSES
        ],
        "tokens": _tokens(episodes),
        "replies": reply_json(
            reply_counts((c for e in episodes for c in e.llm_calls), token_role, ROLES)
        ),
        "latency_ms": _latency(episodes),
        "has_helpers": has_helpers,
        "endpoints": store.endpoint_stats(run_id),
        "episode_rows": [_episode_row(e) for e in episodes],
    }
    if baseline_id is not None:
        report["baseline"] = {
            "run_id": baseline_id,
            **token_overhead(episodes, store.episodes(baseline_id, messages=False)),
        }
    return report


# ----------------------------------------------------------------------- text rendering


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    cells = [list(header), *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return ["  " + line.rstrip() for line in lines]


def _metric_lines(title: str, metrics: dict[str, Any]) -> list[str]:
    passes = "  ".join(f"pass^{k}={v:.3f}" for k, v in metrics["pass_hat_k"].items())
    return [
        f"{title}: {metrics['episodes']} episodes, {metrics['tasks']} tasks, "
        f"avg reward {_fmt(metrics['avg_reward'])}, success rate {_fmt(metrics['success_rate'])}",
        f"    {passes or 'pass^k: no episodes'}",
    ]


def render_report(report: dict[str, Any]) -> str:
    """The report as aligned plain text."""
    cfg = report["config"]
    eps = report["episodes"]
    lines = [
        f"Run {report['run_id']} [{report['status']}]  created {report['created_at']}",
        f"  env {cfg.get('env', '-')}  split {cfg.get('split', '-')}  agent "
        f"{cfg.get('agent', '-')}{'/' + cfg['mode'] if cfg.get('mode') else ''}  "
        f"trials {cfg.get('trials', '-')}",
        f"  agent model {cfg.get('model', '-')}  user model {cfg.get('user_model', '-')}  "
        f"judge {'(none)' if cfg.get('no_judge') else cfg.get('judge_model', '-')}",
        "  prompts: "
        + ", ".join(f"{p['name']}/{p['version']} ({p['sha256'][:12]})" for p in report["prompts"]),
    ]
    if cfg.get("fairness_warning"):
        lines.append(f"  WARNING: {cfg['fairness_warning']}")
    by_status = ", ".join(f"{k} {v}" for k, v in eps["by_status"].items()) or "none"
    missing = f", {eps['missing']} not run yet" if eps["missing"] else ""
    lines += ["", f"Episodes: {eps['stored']} stored ({by_status}){missing}"]
    official, strict = report["metrics"]["official"], report["metrics"]["strict"]
    excluded = strict["episodes"] - official["episodes"]
    lines += _metric_lines("Excluding infra errors (official)", official)
    lines += _metric_lines(
        f"Counting {excluded} infra/internal errors as failures (strict)", strict
    )
    comps = report["reward_components"]
    if comps["mean"]:
        lines += ["", "Reward components (mean over scored episodes):"]
        lines += _table(
            ["component", "mean", "episodes"],
            [(n, m, comps["count"][n]) for n, m in comps["mean"].items()],
        )
    if report["nl_assertion_skipped"]:
        lines.append(
            f"  NL_ASSERTION was skipped (no judge; {comps['nl_judge_skipped_episodes']} "
            "episodes affected): rewards exclude it."
        )
    lines += [
        "",
        "Terminations: " + ", ".join(f"{k} {v}" for k, v in report["terminations"].items()),
    ]
    if report["terminations"].get("context_overflow"):
        lines.append(
            "  context_overflow: the server refused a prompt longer than the model's context "
            "(the trajectory up to it is kept; scored like an early end)"
        )
    if report["errors"]:
        lines += ["", f"Infrastructure/internal errors ({len(report['errors'])}):"]
        lines += [
            f"  {e['task_id']} trial {e['trial']}: {e['status']}: {e['detail']}"
            for e in report["errors"]
        ]
        if cfg.get("command"):
            lines.append(f"  run them again: {cfg['command']} --retry-errors")
    tokens = report["tokens"]
    lines += ["", "Tokens by role:"]
    lines += _table(
        ["role", "calls", "input", "output"],
        [
            (r, t["calls"], t["input_tokens"], t["output_tokens"])
            for r, t in tokens["by_role"].items()
        ],
    )
    lines += ["", *reply_lines(report["replies"]["by_role"])]
    if tokens["by_node"]:
        lines += ["", "LLM calls by node:"]
        lines += _table(
            ["node", "role", "calls", "input", "output", "mean ms"],
            [
                (
                    n,
                    t["role"],
                    t["calls"],
                    t["input_tokens"],
                    t["output_tokens"],
                    t["mean_latency_ms"],
                )
                for n, t in tokens["by_node"].items()
            ],
        )
    if report["latency_ms"]:
        lines += ["", "Node latency (ms):"]
        lines += _table(
            ["node", "count", "mean", "p50", "p95"],
            [
                (n, v["count"], v["mean_ms"], v["p50_ms"], v["p95_ms"])
                for n, v in report["latency_ms"].items()
            ],
        )
    if report.get("endpoints"):
        lines += ["", "Model endpoints (replicas):"]
        lines += _table(
            ["url", "requests", "failures", "taken out", "mean ms"],
            [
                (e["url"], e["requests"], e["failures"], e["taken_out"], e["mean_latency_ms"])
                for e in report["endpoints"]
            ],
        )
    if "baseline" in report:
        b = report["baseline"]
        lines += [
            "",
            f"Token overhead vs baseline {b['run_id']} on {b['common_tasks']} common tasks "
            f"({b['episodes']} vs {b['baseline_episodes']} episodes):",
            f"  agent {_fmt(b['agent_tokens_per_episode'], 1)} + helpers "
            f"{_fmt(b['helper_tokens_per_episode'], 1)} tokens/episode vs baseline agent "
            f"{_fmt(b['baseline_agent_tokens_per_episode'], 1)}: "
            f"{_fmt(b['ratio_pct'], 1)}% of baseline (overhead {_fmt(b['overhead_pct'], 1)}%)",
        ]
    lines += ["", "Episodes:"]
    lines += _table(
        ["task", "trial", "status", "termination", "reward", "steps", "in tok", "out tok", "secs"],
        [
            (
                r["task_id"],
                r["trial"],
                r["status"],
                r["termination"],
                r["reward"],
                r["steps"],
                r["input_tokens"],
                r["output_tokens"],
                r["duration_s"],
            )
            for r in report["episode_rows"]
        ],
    )
    return "\n".join(lines) + "\n"


def report_json(report: dict[str, Any]) -> str:
    """The report as indented JSON."""
    return json.dumps(report, indent=2, ensure_ascii=False)
