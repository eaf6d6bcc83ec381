"""Pure pandas transforms from the flat record frame to what a chart draws; unit-testable.

Accuracy belongs to an artifact (its sha256 on a dataset), latency to an artifact on a target, so
the trade-off joins the two: a configuration timed in a record without accuracy still gets the mAP
measured on the same file elsewhere, and records of other datasets never mix into one chart.
"""

from __future__ import annotations

import pandas as pd

from results.analysis import BAND_COLUMNS, aggregate, pareto_front

ARTIFACT_KEY = ["variant", "recipe", "sha256"]
TARGET_KEY = ["device", "delegate", "threads"]
METRICS = {"map": "mAP", "ar100": "AR@100"}
# Delegates in the order a team reads them: CPU kernels, then accelerators, then Core ML units.
DELEGATE_ORDER = ["cpu", "xnnpack", "gpu", "nnapi", "coreml_cpu", "coreml_gpu", "coreml_ane", "coreml_all"]


def timed(df: pd.DataFrame) -> pd.DataFrame:
    """Records with a usable latency: status ok and a median."""
    return df[df["status"].eq("ok") & df["median_ms"].notna()]


def accuracy_table(df: pd.DataFrame, dataset_id: str | None, metric: str) -> pd.DataFrame:
    """Median accuracy per artifact (sha256) on one dataset; columns ``sha256, map, ar100``."""
    rows = df[df["dataset_id"].eq(dataset_id) & df[metric].notna()] if dataset_id else df.iloc[0:0]
    return rows.groupby("sha256", as_index=False)[["map", "ar100"]].median()


def latency_points(
    df: pd.DataFrame, accuracy_source: pd.DataFrame, dataset_id: str | None, metric: str
) -> pd.DataFrame:
    """One point per artifact x target (device, delegate, threads), with accuracy and Pareto flag.

    Args:
        df: Records already narrowed by every filter.
        accuracy_source: Records to take accuracy from (narrowed by run, variant and recipe only:
            an artifact's accuracy does not depend on where it was timed).
        dataset_id: The dataset whose accuracy is plotted.
        metric: ``"map"`` or ``"ar100"``.

    Returns:
        Columns of the keys, ``median_ms, p90_ms, size_mb, fallback, records, record_id``,
        ``map, ar100`` and ``pareto`` (on the front of its device and delegate).
    """
    how = {
        "median_ms": "median",
        "p90_ms": "median",
        "size_mb": "median",
        "fallback": "max",
        "record_id": "last",
    }
    banded = all(column in df.columns for column in BAND_COLUMNS)
    if banded:  # the noise band, so a difference within noise never decides the front (summary's rule)
        how.update(dict.fromkeys(BAND_COLUMNS, "median"))
    # A simulated record is its own target (issue 20): pareto_front groups by the column it carries.
    keys = [*ARTIFACT_KEY, *TARGET_KEY, *(["simulated"] if "simulated" in df.columns else [])]
    points = aggregate(timed(df), by=keys, how=how)
    points = points.merge(accuracy_table(accuracy_source, dataset_id, metric), on="sha256", how="inner")
    bands = {"median_ms": BAND_COLUMNS} if banded else None
    points["pareto"] = pareto_front(
        points, ["median_ms"], metric, group_by=["device", "delegate"], bands=bands
    )
    return points


def size_points(accuracy_source: pd.DataFrame, dataset_id: str | None, metric: str) -> pd.DataFrame:
    """One point per artifact: size against accuracy, with the Pareto flag over all artifacts."""
    how = {"size_mb": "median", "record_id": "last"}
    points = aggregate(accuracy_source, by=[*ARTIFACT_KEY, "format"], how=how)
    points = points.merge(accuracy_table(accuracy_source, dataset_id, metric), on="sha256", how="inner")
    points["pareto"] = pareto_front(points, ["size_mb"], metric)
    return points


def device_bars(df: pd.DataFrame, threads: int | None) -> pd.DataFrame:
    """Median and p90 latency per device x model x delegate, for grouped bars with whiskers.

    Args:
        df: Filtered records.
        threads: Only this thread count; ``None`` keeps each bar's fastest thread count (what a
            team would ship), recorded in the ``threads`` column.

    Returns:
        Columns ``device, variant, recipe, delegate, threads, median_ms, p90_ms, records, fallback``,
        sorted by device, variant, recipe and the usual delegate order.
    """
    rows = timed(df)
    if threads is not None:
        rows = rows[rows["threads"].eq(threads)]
    how = {"median_ms": "median", "p90_ms": "median", "fallback": "max"}
    bars = aggregate(rows, by=["device", "variant", "recipe", "delegate", "threads"], how=how)
    if threads is None and not bars.empty:
        fastest = bars.groupby(["device", "variant", "recipe", "delegate"], dropna=False)[
            "median_ms"
        ].idxmin()
        bars = bars.loc[fastest.to_numpy()]
    rank = {name: index for index, name in enumerate(DELEGATE_ORDER)}
    # Plain objects first: a categorical column cannot take a new label, and maps to a categorical.
    labels = {"variant": "(unknown model)", "recipe": "(own file)"}
    bars = bars.assign(**{c: bars[c].astype("object").fillna(label) for c, label in labels.items()})
    bars = bars.assign(_rank=bars["delegate"].astype("object").map(rank).fillna(len(rank)).astype(float))
    return (
        bars.sort_values(["device", "variant", "recipe", "_rank"])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def status_counts(df: pd.DataFrame) -> dict[str, int]:
    """How many records ended in each status, ok first; zero counts left out."""
    counts = df["status"].value_counts()
    order = ["ok", "unsupported", "failed", "crashed"]
    return {
        name: int(counts[name])
        for name in [*order, *sorted(set(counts.index) - set(order))]
        if name in counts
    }


def most_common(series: pd.Series) -> object | None:
    """The most frequent non-missing value, or None for an empty series."""
    counts = series.dropna().value_counts()
    return counts.index[0] if len(counts) else None
