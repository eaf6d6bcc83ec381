"""Figures for one record (latency histogram, sustained-run trace) and for a run comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from results.schema import Timing

_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 50, "b": 50}, "height": 360}
_REGRESSION, _IMPROVEMENT, _NEUTRAL = "#d62728", "#2ca02c", "#9e9e9e"


def latency_histogram(timing: Timing, title: str = "Latency samples") -> go.Figure:
    """Histogram of the timed runs' latencies, with the median and p90 marked."""
    fig = go.Figure(
        go.Histogram(
            x=timing.samples_ms,
            nbinsx=min(60, max(10, len(timing.samples_ms) // 3)),
            marker_color="#4c78a8",
            name="timed runs",
            hovertemplate="%{x} ms: %{y} run(s)<extra></extra>",
        )
    )
    for value, label, dash in ((timing.median_ms, "median", "solid"), (timing.p90_ms, "p90", "dash")):
        if value is not None:
            fig.add_vline(
                x=value, line_dash=dash, line_color="#222", annotation_text=f"{label} {value:.2f} ms"
            )
    fig.update_layout(
        title=title, xaxis_title="latency (ms)", yaxis_title="runs", bargap=0.05, showlegend=False, **_LAYOUT
    )
    return fig


def sustained_figure(timing: Timing) -> go.Figure:
    """Latency of each invocation over time at a fixed rate, with the temperature readings (throttling)."""
    trace = timing.sustained
    if trace is None:
        raise ValueError("timing.sustained: got None; a sustained trace is needed for this figure")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    count = min(len(trace.sample_times_s), len(timing.samples_ms))
    fig.add_trace(
        go.Scatter(
            x=trace.sample_times_s[:count],
            y=timing.samples_ms[:count],
            mode="lines+markers",
            name="latency (ms)",
            marker={"size": 4},
        ),
        secondary_y=False,
    )
    if trace.temperatures:
        times, degrees = zip(*trace.temperatures, strict=True)
        fig.add_trace(
            go.Scatter(x=times, y=degrees, mode="lines", name="temperature (°C)", line={"color": "#e45756"}),
            secondary_y=True,
        )
    fig.update_layout(
        title=f"Sustained run at {trace.target_fps:g} fps for {trace.duration_secs:g} s "
        f"({trace.dropped_frames} dropped frame(s))",
        xaxis_title="time since the first invocation (s)",
        **_LAYOUT,
    )
    fig.update_yaxes(title_text="latency (ms)", secondary_y=False)
    fig.update_yaxes(title_text="temperature (°C)", tickformat=".0f", secondary_y=True)
    return fig


def delta_figure(deltas: pd.DataFrame, metric: str, top: int = 25) -> go.Figure:
    """Horizontal bars of the largest changes of one metric between two runs.

    Args:
        deltas: Rows with ``label`` (what was measured), ``delta`` (in the metric's unit, e.g. %),
            ``verdict`` ("regression", "improvement" or anything else for unchanged) and ``unit``.
        metric: The metric's name, for the title.
        top: How many of the largest absolute changes to show.
    """
    rows = deltas.dropna(subset=["delta"])
    rows = rows.loc[rows["delta"].abs().sort_values(ascending=False).index[:top]].iloc[::-1]
    colours = np.select(
        [rows["verdict"].eq("regression"), rows["verdict"].eq("improvement")],
        [_REGRESSION, _IMPROVEMENT],
        _NEUTRAL,
    )
    unit = str(rows["unit"].iloc[0]) if len(rows) else ""
    fig = go.Figure(
        go.Bar(
            x=rows["delta"],
            y=rows["label"],
            orientation="h",
            marker_color=colours,
            customdata=rows["verdict"],
            hovertemplate="%{y}<br>change %{x:+.2f} " + unit + " · %{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"{metric}: the {len(rows)} largest changes (red: regression, green: improvement)",
        xaxis_title=f"change ({unit})",
        yaxis={"automargin": True},
        **{**_LAYOUT, "height": max(320, 24 * len(rows) + 120)},
    )
    return fig
