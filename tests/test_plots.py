"""The inline SVG charts are valid XML, escape their text and draw what they are given."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fama.runs.plots import BarValue, Point, bar_chart, color, grouped_bars, scatter

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_bar_chart_draws_bars_with_error_bars() -> None:
    root = parse(
        bar_chart(
            "Success <pass^1> & more",
            [BarValue("base", 0.4, 0.3, 0.5), BarValue("fama", 0.6, 0.5, 0.7)],
            y_label="pass^1",
            y_max=1.0,
        )
    )
    assert root.find(f"{SVG}title").text == "Success <pass^1> & more"  # type: ignore[union-attr]
    rects = list(root.iter(f"{SVG}rect"))
    assert len(rects) == 2
    heights = [float(r.get("height", "0")) for r in rects]
    assert heights[1] / heights[0] == pytest.approx(1.5, rel=0.01)
    assert len(list(root.iter(f"{SVG}path"))) == 2  # one error bar per bar
    assert {"0.400", "0.600", "base", "fama"} <= set(texts(root))


def test_scatter_and_grouped_bars() -> None:
    root = parse(
        scatter(
            "cost",
            [Point("a", 1000, 0.4, 0.3, 0.5), Point("b<script>", 1500, 0.5)],
            x_label="tokens",
            y_label="pass^1",
        )
    )
    assert len(list(root.iter(f"{SVG}circle"))) == 2
    assert "b<script>" in texts(root)  # escaped in the source, text again once parsed

    root = parse(
        grouped_bars(
            "categories",
            ["policy_violation", "wrong_retrieval", "a_rather_long_category_name_here"],
            [("base", [5, 2, 1]), ("fama", [3, 2, 0])],
            y_label="failed episodes",
        )
    )
    assert len(list(root.iter(f"{SVG}rect"))) == 6 + 2  # bars + legend swatches
    assert any(t.get("transform", "").startswith("rotate") for t in root.iter(f"{SVG}text"))


def test_empty_charts_say_so() -> None:
    empty = grouped_bars("c", [], [], y_label="n", empty_note="no labels: run `fama analyze`")
    assert "no labels: run `fama analyze`" in texts(parse(empty))
    assert "no data" in texts(parse(bar_chart("s", [], y_label="x")))
    assert "no data" in texts(parse(scatter("s", [], x_label="x", y_label="y")))
    with pytest.raises(ValueError, match="2 values for 1 groups"):
        grouped_bars("c", ["x"], [("s", [1, 2])], y_label="n")
    with pytest.raises(ValueError, match="1 colours for 2 series"):
        grouped_bars("c", ["x"], [("s", [1]), ("t", [2])], y_label="n", colors=[0])


def test_grouped_bars_keep_series_colours() -> None:
    root = parse(grouped_bars("c", ["x"], [("a", [1]), ("b", [2])], y_label="n", colors=[0, 2]))
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert fills == [color(0), color(2), color(0), color(2)]  # bars, then legend
