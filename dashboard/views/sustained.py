"""Sustained: latency, temperature and power over time at a fixed rate; energy per inference against mAP."""

from __future__ import annotations

import streamlit as st

from dashboard import aggregate as agg
from dashboard import data, filters
from dashboard import sustained_charts as sc
from results.schema import RunRecord

_DEFAULT_OVERLAY = 3


@st.cache_data(show_spinner="Loading sustained runs...", max_entries=16)
def _load(url: str, count: int, run_ids: tuple[str, ...]) -> tuple[list[RunRecord], dict]:
    """The chosen runs' sustained records, and (map, ar100) per artifact sha256 from any of their records."""
    del count  # cache key only: a new record invalidates
    store = data.open_store(url)
    records = [r for run_id in run_ids for r in store.records(run_id)] if run_ids else store.records()
    accuracy = {
        r.artifact.sha256: (r.accuracy.map, r.accuracy.ar100) for r in records if r.accuracy is not None
    }
    sustained = [r for r in records if r.timing is not None and r.timing.sustained is not None]
    return sustained, accuracy


def render() -> None:
    """Draw the page."""
    st.title("Sustained: heat, power and throttling at a fixed rate")
    store, count = data.require_records()
    with st.sidebar:
        st.header("Filters")
        runs = filters.run_filter(data.runs_frame(store.url, count), key="sustained")
    records, accuracy = _load(store.url, count, tuple(runs))
    if not records:
        st.info(
            "No sustained run in the chosen runs. Give a target "
            "`sustained: {fps: 30, secs: 600, power: true}` in the plan (the `paper` plan does on phones) "
            "and run the benchmark again."
        )
        return
    table = sc.sustained_table(records, accuracy)
    _summary(table)
    labels = dict(zip(table["record_id"], table["label"], strict=True))
    chosen = st.multiselect(
        "Records to overlay",
        list(labels),
        default=list(labels)[:_DEFAULT_OVERLAY],
        format_func=labels.get,
        key="sustained-records",
    )
    by_id = {r.record_id: r for r in records}
    if chosen:
        st.plotly_chart(sc.traces_figure([by_id[i] for i in chosen]), key="sustained-traces")
    else:
        st.caption("Choose records above to draw their traces.")
    _energy_chart(table)
    with st.expander("Every sustained record"):
        st.dataframe(table[sc.TABLE_COLUMNS + ["reason"]], hide_index=True, column_config=_columns())


def _summary(table) -> None:
    columns = st.columns(4)
    measured = table[table["energy"] == "measured"]
    columns[0].metric("sustained records", f"{len(table):,}")
    columns[1].metric("with energy", f"{len(measured):,}")
    throttled = table["throttle_onset_s"].notna().sum()
    columns[2].metric("throttled", f"{throttled:,}", help="latency rose 10 % above its first minute")
    columns[3].metric("dropped frames", f"{int(table['dropped_frames'].sum()):,}")
    refused = table[table["energy"] == "refused"]
    if not refused.empty:
        st.warning(f"Energy refused on {len(refused)} record(s): {refused['reason'].iloc[0]}")


def _energy_chart(table) -> None:
    metric = st.radio(
        "Accuracy metric",
        list(agg.METRICS),
        format_func=agg.METRICS.get,
        horizontal=True,
        key="sustained-metric",
    )
    st.subheader(f"{agg.METRICS[metric]} against energy per inference")
    points = sc.energy_points(table, metric)
    if points.empty:
        st.info("No sustained record with both energy figures and accuracy on its artifact.")
        return
    st.caption(
        "One point per sustained record; outlined points and lines are each device's Pareto front "
        "(nothing else there costs less energy and is more accurate)."
    )
    title = f"{agg.METRICS[metric]} against energy per inference above idle"
    st.plotly_chart(sc.energy_figure(points, metric, title), key="sustained-energy")


def _columns() -> dict:
    number = st.column_config.NumberColumn
    return {
        "median_ms": number("median (ms)", format="%.2f"),
        "throttle_onset_s": number("throttling onset (s)", format="%.0f"),
        "above_idle_mw": number("power above idle (mW)", format="%.0f"),
        "energy_mj": number("energy / inference (mJ)", format="%.2f"),
        "drain_pct_h": number("battery drain (%/h)", format="%.1f"),
        "max_temp_c": number("max temp (°C)", format="%.1f"),
    }


render()
