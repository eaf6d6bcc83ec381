"""Queries over the store's flat DataFrame: Pareto fronts, the newest record per target, aggregates.

Everything here takes and returns pandas objects (``Store.frame()`` columns) and stays vectorised, so
the dashboard can call it on 100,000 rows per interaction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from common.errors import InputError
from results.identity import keys_of_frame

# Issue 20: records from an Android emulator or the iOS Simulator (``target.simulated``) never share a
# Pareto front with phones. The store's flat columns carry no flag, so frames from it derive the column
# from the device model, which those runners mark ("... (emulator)", "... (Simulator)").
SIMULATED_COLUMN = "simulated"
SIMULATED_MODEL_MARKERS = ("(emulator)", "(simulator)")

# The flat columns of a record's latency noise band (``results.significance.median_band``), what
# ``pareto_front``'s ``bands`` names for ``median_ms``.
BAND_COLUMNS = ("median_lo_ms", "median_hi_ms")

# How ``aggregate`` summarises each column unless told otherwise: medians for what is measured
# repeatedly (a median of medians is robust to one noisy run), the worst case for memory.
DEFAULT_AGGREGATES = {
    "median_ms": "median",
    "median_lo_ms": "median",
    "median_hi_ms": "median",
    "p90_ms": "median",
    "init_ms": "median",
    "peak_memory_mb": "max",
    "size_bytes": "median",
    "gzip_bytes": "median",
    "map": "median",
    "ar100": "median",
}

# Candidates are checked against the front found so far in blocks of this many rows: big enough to
# amortise numpy's per-call cost, small enough that a block x front x columns array stays small.
_BLOCK = 512


def _require_columns(df: pd.DataFrame, columns: list[str], argument: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{argument}: unknown column(s) {missing}; allowed: {', '.join(map(str, df.columns))}"
        )


def pareto_front(
    df: pd.DataFrame,
    x_cols_minimise: list[str],
    y_col_maximise: str,
    group_by: list[str] | None = None,
    bands: dict[str, tuple[str, str]] | None = None,
) -> pd.Series:
    """Which rows no other row beats: lower or equal on every x, higher or equal on y, better on one.

    With ``bands`` an x column is compared through its noise band (``results.significance.median_band``:
    low and high columns): row a is no worse than row b there when a's low end is at most b's high end
    (equal within noise counts as equal), and better only when a's high end is below b's low end (faster
    beyond noise). So a latency difference within noise never takes a row off the front; a row tied on
    latency within noise is dominated only by one at least as small and as accurate, and better in one
    of those. A missing band falls back to the x value itself. The summary and the dashboard use this.

    Rows with a missing value in any of the columns are never on the front. Identical rows are all on
    the front (none is strictly better than the other). One x column takes O(n log n) (a sort and a
    running maximum); several take a sort plus a blockwise check against the front found so far,
    O(n * front size), which is fast because fronts are small (a few dozen of 100,000 random points).

    Args:
        df: Any frame, e.g. ``Store.frame()``.
        x_cols_minimise: Columns where lower is better, e.g. ``["median_ms", "size_bytes"]``.
        bands: x column -> its (low, high) band columns, e.g. ``{"median_ms": BAND_COLUMNS}``.
        y_col_maximise: The column where higher is better, e.g. ``"map"``.
        group_by: Compute one front per group, e.g. ``["device_id", "delegate"]``. A ``simulated``
            column, when ``df`` has one, is always a group too.

    Returns:
        A boolean Series aligned with ``df.index``, named ``"pareto"``.

    Raises:
        InputError: no x column, or a column that ``df`` does not have.
    """
    if not x_cols_minimise:
        raise InputError("x_cols_minimise: need at least one column to minimise; got none")
    groups = list(group_by or [])
    if SIMULATED_COLUMN in df.columns and SIMULATED_COLUMN not in groups:
        groups.append(SIMULATED_COLUMN)  # a simulator's latency is never on a phone's front (issue 20)
    _require_columns(df, [*x_cols_minimise, y_col_maximise], "pareto_front columns")
    _require_columns(df, groups, "group_by")
    _require_columns(df, [c for pair in (bands or {}).values() for c in pair], "bands")
    x = df[x_cols_minimise].to_numpy(dtype=float, na_value=np.nan)
    y = df[y_col_maximise].to_numpy(dtype=float, na_value=np.nan)
    valid = ~(np.isnan(x).any(axis=1) | np.isnan(y))
    codes = _group_codes(df, groups)
    on_front = np.zeros(len(df), dtype=bool)
    rows = np.flatnonzero(valid)
    if bands:
        low, high = _band_arrays(df, x, x_cols_minimise, bands)
        for members in _split_by_code(codes[rows]):
            picked = rows[members]
            on_front[picked] = _front_banded(low[picked], high[picked], y[picked])
    elif len(x_cols_minimise) == 1:
        on_front[rows] = _front_1d(codes[rows], x[rows, 0], y[rows])
    else:
        for members in _split_by_code(codes[rows]):
            picked = rows[members]
            on_front[picked] = _front_nd(x[picked], y[picked])
    return pd.Series(on_front, index=df.index, name="pareto")


def _band_arrays(df, x: np.ndarray, columns: list[str], bands: dict) -> tuple[np.ndarray, np.ndarray]:
    """Low and high ends of every x (the value itself where a column has no band or a row lacks one)."""
    low, high = x.copy(), x.copy()
    for j, column in enumerate(columns):
        if column in bands:
            lo_col, hi_col = bands[column]
            lo = df[lo_col].to_numpy(dtype=float, na_value=np.nan)
            hi = df[hi_col].to_numpy(dtype=float, na_value=np.nan)
            known = ~(np.isnan(lo) | np.isnan(hi))
            low[known, j], high[known, j] = lo[known], hi[known]
    return low, high


def _front_banded(low: np.ndarray, high: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows no row dominates through the bands (see ``pareto_front``).

    Within-noise ties are not transitive, so a dominated row can have a dominator that is off the front.
    But every dominator a has a minimal row m below it in the plain order of (low, high, -y) (m's low
    and high ends and y are no worse than a's), and m dominates whatever a dominates, strictness
    included. So checking every row against those minimal rows (the plain front of (low, high), y) is
    exact, and that set is small.
    """
    if len(y) == 0:
        return np.zeros(0, dtype=bool)
    minimal = np.flatnonzero(_front_nd(np.hstack([low, high]), y))
    keep = np.ones(len(y), dtype=bool)
    ml, mh, my = low[minimal], high[minimal], y[minimal]
    for start in range(0, len(y), _BLOCK):
        cl, ch, cy = low[start : start + _BLOCK], high[start : start + _BLOCK], y[start : start + _BLOCK]
        no_worse = my[None, :] >= cy[:, None]
        better = my[None, :] > cy[:, None]
        for j in range(low.shape[1]):
            no_worse &= ml[None, :, j] <= ch[:, None, j]
            better |= mh[None, :, j] < cl[:, None, j]
        keep[start : start + _BLOCK] = ~(no_worse & better).any(axis=1)
    return keep


def _group_codes(df: pd.DataFrame, groups: list[str]) -> np.ndarray:
    if not groups:
        return np.zeros(len(df), dtype=np.int64)
    # dropna=False: a missing device model is a group of its own, not a reason to drop rows.
    return df.groupby(groups, dropna=False, sort=False).ngroup().to_numpy(dtype=np.int64)


def _split_by_code(codes: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(codes, kind="stable")
    boundaries = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(order, boundaries)


def _front_1d(codes: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One x: sort by (group, x up, y down); a row is on the front when it has the best y of its x
    and beats the best y seen at any strictly smaller x in its group."""
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((-y, x, codes))
    xs, ys, cs = x[order], y[order], codes[order]
    # Runs of equal (group, x): the first row of each run holds the run's best y.
    run_start = np.r_[True, (cs[1:] != cs[:-1]) | (xs[1:] != xs[:-1])]
    run_id = np.cumsum(run_start) - 1
    run_best, run_group = ys[run_start], cs[run_start]
    # Best y of all runs so far in the group; shifted by one run, it is the best at a strictly smaller x.
    running = pd.Series(run_best).groupby(run_group).cummax().to_numpy()
    same_group = np.r_[False, run_group[1:] == run_group[:-1]]
    best_before = np.where(same_group, np.r_[-np.inf, running[:-1]], -np.inf)
    keep = (ys == run_best[run_id]) & (ys > best_before[run_id])
    result = np.empty_like(keep)
    result[order] = keep
    return result


def _front_nd(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Several x: after sorting by y down (ties: sum of x up) every dominator of a row comes before it,
    and dominance is transitive, so a row is on the front iff no earlier front row or earlier row of
    its own block dominates it."""
    order = np.lexsort((x.sum(axis=1), -y))
    xs, ys = x[order], y[order]
    keep = np.zeros(len(ys), dtype=bool)
    front_x = np.empty((0, x.shape[1]))
    front_y = np.empty(0)
    for start in range(0, len(ys), _BLOCK):
        bx, by = xs[start : start + _BLOCK], ys[start : start + _BLOCK]
        block_keep = ~_dominated(bx, by, front_x, front_y).any(axis=1)
        # Only survivors need checking against each other: a row beaten by a beaten row is beaten
        # by the front too (transitivity), so this square stays small after the first blocks.
        alive = np.flatnonzero(block_keep)
        within = _dominated(bx[alive], by[alive], bx[alive], by[alive])
        within &= np.tri(len(alive), k=-1, dtype=bool)  # only earlier rows count
        block_keep[alive[within.any(axis=1)]] = False
        keep[start : start + _BLOCK] = block_keep
        front_x = np.vstack([front_x, bx[block_keep]])
        front_y = np.concatenate([front_y, by[block_keep]])
    result = np.empty_like(keep)
    result[order] = keep
    return result


def _dominated(cx: np.ndarray, cy: np.ndarray, fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
    """[i, j]: row j of (fx, fy) dominates candidate i of (cx, cy)."""
    # One 2-D comparison per column: reducing a short last axis of a 3-D array is several times slower.
    no_worse = fy[None, :] >= cy[:, None]
    better = fy[None, :] > cy[:, None]
    for j in range(cx.shape[1]):
        no_worse &= fx[None, :, j] <= cx[:, None, j]
        better |= fx[None, :, j] < cx[:, None, j]
    return no_worse & better


def simulated_from_model(device_model: pd.Series) -> pd.Series:
    """Whether each flat row came from an emulator or simulator, from the runners' device-model marker."""
    lowered = device_model.astype("object").fillna("").astype(str).str.strip().str.lower()
    return lowered.str.endswith(SIMULATED_MODEL_MARKERS).rename(SIMULATED_COLUMN)


def latest_per_identity(df: pd.DataFrame, time_col: str = "created_at") -> pd.DataFrame:
    """The newest row of each identity (``results.identity``: model, recipe and settings, target, sustained).

    Args:
        df: Flat records, e.g. ``Store.frame()``; needs ``identity_key`` (or the flat identity columns)
            and ``time_col``.
        time_col: The column that orders rows in time (ISO strings or datetimes).

    Returns:
        One row per identity, in the original row order, original index kept.
    """
    _require_columns(df, [time_col], "time_col")
    key = keys_of_frame(df).reset_index(drop=True)  # positions, so a repeated index label is harmless
    # A stable sort keeps insertion order for equal times, so "newest" means "stored last" then.
    order = df[time_col].reset_index(drop=True).sort_values(kind="stable").index.to_numpy()
    keep = np.zeros(len(df), dtype=bool)
    keep[order[~key.iloc[order].duplicated(keep="last").to_numpy()]] = True
    return df[keep]


def aggregate(
    df: pd.DataFrame,
    by: list[str],
    how: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Summarise records per group: median of medians, worst peak memory, record and ok counts.

    Args:
        df: Flat records, e.g. ``Store.frame()``.
        by: Grouping columns, e.g. ``["variant", "recipe", "delegate"]``.
        how: Column -> pandas reduction name ("median", "max", "mean", ...); defaults to
            :data:`DEFAULT_AGGREGATES` restricted to the columns ``df`` has.

    Returns:
        One row per group with the group columns, ``records``, ``ok`` (records with status ok)
        and one column per aggregated column; missing values are skipped, not propagated.
    """
    if not by:
        raise InputError("by: need at least one column to group by; got none")
    _require_columns(df, by, "by")
    chosen = how if how is not None else {k: v for k, v in DEFAULT_AGGREGATES.items() if k in df.columns}
    _require_columns(df, list(chosen), "how")
    work = df.assign(_ok=df["status"].eq("ok")) if "status" in df.columns else df
    spec: dict[str, tuple[str, str]] = {"records": (by[0], "size")}
    if "status" in df.columns:
        spec["ok"] = ("_ok", "sum")
    spec.update({column: (column, reduction) for column, reduction in chosen.items()})
    return work.groupby(by, dropna=False, sort=True).agg(**spec).reset_index()
