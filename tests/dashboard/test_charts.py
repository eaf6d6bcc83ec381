"""Figure builders: traces, fronts, axes, hover and whiskers, checked on the figure objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import charts, detail_charts
from results.schema import SustainedTrace, Timing


def points(**extra) -> pd.DataFrame:
    data = {
        "variant": ["v1", "v1", "v2", "v2"],
        "recipe": ["fp32", "int8", "fp32", "int8"],
        "sha256": ["a", "b", "c", "d"],
        "device": ["Pixel 7"] * 4,
        "delegate": ["cpu", "cpu", "gpu", "gpu"],
        "threads": [4, 4, 1, 1],
        "median_ms": [20.0, 8.0, 5.0, 3.0],
        "p90_ms": [22.0, 9.0, 6.0, 3.5],
        "size_mb": [4.0, 1.1, 8.0, 2.2],
        "map": [0.22, 0.21, 0.28, 0.27],
        "ar100": [0.3, 0.29, 0.35, 0.34],
        "records": [3, 3, 1, 1],
        "record_id": ["r1", "r2", "r3", "r4"],
        "fallback": [False, False, False, True],
        "pareto": [True, True, True, True],
    }
    return pd.DataFrame({**data, **extra})


def test_tradeoff_figure_traces_legend_and_fronts():
    fig = charts.tradeoff_figure(points(), "median_ms", "map", "t", front_by="delegate")
    names = [trace.name for trace in fig.data]
    assert names == ["v1", "v2", "v1", "v2", "fp32", "int8", "front · cpu", "front · gpu"]
    data_traces = fig.data[:2]
    assert not any(trace.showlegend for trace in data_traces)
    assert list(data_traces[0].y) == pytest.approx([22.0, 21.0])  # percent points
    assert data_traces[0].marker.symbol[0] != data_traces[0].marker.symbol[1]  # recipes differ
    assert fig.layout.xaxis.type == "log"
    assert "ms" in fig.layout.xaxis.title.text and "mAP" in fig.layout.yaxis.title.text
    front_cpu = fig.data[6]
    assert list(front_cpu.x) == [8.0, 20.0]  # sorted by latency


def test_tradeoff_hover_names_the_record_and_fallback():
    fig = charts.tradeoff_figure(points(), "median_ms", "map", "t", front_by="delegate")
    v2 = fig.data[1]
    assert "%{customdata[8]}" in v2.hovertemplate and "median" in v2.hovertemplate
    row = list(v2.customdata[1])
    assert row[0] == "v2" and row[8] == "r4"
    assert row[2] == "Pixel 7 · gpu · 1 thread(s)"
    assert "fallback" in row[9]


def test_size_figure_has_a_linear_size_axis_and_one_front():
    sizes = (
        points()
        .drop(columns=["device", "delegate", "threads", "median_ms", "p90_ms"])
        .assign(format="tflite")
    )
    sizes["pareto"] = [False, True, False, True]
    fig = charts.tradeoff_figure(sizes, "size_mb", "ar100", "t")
    fronts = [trace for trace in fig.data if trace.name.startswith("front")]
    assert len(fronts) == 1 and list(fronts[0].x) == [1.1, 2.2]
    assert fig.layout.xaxis.type in (None, "linear") and fig.layout.xaxis.title.text == "size (MB)"
    assert "AR@100" in fig.layout.yaxis.title.text
    assert "median" not in fig.data[0].hovertemplate


def test_colours_are_stable_across_subsets():
    full = charts.colour_map(["c", "a", "b"])
    assert charts.colour_map(["a", "b", "c"]) == full
    fig = charts.tradeoff_figure(points(variant=["b", "b", "b", "b"]), "median_ms", "map", "t", colours=full)
    assert fig.data[0].marker.color == full["b"]


def test_log_ticks_cover_the_values_with_1_2_5():
    ticks = charts.log_ticks(pd.Series([3.0, 140.0]))
    assert ticks[0] <= 3.0 and ticks[-1] >= 140.0
    assert set(ticks) <= {1, 2, 5, 10, 20, 50, 100, 200, 500}
    assert charts.log_ticks(pd.Series([np.nan])) == [1.0, 10.0, 100.0]


def test_device_bars_whiskers_reach_p90_only_upwards():
    bars = points()
    fig = charts.device_bars_figure(bars, "Pixel 7", log_y=False)
    assert [trace.name for trace in fig.data] == ["cpu", "gpu"]
    cpu = fig.data[0]
    assert list(cpu.error_y.array) == pytest.approx([2.0, 1.0])
    assert list(cpu.error_y.arrayminus) == [0, 0]
    assert list(cpu.x[0]) == ["v1", "v1"] and list(cpu.x[1]) == ["fp32", "int8"]
    assert fig.layout.yaxis.type in (None, "linear")
    assert charts.device_bars_figure(bars, "Pixel 7", log_y=True).layout.yaxis.type == "log"


def test_latency_histogram_marks_median_and_p90():
    timing = Timing(samples_ms=[1.0, 2.0, 3.0, 4.0, 10.0])
    fig = detail_charts.latency_histogram(timing)
    assert list(fig.data[0].x) == [1.0, 2.0, 3.0, 4.0, 10.0]
    texts = [annotation.text for annotation in fig.layout.annotations]
    assert texts == ["median 3.00 ms", "p90 7.60 ms"]


def test_sustained_figure_plots_latency_and_temperature():
    trace = SustainedTrace(
        target_fps=10, duration_secs=0.3, sample_times_s=[0, 0.1, 0.2], temperatures=[(0, 40.0)]
    )
    fig = detail_charts.sustained_figure(Timing(samples_ms=[1.0, 1.1, 1.3], sustained=trace))
    assert [t.name for t in fig.data] == ["latency (ms)", "temperature (°C)"]
    with pytest.raises(ValueError, match="sustained"):
        detail_charts.sustained_figure(Timing(samples_ms=[1.0]))


def test_delta_figure_colours_regressions_red_and_keeps_the_largest():
    deltas = pd.DataFrame(
        {
            "label": list("abcd"),
            "delta": [30.0, -12.0, 1.0, None],
            "verdict": ["regression", "improvement", "x", "x"],
        }
    ).assign(unit="%")
    fig = detail_charts.delta_figure(deltas, "median", top=2)
    bar = fig.data[0]
    assert list(bar.y) == ["b", "a"]  # largest change on top
    assert list(bar.marker.color) == ["#2ca02c", "#d62728"]
