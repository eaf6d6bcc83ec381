"""Models: one row per model x recipe with mAP, AR@100, size, params, MAdds and the median latency on each
device and delegate; the user's own models (plan ``models:``) beside the zoo's; CSV download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, filters
from results.model_table import FIXED_COLUMNS, MODEL_TABLE_COLUMNS, models_table

_LABELS = {
    "source": "source",
    "model": "model",
    "recipe": "recipe",
    "map": "mAP",
    "ar100": "AR@100",
    "size_mb": "size (MB)",
    "params_m": "params (M)",
    "madds_m": "MAdds (M)",
}


@st.cache_data(show_spinner="Loading records...", max_entries=16)
def _frame(url: str, count: int, run_ids: tuple[str, ...]) -> pd.DataFrame:
    """The table's columns of the chosen runs' records (all runs when none is chosen)."""
    del count  # part of the cache key only: a new record invalidates the frame
    store = data.open_store(url)
    if not run_ids:
        return store.frame(columns=MODEL_TABLE_COLUMNS)
    frames = [store.frame(run_id=run_id, columns=MODEL_TABLE_COLUMNS) for run_id in run_ids]
    return pd.concat(frames, ignore_index=True)


def _column_config(table: pd.DataFrame) -> dict:
    config = {key: st.column_config.TextColumn(label) for key, label in _LABELS.items()}
    for key in ("map", "ar100"):
        config[key] = st.column_config.NumberColumn(_LABELS[key], format="%.3f")
    for key in ("size_mb", "params_m", "madds_m"):
        config[key] = st.column_config.NumberColumn(_LABELS[key], format="%.2f")
    for column in table.columns[len(FIXED_COLUMNS) :]:
        config[column] = st.column_config.NumberColumn(f"{column} (ms)", format="%.2f")
    return config


def render() -> None:
    """Draw the page."""
    st.title("Models: accuracy, size and speed per recipe")
    store, count = data.require_records()
    with st.sidebar:
        st.header("Filters")
        runs = filters.run_filter(data.runs_frame(store.url, count), key="models")
    frame = _frame(store.url, count, tuple(runs))
    with st.sidebar:
        dataset = filters.dataset_select(frame, key="models")
    table = models_table(frame, dataset)
    with st.sidebar:
        sources = st.multiselect("Source", ["zoo", "user"], default=["zoo", "user"], key="models-source")
    table = table[table["source"].isin(sources)].reset_index(drop=True)
    if table.empty:
        st.info("No model has an accuracy or an ok timing in the selected runs.")
        return
    users = int(table["source"].eq("user").sum())
    st.caption(
        f"{len(table)} model x recipe rows ({users} of your own models, source 'user'). Latency columns: "
        "median of the ok records' median latency on that device and delegate, at the fastest thread "
        "count; empty where it was not timed or could not run (see the Records page for the reason)."
    )
    st.dataframe(table, hide_index=True, column_config=_column_config(table), key="models-table")
    st.download_button(
        "Download CSV",
        table.rename(columns=_LABELS).to_csv(index=False),
        file_name="edgebench-models.csv",
        mime="text/csv",
        key="models-csv",
    )


render()
