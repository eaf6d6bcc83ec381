"""Run comparison for the Runs page, through ``results.regression`` (the same rules as the CI report).

The comparison is cached as plain data (a frame, the Markdown report, counts): ``Comparison`` holds
check objects with functions inside, which ``st.cache_data`` cannot pickle.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard.data import open_store
from results.checks import parse_checks
from results.regression import SPEED_BUCKETS, Comparison, TargetResult, compare_runs
from results.report import to_markdown

FASTER = SPEED_BUCKETS[:2]


@dataclass(frozen=True)
class RunDiff:
    """A comparison in the shape the page draws."""

    targets: pd.DataFrame  # one row per target; see comparison_frame
    markdown: str  # the CI report, verbatim
    regressed: int
    speed: dict[str, int]  # speed bucket -> targets


@st.cache_data(show_spinner="Comparing runs (rank tests on the raw samples)...", max_entries=16)
def run_diff(
    url: str, count: int, baseline: str, candidate: str, checks: str, alpha: float, allow_missing: bool
) -> RunDiff:
    """Compare two stored runs; ``count`` only keys the cache.

    Raises:
        InputError: ``checks`` cannot be parsed (the message names the token and the allowed forms).
    """
    del count
    parsed = parse_checks(checks)
    store = open_store(url)
    comparison = compare_runs(
        store.records(run_id=baseline), store.records(run_id=candidate), parsed, alpha, allow_missing
    )
    speed = {bucket: sum(t.bucket == bucket for t in comparison.targets) for bucket in SPEED_BUCKETS}
    return RunDiff(comparison_frame(comparison), to_markdown(comparison), len(comparison.regressions), speed)


def comparison_frame(comparison: Comparison) -> pd.DataFrame:
    """One row per target: identity, verdict, speed bucket, median change and one column per check."""
    names = [check.metric.name for check in comparison.checks]
    rows = [_row(target, names) for target in comparison.targets]
    columns = [
        "target",
        "verdict",
        "status",
        "speed",
        "median Δ %",
        *[f"Δ {n}" for n in names],
        "why",
        "notes",
    ]
    return pd.DataFrame(rows, columns=columns)


def _row(target: TargetResult, names: list[str]) -> dict:
    by_name = {m.check.metric.name: m for m in target.metrics}
    row = {
        "target": target.label,
        "verdict": target.verdict,
        "status": f"{target.baseline_status or '-'} → {target.candidate_status or '-'}",
        "speed": target.bucket or "-",
        "median Δ %": target.median_delta_pct,
        "why": "; ".join(
            [*target.problems, *(f"{m.check.text}: {m.delta:+.2f}" for m in target.metrics if m.regressed)]
        ),
        "notes": "; ".join(target.notes),
    }
    for name in names:
        row[f"Δ {name}"] = by_name[name].delta if name in by_name else None
    return row


def delta_rows(targets: pd.DataFrame) -> pd.DataFrame:
    """The median changes for ``detail_charts.delta_figure``: regressions red, faster buckets green."""
    verdict = targets["verdict"].where(targets["verdict"].eq("regressed"), None)
    verdict = verdict.fillna(targets["speed"].map(lambda b: "improvement" if b in FASTER else "unchanged"))
    verdict = verdict.replace({"regressed": "regression"})
    return pd.DataFrame(
        {"label": targets["target"], "delta": targets["median Δ %"], "verdict": verdict, "unit": "%"}
    )
