"""Devices: median latency per model and delegate on each device, p90 as whiskers, side by side."""

from __future__ import annotations

import streamlit as st

from dashboard import aggregate as agg
from dashboard import charts, data, filters

_FASTEST = "fastest"


def render() -> None:
    """Draw the page."""
    st.title("Devices: latency per model and delegate")
    store, count = data.require_records()
    with st.sidebar:
        st.header("Filters")
        runs = filters.run_filter(data.runs_frame(store.url, count), key="devices")
    df = data.runs_plot_frame(store.url, count, runs)
    with st.sidebar:
        choice = filters.multiselects(
            df, {**filters.ARTIFACT_FILTERS, "device": "Device", "delegate": "Delegate"}, key="devices"
        )
    narrowed = filters.apply(df, choice)
    left, right = st.columns([3, 1])
    threads = left.radio(
        "Threads",
        [_FASTEST, *filters.options(narrowed, "threads")],
        format_func=lambda t: "fastest per bar" if t == _FASTEST else f"{t} thread(s)",
        horizontal=True,
        key="devices-threads",
        help="'fastest per bar' keeps each model x delegate at its best thread count (shown in the hover).",
    )
    log_y = right.toggle("Log latency axis", value=True, key="devices-log")
    bars = agg.device_bars(narrowed, None if threads == _FASTEST else int(threads))
    if bars.empty:
        st.info("No timed record matches the filters.")
        return
    st.caption(
        "Bars are medians of the selected runs' median latencies; whiskers reach the p90. "
        "A delegate that declined ops shows 'fallback True' in the hover: its time is partly or all CPU."
    )
    for device, rows in bars.groupby("device", sort=True):
        st.plotly_chart(charts.device_bars_figure(rows, str(device), log_y), key=f"bars-{device}")
    with st.expander("The numbers behind the bars"):
        st.dataframe(
            bars,
            hide_index=True,
            column_config={
                "median_ms": st.column_config.NumberColumn("median (ms)", format="%.2f"),
                "p90_ms": st.column_config.NumberColumn("p90 (ms)", format="%.2f"),
            },
        )


render()
