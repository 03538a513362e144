"""What ``fama demo`` prints and writes: the per-run summary, the table and the pages."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

TOP_CATEGORIES = 3


def run_summary(store: Any, run_id: str) -> dict[str, Any]:
    """Solved episodes, tokens, wall time and helpers that ran, of one stored run."""
    from fama.helpers.registry import HELPERS
    from fama.runs.metrics import is_success

    episodes = store.episodes(run_id, messages=False)
    nodes = {t["node"] for e in episodes for t in e.node_timings}
    calls = [c for e in episodes for c in e.llm_calls]
    return {
        "successes": sum(1 for e in episodes if is_success(e.reward)),
        "episodes": len(episodes),
        "input_tokens": sum(c["input_tokens"] for c in calls),
        "output_tokens": sum(c["output_tokens"] for c in calls),
        "seconds": sum(e.duration_s or 0.0 for e in episodes),
        "helpers": [h for h in HELPERS if f"helper:{h}" in nodes],
    }


def top_categories(taxonomy_path: Path, limit: int = TOP_CATEGORIES) -> list[tuple[str, int]]:
    """The most frequent primary failure categories of an analysis, ``(id, episodes)``."""
    from fama.analysis.taxonomy import Taxonomy

    if not taxonomy_path.is_file():
        return []
    current = Taxonomy.load(taxonomy_path).recount()
    ranked = sorted((c for c in current.categories if c.count), key=lambda c: -c.count)
    return [(c.id, c.count) for c in ranked[:limit]]


def _tokens(summary: dict[str, Any]) -> int:
    return int(summary["input_tokens"] + summary["output_tokens"])


def render_side_by_side(
    baseline: dict[str, Any],
    fama: dict[str, Any],
    *,
    chosen: Sequence[str] = (),
    categories: Sequence[tuple[str, int]] = (),
    failed_analysed: int | None = None,
) -> str:
    """The demo's comparison table, then the helpers analysis chose and why."""
    overhead = (
        f"{100.0 * (_tokens(fama) - _tokens(baseline)) / _tokens(baseline):+.1f}%"
        if _tokens(baseline)
        else "n/a"
    )
    lines = [
        f"{'':22}{'baseline (fc)':>16}{'FAMA (static)':>16}",
        f"{'tasks solved':22}{baseline['successes']:>10} / {baseline['episodes']:<3}"
        f"{fama['successes']:>10} / {fama['episodes']:<3}",
        f"{'tokens (in + out)':22}{_tokens(baseline):>16,}{_tokens(fama):>16,}",
        f"{'token overhead':22}{'':>16}{overhead:>16}",
        f"{'wall time (s)':22}{baseline['seconds']:>16.0f}{fama['seconds']:>16.0f}",
        f"FAMA helpers used: {', '.join(fama['helpers']) or 'none'}",
    ]
    if failed_analysed is not None:
        lines.append(
            f"helpers chosen by the analysis: {', '.join(chosen) or 'none'} "
            f"(from {failed_analysed} failed train episodes)"
        )
    if categories:
        shown = ", ".join(f"{name} ({count})" for name, count in categories)
        lines.append(f"top failure categories (episodes): {shown}")
    return "\n".join(lines)


def write_pages(store: Any, out: Path, runs: Sequence[str], compared: Sequence[str]) -> list[Path]:
    """The comparison report of ``compared`` and one viewer page per run, as HTML in ``out``."""
    from fama.runs.compare import build_comparison
    from fama.runs.compare_render import render_html
    from fama.view import write_view

    comparison = out / "compare.html"
    comparison.write_text(render_html(build_comparison(store, list(compared))), encoding="utf-8")
    views = [write_view(store, run, out / f"view-{run}.html") for run in runs]
    return [comparison, *views]
