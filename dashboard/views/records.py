"""Records: every record, filterable and sortable, as CSV too; one record's detail below."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, filters, record_detail

_SHOWN = [
    "created_at",
    "run_id",
    "status",
    "variant",
    "recipe",
    "device",
    "delegate",
    "threads",
    "median_ms",
    "p90_ms",
    "map",
    "ar100",
    "size_mb",
    "fallback",
    "dataset_id",
    "format",
    "runner",
    "record_id",
]
_PICKER_LIMIT = 1000  # newest records offered in the picker; the table's row selection reaches all


def render() -> None:
    """Draw the page."""
    st.title("Records")
    store, count = data.require_records()
    df = data.full_frame(store.url, count)
    with st.sidebar:
        st.header("Filters")
        runs = filters.run_filter(data.runs_frame(store.url, count), key="records", newest_by_default=False)
        choice = filters.multiselects(
            df, {**filters.STATUS_FILTER, **filters.TARGET_FILTERS, **filters.ARTIFACT_FILTERS}, key="records"
        )
    narrowed = filters.apply(df, {"run_id": runs, **choice}).iloc[::-1]  # newest first
    left, right = st.columns([4, 1])
    left.caption(
        f"{len(narrowed):,} of {len(df):,} records, newest first; click a column to sort, a row to see it."
    )
    right.download_button(
        "Download CSV",
        data=lambda: narrowed.to_csv(index=False),
        file_name="edgebench_records.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key="records-csv",
    )
    view = narrowed[_SHOWN].reset_index(drop=True)
    event = st.dataframe(
        view,
        hide_index=True,
        height=420,
        on_select="rerun",
        selection_mode="single-row",
        column_config=_column_config(),
        key="records-table",
    )
    st.divider()
    record_id = _chosen(view, event)
    if record_id is None:
        return
    record = data.load_record(store.url, record_id)
    if record is None:
        st.warning(f"Record {record_id} is no longer in the store.")
        return
    record_detail.show(record)


def _chosen(view: pd.DataFrame, event) -> str | None:
    """The record selected in the table, else the one picked in the selectbox (newest by default)."""
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if rows:
        return str(view["record_id"].iloc[rows[0]])
    if view.empty:
        st.info("No record matches the filters.")
        return None
    offered = view.head(_PICKER_LIMIT)
    parts = ["status", "variant", "recipe", "device", "delegate"]
    label = offered["created_at"].astype(str).str.slice(0, 19)
    for part in parts:  # a record of a user's file has no variant: "n/a", never a missing label
        label = label + " · " + offered[part].astype("object").fillna("n/a").astype(str)
    labels = dict(zip(offered["record_id"], label, strict=True))
    return st.selectbox("Record", list(labels), format_func=labels.get, key="records-pick")


def _column_config() -> dict:
    number = st.column_config.NumberColumn
    return {
        "created_at": st.column_config.TextColumn("created (UTC)"),
        "median_ms": number("median (ms)", format="%.2f"),
        "p90_ms": number("p90 (ms)", format="%.2f"),
        "map": number("mAP", format="%.3f"),
        "ar100": number("AR@100", format="%.3f"),
        "size_mb": number("size (MB)", format="%.2f"),
        "fallback": st.column_config.CheckboxColumn("fallback"),
    }


render()
