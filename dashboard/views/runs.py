"""Runs: pick a baseline and a candidate run, see what changed and what regressed (the CI's rules)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from common.errors import InputError
from dashboard import data, detail_charts
from dashboard.comparison import RunDiff, delta_rows, run_diff
from results.checks import DEFAULT_CHECKS, FORMS
from results.regression import ALPHA, SPEED_BUCKETS

_REGRESSED_STYLE = "background-color: rgba(214, 39, 40, 0.18)"


def render() -> None:
    """Draw the page."""
    st.title("Runs: what changed between two runs")
    store, count = data.require_records()
    runs = data.runs_frame(store.url, count)
    with st.expander(f"All {len(runs)} run(s)", expanded=len(runs) < 2):
        st.dataframe(runs.drop(columns="label"), hide_index=True)
    if len(runs) < 2:
        st.info("Comparing needs two runs; this store has one. Run the benchmark again to compare.")
        return
    labels = dict(zip(runs["run_id"], runs["label"], strict=True))
    ids = list(labels)
    left, right = st.columns(2)
    baseline = left.selectbox("Baseline run", ids, index=1, format_func=labels.get, key="runs-baseline")
    candidate = right.selectbox("Candidate run", ids, index=0, format_func=labels.get, key="runs-candidate")
    with st.sidebar:
        st.header("Checks")
        checks = st.text_input("Regression checks", DEFAULT_CHECKS, key="runs-checks", help=FORMS)
        alpha = st.number_input(
            "Significance level (alpha)", 0.0001, 0.2, ALPHA, format="%.4f", key="runs-alpha"
        )
        allow_missing = st.checkbox(
            "Targets missing from the candidate are not regressions", key="runs-missing"
        )
    if baseline == candidate:
        st.warning("Pick two different runs.")
        return
    try:
        diff = run_diff(store.url, count, baseline, candidate, checks, float(alpha), allow_missing)
    except InputError as error:
        st.error(str(error))
        return
    _summary(diff)
    _changes(diff)


def _summary(diff: RunDiff) -> None:
    total = len(diff.targets)
    columns = st.columns(len(SPEED_BUCKETS) + 2)
    columns[0].metric("targets", total)
    columns[1].metric(
        "regressed", diff.regressed, delta="FAIL" if diff.regressed else "PASS", delta_color="off"
    )
    for column, bucket in zip(columns[2:], SPEED_BUCKETS, strict=True):
        column.metric(bucket, diff.speed[bucket])
    if diff.regressed:
        st.error(f"{diff.regressed} of {total} targets regressed: CI would fail this candidate.")
    else:
        st.success(f"No regression in {total} targets: CI would pass this candidate.")


def _changes(diff: RunDiff) -> None:
    deltas = delta_rows(diff.targets)
    if deltas["delta"].notna().any():
        st.plotly_chart(detail_charts.delta_figure(deltas, "median latency"), key="run-deltas")
    only = st.toggle("Only regressions", value=diff.regressed > 0, key="runs-only")
    table = diff.targets[diff.targets["verdict"].eq("regressed")] if only else diff.targets
    st.dataframe(
        _highlight(table),
        hide_index=True,
        column_config={"median Δ %": st.column_config.NumberColumn(format="%+.1f %%")},
    )
    with st.expander("The CI report (Markdown, as `edgebench compare` writes it)"):
        st.download_button(
            "Download report.md", diff.markdown, "report.md", "text/markdown", on_click="ignore"
        )
        st.code(diff.markdown, language="markdown")


def _highlight(table: pd.DataFrame):
    """Regressed rows tinted red; the Styler keeps the table sortable in the browser."""
    if len(table) > 5000:  # styling is per cell; beyond this it costs more than it helps
        return table
    return table.style.apply(
        lambda row: [_REGRESSED_STYLE if row["verdict"] == "regressed" else ""] * len(row), axis=1
    ).format(precision=2, na_rep="")


render()
