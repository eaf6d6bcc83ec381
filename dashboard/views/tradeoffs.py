"""Trade-offs: accuracy against median latency (per device, fronts per delegate) and against size."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import aggregate as agg
from dashboard import charts, data, filters

_FRONT_COLUMNS = [
    "device",
    "delegate",
    "threads",
    "variant",
    "recipe",
    "median_ms",
    "p90_ms",
    "size_mb",
    "map",
    "ar100",
    "records",
    "fallback",
    "record_id",
]


def render() -> None:
    """Draw the page."""
    st.title("Trade-offs: accuracy against latency and size")
    store, count = data.require_records()
    with st.sidebar:
        st.header("Filters")
        runs = filters.run_filter(data.runs_frame(store.url, count), key="tradeoffs")
    df = data.runs_plot_frame(store.url, count, runs)
    with st.sidebar:
        dataset = filters.dataset_select(df, key="tradeoffs")
        artifact_choice = filters.multiselects(df, filters.ARTIFACT_FILTERS, key="tradeoffs")
        target_choice = filters.multiselects(df, filters.TARGET_FILTERS, key="tradeoffs")
    metric = st.radio(
        "Accuracy metric",
        list(agg.METRICS),
        format_func=agg.METRICS.get,
        horizontal=True,
        key="tradeoffs-metric",
    )
    source = filters.apply(df, artifact_choice)
    narrowed = filters.apply(source, target_choice)
    points = agg.latency_points(narrowed, source, dataset, metric)
    _summary(narrowed, points)
    colours = charts.colour_map(filters.options(df, "variant"))
    symbols = charts.symbol_map(filters.options(df, "recipe"))
    _latency_charts(points, metric, colours, symbols)
    st.subheader(f"{agg.METRICS[metric]} against size")
    sizes = agg.size_points(source, dataset, metric)
    if sizes.empty:
        st.info("No artifact with accuracy on this dataset matches the filters.")
    else:
        title = f"{agg.METRICS[metric]} against file size (one point per artifact, one front)"
        st.plotly_chart(
            charts.tradeoff_figure(sizes, "size_mb", metric, title, None, colours, symbols), key="size"
        )
    with st.expander("Configurations on a Pareto front"):
        front = points[points["pareto"]].sort_values(["device", "delegate", "median_ms"])
        st.dataframe(front[_FRONT_COLUMNS], hide_index=True, column_config=_column_config())


def _summary(narrowed: pd.DataFrame, points: pd.DataFrame) -> None:
    counts = agg.status_counts(narrowed)
    columns = st.columns(4)
    columns[0].metric("records", f"{len(narrowed):,}")
    columns[1].metric("configurations plotted", f"{len(points):,}")
    columns[2].metric("on a front", f"{int(points['pareto'].sum()):,}")
    not_ok = {name: n for name, n in counts.items() if name != "ok"}
    columns[3].metric(
        "not ok", f"{sum(not_ok.values()):,}", help=", ".join(f"{k}: {v}" for k, v in not_ok.items())
    )
    if not_ok:
        st.caption(
            "Records without timings ("
            + ", ".join(f"{n} {name}" for name, n in not_ok.items())
            + ") are not plotted; the Records page shows why they failed."
        )


def _latency_charts(points: pd.DataFrame, metric: str, colours: dict, symbols: dict) -> None:
    st.subheader(f"{agg.METRICS[metric]} against median latency")
    if points.empty:
        st.info("No timed record with accuracy on this dataset matches the filters.")
        return
    st.caption(
        "One point per artifact x delegate x threads; outlined points and lines are the Pareto front of each "
        "device and delegate (nothing else is both faster and more accurate there)."
    )
    for device, rows in points.groupby("device", sort=True):
        title = f"{device}: {agg.METRICS[metric]} against median latency"
        figure = charts.tradeoff_figure(rows, "median_ms", metric, title, "delegate", colours, symbols)
        st.plotly_chart(figure, key=f"latency-{device}")


def _column_config() -> dict:
    return {
        "median_ms": st.column_config.NumberColumn("median (ms)", format="%.2f"),
        "p90_ms": st.column_config.NumberColumn("p90 (ms)", format="%.2f"),
        "size_mb": st.column_config.NumberColumn("size (MB)", format="%.2f"),
        "map": st.column_config.NumberColumn("mAP", format="%.3f"),
        "ar100": st.column_config.NumberColumn("AR@100", format="%.3f"),
    }


render()
