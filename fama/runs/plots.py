"""Small self-contained SVG charts for the comparison report (no plotting library, no JS).

Each function returns one ``<svg>`` element as a string, with every text escaped, fixed
colours per series and a ``<title>`` for accessibility; values outside the axis range are
clipped to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")
WIDTH = 640
HEIGHT = 340
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 36
MARGIN_BOTTOM = 84
FONT = "font-family='sans-serif' font-size='11'"


@dataclass(frozen=True)
class BarValue:
    """One bar: a value with an optional error bar (low..high)."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Point:
    """One labelled scatter point with an optional vertical error bar."""

    label: str
    x: float
    y: float
    y_low: float | None = None
    y_high: float | None = None


def color(index: int) -> str:
    """The fixed colour of series ``index``."""
    return PALETTE[index % len(PALETTE)]


def _num(value: float) -> str:
    return f"{value:.1f}"


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _tick_label(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:g}"


class _Canvas:
    """Plot-area geometry and the SVG parts written so far."""

    def __init__(self, title: str, x_max: float, y_max: float) -> None:
        self.x_max, self.y_max = x_max, y_max
        self.left, self.top = MARGIN_LEFT, MARGIN_TOP
        self.width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
        self.height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
        self.parts = [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
            f"viewBox='0 0 {WIDTH} {HEIGHT}' role='img'>",
            f"<title>{escape(title)}</title>",
            f"<text x='{WIDTH / 2}' y='18' text-anchor='middle' font-family='sans-serif' "
            f"font-size='13' font-weight='bold'>{escape(title)}</text>",
        ]

    def x(self, value: float) -> float:
        return self.left + self.width * min(max(value, 0.0), self.x_max) / self.x_max

    def y(self, value: float) -> float:
        return self.top + self.height * (1 - min(max(value, 0.0), self.y_max) / self.y_max)

    def add(self, part: str) -> None:
        self.parts.append(part)

    def text(self, x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> None:
        self.add(
            f"<text x='{_num(x)}' y='{_num(y)}' text-anchor='{anchor}' {FONT}{extra}>"
            f"{escape(text)}</text>"
        )

    def y_axis(self, label: str, ticks: int = 5) -> None:
        bottom = self.top + self.height
        for i in range(ticks + 1):
            value = self.y_max * i / ticks
            y = self.y(value)
            self.add(
                f"<line x1='{self.left}' y1='{_num(y)}' x2='{self.left + self.width}' "
                f"y2='{_num(y)}' stroke='#e5e5e5'/>"
            )
            self.text(self.left - 6, y + 4, _tick_label(value), anchor="end")
        self.add(
            f"<line x1='{self.left}' y1='{self.top}' x2='{self.left}' y2='{bottom}' stroke='#333'/>"
        )
        self.add(
            f"<line x1='{self.left}' y1='{bottom}' x2='{self.left + self.width}' "
            f"y2='{bottom}' stroke='#333'/>"
        )
        mid = self.top + self.height / 2
        self.text(14, mid, label, extra=f" transform='rotate(-90 14 {_num(mid)})'")

    def x_label(self, x: float, text: str, slot: float) -> None:
        """A category label under the axis, slanted when its slot is narrow."""
        y = self.top + self.height + 14
        if slot >= 7 * len(text):
            self.text(x, y, text)
        else:
            rotate = f" transform='rotate(-30 {_num(x)} {_num(y)})'"
            self.text(x, y, _short(text, 16), anchor="end", extra=rotate)

    def error_bar(self, x: float, low: float, high: float) -> None:
        y1, y2 = self.y(low), self.y(high)
        self.add(
            f"<path d='M{_num(x)} {_num(y1)}V{_num(y2)}M{_num(x - 5)} {_num(y1)}"
            f"h10M{_num(x - 5)} {_num(y2)}h10' stroke='#222' fill='none'/>"
        )

    def done(self) -> str:
        return "".join([*self.parts, "</svg>"])


def _short(label: str, limit: int = 18) -> str:
    """``label`` clipped to ``limit`` characters (at least 4), marked with ``~``."""
    limit = max(limit, 4)
    return label if len(label) <= limit else label[: limit - 1] + "~"


def bar_chart(
    title: str, bars: Sequence[BarValue], *, y_label: str, y_max: float | None = None
) -> str:
    """Vertical bars with error bars (e.g. success rate per run with its 95% interval)."""
    top = y_max or _nice_max(max([b.high or b.value for b in bars] + [0.0]))
    canvas = _Canvas(title, 1.0, top)
    canvas.y_axis(y_label)
    slot = canvas.width / max(len(bars), 1)
    bottom = canvas.top + canvas.height
    for i, bar in enumerate(bars):
        center = canvas.left + slot * (i + 0.5)
        width = min(slot * 0.6, 80)
        y = canvas.y(bar.value)
        canvas.add(
            f"<rect x='{_num(center - width / 2)}' y='{_num(y)}' width='{_num(width)}' "
            f"height='{_num(bottom - y)}' fill='{color(i)}'><title>{escape(bar.label)}: "
            f"{bar.value:.3f}</title></rect>"
        )
        if bar.low is not None and bar.high is not None:
            canvas.error_bar(center, bar.low, bar.high)
        canvas.text(
            center, y - 4 if bar.high is None else canvas.y(bar.high) - 4, f"{bar.value:.3f}"
        )
        canvas.x_label(center, _short(bar.label, 24), slot)
    if not bars:
        canvas.text(WIDTH / 2, HEIGHT / 2, "no data")
    return canvas.done()


def scatter(title: str, points: Sequence[Point], *, x_label: str, y_label: str) -> str:
    """Labelled points with vertical error bars (e.g. tokens per episode vs success)."""
    x_top = _nice_max(max([p.x for p in points] + [0.0]) * 1.1)
    y_top = _nice_max(max([p.y_high or p.y for p in points] + [0.0]))
    canvas = _Canvas(title, x_top, y_top)
    canvas.y_axis(y_label)
    bottom = canvas.top + canvas.height
    for i in range(6):
        value = x_top * i / 5
        canvas.text(canvas.x(value), bottom + 14, _tick_label(value))
    canvas.text(canvas.left + canvas.width / 2, bottom + 34, x_label)
    for i, point in enumerate(points):
        x, y = canvas.x(point.x), canvas.y(point.y)
        if point.y_low is not None and point.y_high is not None:
            canvas.error_bar(x, point.y_low, point.y_high)
        canvas.add(
            f"<circle cx='{_num(x)}' cy='{_num(y)}' r='5' fill='{color(i)}'>"
            f"<title>{escape(point.label)}: {point.x:.0f} tokens, {point.y:.3f}</title></circle>"
        )
        if x < canvas.left + canvas.width * 0.6:
            canvas.text(x + 8, y - 6, _short(point.label, 24), anchor="start")
        else:
            canvas.text(x - 8, y - 6, _short(point.label, 24), anchor="end")
    if not points:
        canvas.text(WIDTH / 2, HEIGHT / 2, "no data")
    return canvas.done()


def grouped_bars(
    title: str,
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    y_label: str,
    empty_note: str = "no data",
    colors: Sequence[int] | None = None,
) -> str:
    """Groups on the x axis, one bar per series in each (e.g. failure counts per run).

    ``colors`` gives each series' palette index (default: its position), so a series keeps
    the colour it has in other charts.
    """
    for name, values in series:
        if len(values) != len(groups):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(groups)} groups")
    palette = list(range(len(series))) if colors is None else list(colors)
    if len(palette) != len(series):
        raise ValueError(f"{len(palette)} colours for {len(series)} series")
    top = _nice_max(max([v for _, values in series for v in values] + [0.0]))
    canvas = _Canvas(title, 1.0, top)
    canvas.y_axis(y_label)
    bottom = canvas.top + canvas.height
    slot = canvas.width / max(len(groups), 1)
    bar = min(slot * 0.8 / max(len(series), 1), 40)
    for g, group in enumerate(groups):
        start = canvas.left + slot * (g + 0.5) - bar * len(series) / 2
        for s, (name, values) in enumerate(series):
            y = canvas.y(values[g])
            canvas.add(
                f"<rect x='{_num(start + s * bar)}' y='{_num(y)}' width='{_num(bar - 1)}' "
                f"height='{_num(bottom - y)}' fill='{color(palette[s])}'><title>{escape(name)}, "
                f"{escape(group)}: {values[g]:g}</title></rect>"
            )
        canvas.x_label(canvas.left + slot * (g + 0.5), _short(group, 22), slot)
    spacing = min(150.0, (WIDTH - canvas.left) / max(len(series), 1))
    for s, (name, _) in enumerate(series):
        x = canvas.left + 8 + s * spacing
        canvas.add(
            f"<rect x='{_num(x)}' y='{HEIGHT - 14}' width='10' height='10' "
            f"fill='{color(palette[s])}'/>"
        )
        canvas.text(x + 14, HEIGHT - 5, _short(name, int(spacing / 7) - 2), anchor="start")
    if not groups or not series:
        canvas.text(WIDTH / 2, HEIGHT / 2, empty_note)
    return canvas.done()
