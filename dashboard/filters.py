"""Sidebar filters shared by the pages. An empty multiselect means "all", so nothing is hidden by default."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.aggregate import DELEGATE_ORDER, most_common

# Filters that narrow which artifacts are shown; they also narrow where accuracy is read from.
ARTIFACT_FILTERS = {"variant": "Variant", "recipe": "Recipe"}
# Filters that narrow where artifacts were timed; accuracy does not depend on them.
TARGET_FILTERS = {"device": "Device", "delegate": "Delegate", "threads": "Threads"}
STATUS_FILTER = {"status": "Status"}


def options(df: pd.DataFrame, column: str) -> list:
    """The distinct values of a column in display order (delegates in the usual order, numbers ascending)."""
    values = df[column].dropna().unique().tolist()
    if column == "delegate":
        rank = {name: i for i, name in enumerate(DELEGATE_ORDER)}
        return sorted(values, key=lambda v: (rank.get(v, len(rank)), str(v)))
    if column == "threads":
        return sorted(int(v) for v in values)
    return sorted(values, key=str)


def multiselects(df: pd.DataFrame, columns: dict[str, str], key: str) -> dict[str, list]:
    """One multiselect per column (label from ``columns``); returns column -> chosen values."""
    chosen = {}
    for column, label in columns.items():
        chosen[column] = st.multiselect(label, options(df, column), key=f"{key}-{column}", placeholder="all")
    return chosen


def run_filter(runs: pd.DataFrame, key: str, newest_by_default: bool = True) -> list[str]:
    """A multiselect of runs, newest first, labelled with start time and plan; empty means all runs.

    Args:
        runs: From ``data.runs_frame`` (newest first).
        key: Widget key prefix, one per page.
        newest_by_default: Start with the newest run chosen (what a team looks at first, and a
            first render that does not grow with the store), rather than with all runs.
    """
    labels = dict(zip(runs["run_id"], runs["label"], strict=True))
    return st.multiselect(
        "Run",
        list(labels),
        default=list(labels)[:1] if newest_by_default else None,
        format_func=lambda run_id: labels.get(run_id, run_id),
        key=f"{key}-run",
        placeholder="all runs",
        help="Clear to include every run. Records of several runs are summarised per configuration "
        "by the median of their medians.",
    )


def dataset_select(df: pd.DataFrame, key: str) -> str | None:
    """A single dataset: accuracies measured on different datasets are not comparable."""
    datasets = options(df, "dataset_id")
    if not datasets:
        return None
    default = most_common(df["dataset_id"])
    return st.selectbox(
        "Accuracy dataset",
        datasets,
        index=datasets.index(default),
        key=f"{key}-dataset",
        help="mAP and AR are only comparable on one dataset; the most used one is the default.",
    )


def apply(df: pd.DataFrame, chosen: dict[str, list]) -> pd.DataFrame:
    """Keep the rows whose value is among the chosen ones, for every column with a choice."""
    mask = pd.Series(True, index=df.index)
    for column, values in chosen.items():
        if values:
            mask &= df[column].isin(values)
    return df[mask]
