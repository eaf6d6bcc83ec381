"""Plotly figure builders: pure functions from small frames to figures, so they unit-test without Streamlit.

Colours are stable per variant and per delegate (sorted names index a fixed palette), so the same
model keeps its colour as filters change. Accuracy is shown in percent points (22.1, as papers print
COCO mAP) although the store keeps fractions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from dashboard.aggregate import DELEGATE_ORDER, METRICS

PALETTE = qualitative.Plotly + qualitative.D3
SYMBOLS = [
    "circle",
    "square",
    "diamond",
    "triangle-up",
    "cross",
    "x",
    "star",
    "triangle-down",
    "pentagon",
    "hexagon",
    "star-triangle-up",
    "hourglass",
    "bowtie",
    "circle-x",
    "square-x",
    "diamond-x",
]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
_DELEGATE_COLOURS = dict(zip(DELEGATE_ORDER, qualitative.Safe, strict=False))
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "hoverlabel": {"align": "left"},
}
_HOVER_TOP = "<b>%{customdata[0]}</b> · %{customdata[1]}<br>%{customdata[2]}<br>"
_HOVER_LATENCY = "median %{customdata[3]:.2f} ms · p90 %{customdata[4]:.2f} ms<br>"
_HOVER_BOTTOM = (
    "%{customdata[5]} %{y:.1f} · size %{customdata[6]:.2f} MB<br>"
    "%{customdata[7]} record(s) · latest %{customdata[8]}%{customdata[9]}<extra></extra>"
)


def colour_map(names: list[str]) -> dict[str, str]:
    """A stable colour per name: sorted names take the palette in order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(names))}


def symbol_map(names: list[str]) -> dict[str, str]:
    """A stable marker symbol per name."""
    return {name: SYMBOLS[i % len(SYMBOLS)] for i, name in enumerate(sorted(names))}


def tradeoff_figure(
    points: pd.DataFrame,
    x: str,
    metric: str,
    title: str,
    front_by: str | None = None,
    colours: dict[str, str] | None = None,
    symbols: dict[str, str] | None = None,
) -> go.Figure:
    """Accuracy against latency or size: colour = variant, symbol = recipe, Pareto fronts as lines.

    Args:
        points: From ``latency_points`` or ``size_points`` (``variant``, ``recipe``, ``pareto``, x, metric).
        x: ``"median_ms"`` (log axis) or ``"size_mb"``.
        metric: ``"map"`` or ``"ar100"``.
        title: The figure title.
        front_by: Draw one front line per value of this column (e.g. ``"delegate"``); None: one front.
        colours: Variant -> colour, to keep colours stable across figures; derived when None.
        symbols: Recipe -> symbol; derived when None.
    """
    variants = sorted(points["variant"].dropna().astype(str).unique())
    recipes = sorted(points["recipe"].dropna().astype(str).unique())
    colours = colours or colour_map(variants)
    symbols = symbols or symbol_map(recipes)
    # Traces are plain dicts validated once by go.Figure: add_trace / update_layout re-validate
    # and copy on every call, which cost a second per page on 100,000 records' worth of charts.
    traces = [
        _points_trace(rows, str(variant), x, metric, colours, symbols)
        for variant, rows in points.groupby("variant", sort=True)
    ]
    # Legend keys: colours by variant (clicking one hides that variant), symbols by recipe.
    traces += [
        _key_trace(
            variant, "variant" if index == 0 else None, variant, colours.get(variant, "#888"), "circle"
        )
        for index, variant in enumerate(variants)
    ]
    traces += [_key_trace(recipe, "recipe", "recipe", "#777", symbols[recipe]) for recipe in recipes]
    traces += _front_traces(points, x, metric, front_by)
    layout = {
        "title": {"text": title},
        "xaxis": _latency_axis(points[x]) if x == "median_ms" else {"title": {"text": "size (MB)"}},
        "yaxis": {"title": {"text": f"{METRICS[metric]} (%)"}},
        "height": 560,
        **_LAYOUT,
    }
    return go.Figure(data=traces, layout=layout)


def log_ticks(values: pd.Series) -> list[float]:
    """Tick values 1, 2, 5, 10, 20, 50, ... covering the values: readable labels on a log axis."""
    finite = values[np.isfinite(values) & (values > 0)]
    if finite.empty:
        return [1.0, 10.0, 100.0]
    low, high = np.floor(np.log10(finite.min())), np.ceil(np.log10(finite.max()))
    ticks = [m * 10.0**e for e in range(int(low), int(high) + 1) for m in (1, 2, 5)]
    return [t for t in ticks if finite.min() / 2.5 <= t <= finite.max() * 2.5]


def _latency_axis(values: pd.Series) -> dict:
    ticks = log_ticks(pd.Series(values, dtype=float))
    return {
        "title": {"text": "median latency (ms, log scale)"},
        "type": "log",
        "tickvals": ticks,
        "ticktext": [f"{t:g}" for t in ticks],
    }


def _hover_columns(rows: pd.DataFrame, metric: str) -> np.ndarray:
    """The ``customdata`` of the hover templates; a size point has no target or latency."""

    def column(name: str, default: object) -> pd.Series:
        return rows[name] if name in rows else pd.Series(default, index=rows.index)

    if "device" in rows:
        where = rows["device"].astype(str) + " · " + rows["delegate"].astype(str)
        where = where + " · " + rows["threads"].astype(str) + " thread(s)"
    else:
        where = "format " + column("format", "?").astype(str)
    fallback = np.where(column("fallback", False).astype(bool), "<br>⚠ delegate fallback", "")
    frame = pd.DataFrame(
        {
            "variant": rows["variant"],
            "recipe": rows["recipe"],
            "where": where,
            "median": column("median_ms", np.nan),
            "p90": column("p90_ms", np.nan),
            "metric": METRICS[metric],
            "size": rows["size_mb"],
            "records": rows["records"],
            "record": rows["record_id"],
            "fallback": fallback,
        }
    )
    return frame.to_numpy(dtype=object)


def _points_trace(rows, variant, x, metric, colours, symbols) -> dict:
    return dict(
        type="scatter",
        x=rows[x].to_numpy(),
        y=(rows[metric] * 100.0).to_numpy(),
        mode="markers",
        name=variant,
        legendgroup=variant,
        showlegend=False,
        customdata=_hover_columns(rows, metric),
        hovertemplate=_HOVER_TOP + (_HOVER_LATENCY if x == "median_ms" else "") + _HOVER_BOTTOM,
        marker={
            "color": colours.get(variant, "#888"),
            "symbol": [symbols.get(str(r), "circle") for r in rows["recipe"]],
            "size": 11,
            "opacity": 0.85,
            # Points on a front get a dark outline, so they read as chosen even without the line.
            "line": {"color": "#222", "width": np.where(rows["pareto"], 1.8, 0.0)},
        },
    )


def _key_trace(name: str, title: str | None, group: str, colour: str, symbol: str) -> dict:
    return dict(
        type="scatter",
        x=[None],
        y=[None],
        mode="markers",
        name=name,
        legendgroup=group,
        legendgrouptitle={"text": title},
        marker={"color": colour, "symbol": symbol, "size": 10},
        hoverinfo="skip",
    )


def _front_traces(points: pd.DataFrame, x: str, metric: str, front_by: str | None) -> list[dict]:
    front = points[points["pareto"]].sort_values(x)
    groups = front.groupby(front_by, sort=True) if front_by else [("all", front)]
    return [
        dict(
            type="scatter",
            x=rows[x].to_numpy(),
            y=(rows[metric] * 100.0).to_numpy(),
            mode="lines",
            name=f"front · {name}",
            legendgroup=f"front-{name}",  # its own group: each front hides on its own
            legendgrouptitle={"text": "Pareto front" if index == 0 else None},
            line={"color": _DELEGATE_COLOURS.get(str(name), "#444"), "width": 2, "dash": DASHES[index % 6]},
            hoverinfo="skip",
        )
        for index, (name, rows) in enumerate(groups)
    ]


def device_bars_figure(bars: pd.DataFrame, device: str, log_y: bool = True) -> go.Figure:
    """Grouped bars of median latency per model, one bar per delegate, p90 as an upward whisker."""
    traces = [_bar_trace(rows, str(delegate)) for delegate, rows in bars.groupby("delegate", sort=False)]
    whisker_tops = bars["p90_ms"].combine_first(bars["median_ms"])
    layout = {
        "title": {"text": f"{device}: median latency, whiskers to p90"},
        "barmode": "group",
        "xaxis": {"title": {"text": "model: recipe under variant"}, "tickangle": -50},
        "yaxis": _latency_axis(whisker_tops) if log_y else {"title": {"text": "median latency (ms)"}},
        "legend": {"title": {"text": "delegate"}},
        "height": 560,
        **_LAYOUT,
    }
    return go.Figure(data=traces, layout=layout)


def _bar_trace(rows: pd.DataFrame, delegate: str) -> dict:
    return dict(
        type="bar",
        x=[rows["variant"].tolist(), rows["recipe"].tolist()],  # two-level axis: recipes under variants
        y=rows["median_ms"].to_numpy(),
        name=delegate,
        marker={"color": _DELEGATE_COLOURS.get(delegate)},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": (rows["p90_ms"] - rows["median_ms"]).clip(lower=0).to_numpy(),
            "arrayminus": np.zeros(len(rows)),
            "thickness": 1.2,
            "width": 3,
        },
        customdata=np.column_stack([rows["p90_ms"], rows["threads"], rows["records"], rows["fallback"]]),
        hovertemplate=(
            "<b>%{x}</b><br>" + delegate + " · %{customdata[1]} thread(s)<br>"
            "median %{y:.2f} ms · p90 %{customdata[0]:.2f} ms<br>"
            "%{customdata[2]} record(s) · fallback %{customdata[3]}<extra></extra>"
        ),
    )
