"""Renderings of a run comparison: fixed-width text, Markdown, self-contained HTML, JSON.

All renderers share one rendering-neutral list of tables (``comparison_tables``); the HTML
adds three inline SVG charts from ``fama.runs.plots``. Every text is escaped.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field
from html import escape

from fama.runs import plots
from fama.runs.compare import ROLES, Comparison
from fama.runs.stats import DEFAULT_CONFIDENCE, Interval, Summary

TERMINAL_WIDTH = 100
_NUMERIC = re.compile(r"^[-+\[<]?[\d.]")


@dataclass(frozen=True)
class Table:
    """A rendering-neutral table: title, header, string cells and notes under it."""

    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(interval: Interval) -> str:
    return f"{interval.estimate:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]"


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _tokens_cell(value: float) -> str:
    return f"{value:,.0f}"


def _summary_cells(summary: Summary | None, digits: int) -> list[str]:
    if summary is None:
        return ["-", "-", "-"]
    return [_f(summary.mean, digits), _f(summary.p50, digits), _f(summary.p95, digits)]


def summary_lines(c: Comparison) -> list[str]:
    """The comparison's header: what was paired, dropped, and how the numbers were made."""
    low, high = c.trials_per_task
    trials = str(low) if low == high else f"{low}-{high}"
    errors = next(iter(c.dropped.values())).for_errors
    lines = [
        f"Comparison of {len(c.runs)} runs on {c.tasks} tasks, {c.episodes} paired episodes "
        f"(same task and trial in every run; {trials} trials per task); baseline {c.baseline}.",
        "Convention: "
        + (
            f"official: {errors} paired episode(s) with an infrastructure/internal error in some "
            "run were dropped (--strict counts them as failures)."
            if c.convention == "official"
            else "strict: infrastructure/internal errors count as failures with reward 0."
        ),
    ]
    missing = [f"{r} {d.not_in_every_run}" for r, d in c.dropped.items() if d.not_in_every_run]
    if missing:
        lines.append("Episodes not stored in every run (left out): " + ", ".join(missing) + ".")
    if low < high:
        lines.append(
            f"pass^k goes up to k = {low}, the fewest paired trials of any task (as tau2 "
            "computes it)."
        )
    lines += [
        f"NOT HELD-OUT: run {m.run_id} ran with --allow-overlap: {m.split_flag}."
        for m in c.runs
        if m.split_flag
    ]
    lines.append(
        f"Intervals: {c.confidence:.0%} percentile bootstrap over tasks ({c.resamples} "
        f"resamples, seed {c.seed}); p: exact two-sided sign test (McNemar) on discordant "
        "episodes. Single runs differ by several points by noise alone: read the intervals."
    )
    return lines


def _success_tables(c: Comparison) -> list[Table]:
    ks = sorted(c.overall.rows[0].metrics.pass_hat_k)
    header = ["run", "agent", *(f"pass^{k}" for k in ks), "pass^1 95% CI", "reward", "succ/eps"]
    if c.confidence != DEFAULT_CONFIDENCE:
        header[len(ks) + 2] = f"pass^1 {c.confidence:.0%} CI"
    rows = []
    for row in c.overall.rows:
        m = row.metrics
        rows.append(
            [
                row.run_id,
                c.meta(row.run_id).label,
                *(_f(m.pass_hat_k[k]) for k in ks),
                f"[{m.success_rate.low:.3f}, {m.success_rate.high:.3f}]",
                _f(m.mean_reward),
                f"{m.successes}/{m.episodes}",
            ]
        )
    strict = [
        f"{r.run_id}: {r.metrics.errors_as_failures} error episodes counted as failures"
        for r in c.overall.rows
        if r.metrics.errors_as_failures
    ]
    tables = [Table(f"Success on {c.episodes} paired episodes", header, rows, strict)]
    deltas = [r for r in c.overall.rows if r.delta is not None]
    tables.append(
        Table(
            f"Difference vs baseline {c.baseline}",
            ["run", "d pass^1 [CI]", "better/worse", "p", "d reward [CI]"],
            [
                [
                    r.run_id,
                    _ci(r.delta.success_rate),
                    f"{r.delta.sign_test.improved}/{r.delta.sign_test.worsened}",
                    _p(r.delta.sign_test.p_value),
                    _ci(r.delta.mean_reward),
                ]
                for r in deltas
                if r.delta is not None
            ],
            [
                "better/worse: paired episodes the run solved and the baseline did not, "
                "and the reverse."
            ],
        )
    )
    if len(ks) > 1:
        base = c.overall.rows[0].metrics.pass_hat_k
        tables.append(
            Table(
                "pass^k vs baseline",
                ["run", "k", "baseline", "run pass^k", "d [CI]"],
                [
                    [
                        r.run_id,
                        str(k),
                        _f(base[k]),
                        _f(r.metrics.pass_hat_k[k]),
                        _ci(r.delta.pass_hat_k[k]),
                    ]
                    for r in deltas
                    if r.delta is not None
                    for k in ks[1:]
                ],
            )
        )
    names = sorted({n for r in c.overall.rows for n in r.metrics.components})
    if names:
        tables.append(
            Table(
                "Reward components (mean over scored paired episodes)",
                ["run", *names],
                [
                    [r.run_id, *(_f(r.metrics.components.get(n)) for n in names)]
                    for r in c.overall.rows
                ],
            )
        )
    return tables


def _domain_table(c: Comparison) -> list[Table]:
    if not c.domains:
        return []
    rows = []
    for section in c.domains:
        for r in section.rows:
            rows.append(
                [
                    section.name,
                    r.run_id,
                    str(section.tasks),
                    str(section.episodes),
                    _f(r.metrics.success_rate.estimate),
                    _f(r.metrics.mean_reward),
                    "baseline" if r.delta is None else _ci(r.delta.success_rate),
                    "" if r.delta is None else _p(r.delta.sign_test.p_value),
                ]
            )
    header = ["domain", "run", "tasks", "eps", "pass^1", "reward", "d pass^1 [CI]", "p"]
    return [Table("By domain", header, rows)]


def _cost_tables(c: Comparison) -> list[Table]:
    roles = [*ROLES, "total"]
    tables = [
        Table(
            "Tokens per episode (input + output) by role",
            ["run", *roles],
            [
                [r, *(_tokens_cell(c.tokens[r].per_episode[role]) for role in roles)]
                for r in c.run_ids
            ],
            ["helpers: FAMA orchestrator, mitigation and helper nodes."],
        )
    ]
    columns = [*ROLES, "agent+helpers", "total"]
    tables.append(
        Table(
            f"Token overhead over baseline {c.baseline} (per episode)",
            ["run", *columns],
            [[r, *(_pct(c.tokens[r].overhead_pct[col]) for col in columns)] for r in c.run_ids[1:]],
            [
                "-: no percentage: the baseline's tokens of that role are 0 (it made no such "
                "calls, or its server reported no usage: see the notes)."
            ],
        )
    )
    tables.append(
        Table(
            "Latency",
            [
                "run",
                "episode s",
                "p50",
                "p95",
                "agent ms",
                "p50",
                "p95",
                "decision ms",
                "p50",
                "p95",
            ],
            [
                [
                    r,
                    *_summary_cells(c.latency[r].episode_s, 1),
                    *_summary_cells(c.latency[r].agent_ms, 0),
                    *_summary_cells(c.latency[r].decision_ms, 0),
                ]
                for r in c.run_ids
            ],
            [
                "agent: the tool-use model node; decision: all agent-side nodes of one "
                "decision (parallel helpers counted once, by the longest)."
            ],
        )
    )
    rows = [
        [
            r,
            helper,
            str(n),
            _f(n / c.helpers[r].decisions, 2) if c.helpers[r].decisions else "-",
            str(c.helpers[r].episodes.get(helper, 0)),
        ]
        for r in c.run_ids
        for helper, n in c.helpers[r].activations.items()
    ]
    if rows:
        sources = [
            f"{r}: from {', '.join(c.helpers[r].sources)} ({c.helpers[r].decisions} decisions)"
            for r in c.run_ids
            if c.helpers[r].sources
        ]
        tables.append(
            Table(
                "FAMA helper activations",
                ["run", "helper", "decisions active", "share", "episodes"],
                rows,
                sources,
            )
        )
    return tables


def _failure_table(c: Comparison) -> list[Table]:
    labelled = [r for r in c.run_ids if c.failures[r] is not None]
    notes = list(c.notes)
    for change in c.categories:
        if change.went_down_in:
            notes.append(
                f"{change.category} went down in "
                + ", ".join(
                    f"{r} ({change.counts[r] - change.counts[c.baseline]:+d})"
                    for r in change.went_down_in
                )
            )
    if not labelled:
        return [Table("Failure categories (primary errors)", ["category"], [], notes)]

    def cell(run_id: str, count: int) -> str:
        base = c.failures[c.baseline]
        if run_id == c.baseline or base is None:
            return str(count)
        return f"{count} ({count - base.counts.get(change.category, 0):+d})"

    rows = []
    for change in c.categories:
        rows.append([change.category, *(cell(r, change.counts.get(r, 0)) for r in labelled)])
    coverage = []
    for r in labelled:
        counts = c.failures[r]
        coverage.append("-" if counts is None else f"{counts.labelled_failures}/{counts.failures}")
    rows.append(["(labelled/failed episodes)", *coverage])
    return [Table("Failure categories (primary errors)", ["category", *labelled], rows, notes)]


def comparison_tables(c: Comparison) -> list[Table]:
    """Every table of the report, in order."""
    return [*_success_tables(c), *_domain_table(c), *_cost_tables(c), *_failure_table(c)]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "~"


def _fit(widths: list[int], limit: int) -> list[int]:
    """Shrink the widest column (long run ids) one character at a time until rows fit."""
    widths = list(widths)
    for _ in range(sum(widths)):  # bounded: every pass removes one character
        if sum(widths) + 2 * (len(widths) - 1) <= limit:
            break
        index = max(range(len(widths)), key=widths.__getitem__)
        if widths[index] <= 4:
            break
        widths[index] -= 1
    return widths


def _text_table(table: Table, limit: int) -> list[str]:
    lines = [table.title]
    if table.rows:
        cells = [table.header, *table.rows]
        widths = _fit([max(len(r[i]) for r in cells) for i in range(len(table.header))], limit)
        for n, row in enumerate(cells):
            lines.append(
                "  ".join(
                    _clip(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True)
                ).rstrip()
            )
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
    for note in table.notes:
        lines += textwrap.wrap(note, limit, initial_indent="  ", subsequent_indent="    ")
    return lines


def render_text(c: Comparison, *, width: int = TERMINAL_WIDTH) -> str:
    """The comparison as fixed-width text (tables fit ``width`` columns; long ids clipped)."""
    lines = [wrapped for line in summary_lines(c) for wrapped in textwrap.wrap(line, width)]
    lines += ["", "Runs:"]
    for meta in c.runs:
        lines += textwrap.wrap(
            f"{meta.run_id}{' (baseline)' if meta.run_id == c.baseline else ''}: "
            f"{meta.label}, model {meta.model}, {meta.env}, {meta.stored_episodes} episodes "
            f"stored [{meta.status}]",
            width,
            initial_indent="  ",
            subsequent_indent="    ",
        )
    for table in comparison_tables(c):
        lines += ["", *_text_table(table, width)]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def render_markdown(c: Comparison) -> str:
    """The comparison as Markdown (pipe tables)."""
    lines = ["# FAMA run comparison", ""]
    for line in summary_lines(c):
        lines += [_md(line), ""]
    lines += ["| run | agent | model | env | stored |", "|---|---|---|---|---|"]
    for meta in c.runs:
        marker = " (baseline)" if meta.run_id == c.baseline else ""
        lines.append(
            f"| {_md(meta.run_id + marker)} | {_md(meta.label)} | {_md(meta.model)} | "
            f"{_md(meta.env)} | {meta.stored_episodes} |"
        )
    for table in comparison_tables(c):
        lines += ["", f"## {_md(table.title)}", ""]
        if table.rows:
            lines.append("| " + " | ".join(_md(h) for h in table.header) + " |")
            lines.append("|" + "---|" * len(table.header))
            lines += ["| " + " | ".join(_md(x) for x in row) + " |" for row in table.rows]
            lines.append("")
        lines += [f"- {_md(note)}" for note in table.notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def comparison_plots(c: Comparison) -> list[tuple[str, str]]:
    """The three SVG charts with captions: success, token cost vs success, categories."""
    label = {m.run_id: f"{m.run_id} ({m.label})" for m in c.runs}
    rows = c.overall.rows
    success = plots.bar_chart(
        f"Success rate (pass^1) with {c.confidence:.0%} CI",
        [
            plots.BarValue(
                label[r.run_id],
                r.metrics.success_rate.estimate,
                r.metrics.success_rate.low,
                r.metrics.success_rate.high,
            )
            for r in rows
        ],
        y_label="pass^1",
        y_max=1.0,
    )
    cost = plots.scatter(
        "Agent-side token cost vs success",
        [
            plots.Point(
                label[r.run_id],
                c.tokens[r.run_id].per_episode["agent+helpers"],
                r.metrics.success_rate.estimate,
                r.metrics.success_rate.low,
                r.metrics.success_rate.high,
            )
            for r in rows
        ],
        x_label="agent + helper tokens per episode",
        y_label="pass^1",
    )
    labelled = [r for r in c.run_ids if c.failures[r] is not None]
    categories = c.categories[:8]
    failures = plots.grouped_bars(
        "Failure categories (primary errors), before / after",
        [ch.category for ch in categories],
        [(r, [ch.counts.get(r, 0) for ch in categories]) for r in labelled],
        y_label="failed episodes",
        colors=[c.run_ids.index(r) for r in labelled],
        empty_note="no failure labels: run `fama analyze RUN` on each run",
    )
    return [
        (success, "Success by run and mode; error bars: bootstrap interval over tasks."),
        (cost, "Token cost (agent + helpers per episode) against success."),
        (failures, "Primary failure categories of failed paired episodes per run."),
    ]


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1340px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;white-space:nowrap}
th{background:#f3f3f3;text-align:left}td.num{text-align:right}
.plots{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}
figcaption,.note{color:#555;font-size:.85em}
"""


def _td(text: str) -> str:
    numeric = _NUMERIC.match(text) is not None
    return f"<td class='num'>{escape(text)}</td>" if numeric else f"<td>{escape(text)}</td>"


def _html_table(table: Table) -> list[str]:
    parts = [f"<h2>{escape(table.title)}</h2>"]
    if table.rows:
        parts.append("<table><thead><tr>")
        parts += [f"<th>{escape(h)}</th>" for h in table.header]
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            parts.append("<tr>" + "".join(_td(x) for x in row) + "</tr>")
        parts.append("</tbody></table>")
    parts += [f"<p class='note'>{escape(note)}</p>" for note in table.notes]
    return parts


def render_html(c: Comparison) -> str:
    """A self-contained HTML report: inline CSS and SVG, no scripts, no network."""
    title = f"FAMA comparison: {', '.join(c.run_ids)}"
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        "<h1>FAMA run comparison</h1>",
        *(f"<p>{escape(line)}</p>" for line in summary_lines(c)),
        "<table><thead><tr><th>run</th><th>agent</th><th>model</th><th>env</th>"
        "<th>stored episodes</th><th>status</th></tr></thead><tbody>",
    ]
    for meta in c.runs:
        marker = " (baseline)" if meta.run_id == c.baseline else ""
        cells = [meta.run_id + marker, meta.label, meta.model, meta.env]
        parts.append(
            "<tr>"
            + "".join(f"<td>{escape(x)}</td>" for x in cells)
            + f"<td class='num'>{meta.stored_episodes}</td><td>{escape(meta.status)}</td></tr>"
        )
    parts.append("</tbody></table><div class='plots'>")
    for svg, caption in comparison_plots(c):
        parts.append(f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>")
    parts.append("</div>")
    for table in comparison_tables(c):
        parts += _html_table(table)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_json(c: Comparison) -> str:
    """The comparison as indented JSON."""
    return json.dumps(c.to_json(), indent=2, ensure_ascii=False) + "\n"
