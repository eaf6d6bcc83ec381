"""Pareto fronts (against a brute-force definition), newest record per identity, aggregates."""

import time

import numpy as np
import pandas as pd
import pytest

from common.errors import InputError
from results.analysis import aggregate, latest_per_identity, pareto_front
from results.schema import AccuracyInfo, ArtifactInfo, ModelInfo, RunRecord, TargetInfo, Timing
from results.store import Store


def brute_force_front(df, xs, y, group_by=None):
    """The definition, O(n^2): no other row is <= on every x, >= on y, and strictly better on one."""
    out = pd.Series(False, index=df.index)
    groups = [df] if not group_by else [part for _, part in df.groupby(group_by, dropna=False)]
    for part in groups:
        part = part.dropna(subset=[*xs, y])
        x, v = part[xs].to_numpy(float), part[y].to_numpy(float)
        for i, index in enumerate(part.index):
            no_worse = (x <= x[i]).all(axis=1) & (v >= v[i])
            better = (x < x[i]).any(axis=1) | (v > v[i])
            out[index] = not (no_worse & better).any()
    return out


@pytest.mark.parametrize("xs", [["latency"], ["latency", "size"], ["latency", "size", "memory"]])
@pytest.mark.parametrize("group_by", [None, ["device"]])
def test_front_matches_the_definition_with_ties_and_missing_values(xs, group_by):
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(0, 40))
        # Small integer ranges force ties in x, in y and whole duplicate rows.
        df = pd.DataFrame(
            {c: rng.integers(0, 5, n).astype(float) for c in ["latency", "size", "memory", "map"]}
        )
        df["device"] = rng.choice(["pixel", "mac", None], n)
        df.loc[rng.random(n) < 0.1, "latency"] = np.nan
        df.index = rng.permutation(n) * 10  # a non-default index must be kept
        got = pareto_front(df, xs, "map", group_by)
        assert got.index.equals(df.index) and got.dtype == bool
        pd.testing.assert_series_equal(got, brute_force_front(df, xs, "map", group_by), check_names=False)


def test_small_front_by_hand():
    df = pd.DataFrame(
        {
            "median_ms": [1.0, 2.0, 2.0, 3.0, 3.0, 1.0, np.nan],
            "map": [0.20, 0.30, 0.25, 0.30, 0.40, 0.20, 0.90],
        }
    )
    # Row 2 loses to row 1, row 3 to row 1, row 6 has no latency; rows 0 and 5 are identical: both stay.
    assert pareto_front(df, ["median_ms"], "map").tolist() == [True, True, False, False, True, True, False]


def test_front_of_100k_rows_is_fast():
    rng = np.random.default_rng(0)
    n = 100_000
    df = pd.DataFrame(
        {
            "median_ms": rng.lognormal(1, 0.5, n),
            "size_bytes": rng.lognormal(13, 1, n),
            "map": rng.random(n),
            "device_id": rng.choice([f"d{i}" for i in range(20)], n),
        }
    )
    start = time.perf_counter()
    one = pareto_front(df, ["median_ms"], "map", ["device_id"])
    two = pareto_front(df, ["median_ms", "size_bytes"], "map", ["device_id"])
    elapsed = time.perf_counter() - start
    assert 0 < one.sum() < two.sum() < 2000
    assert elapsed < 3.0, f"{elapsed:.2f} s for two fronts of 100,000 rows"  # ~0.15 s here


def test_bad_columns_are_input_errors():
    df = pd.DataFrame({"median_ms": [1.0], "map": [0.2]})
    with pytest.raises(InputError, match="'size_bytes'"):
        pareto_front(df, ["size_bytes"], "map")
    with pytest.raises(InputError, match="x_cols_minimise"):
        pareto_front(df, [], "map")
    with pytest.raises(InputError, match="group_by"):
        pareto_front(df, ["median_ms"], "map", ["device"])


def frame(rows):
    base = {"recipe": "int8", "runner": "host", "device_id": "local", "delegate": "cpu", "threads": 1}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_latest_per_identity_keeps_the_newest_row_of_each_target():
    df = frame(
        [
            {"variant": "a", "created_at": "2026-01-02T00:00:00", "median_ms": 2.0},
            {"variant": "a", "created_at": "2026-01-03T00:00:00", "median_ms": 3.0},
            {"variant": "a", "created_at": "2026-01-01T00:00:00", "median_ms": 1.0},
            {"variant": "a", "delegate": "xnnpack", "created_at": "2026-01-01T00:00:00", "median_ms": 0.5},
            {
                "variant": None,
                "artifact_path": "x.tflite",
                "created_at": "2026-01-01T00:00:00",
                "median_ms": 9.0,
            },
            {
                "variant": None,
                "artifact_path": "y.tflite",
                "created_at": "2026-01-01T00:00:00",
                "median_ms": 8.0,
            },
        ]
    )
    latest = latest_per_identity(df)
    assert latest.index.tolist() == [1, 3, 4, 5]  # user files are told apart by their path
    df.index = [7] * len(df)  # e.g. after a concat: labels repeat, the answer must not change
    assert latest_per_identity(df)["median_ms"].tolist() == [3.0, 0.5, 9.0, 8.0]


def test_aggregate_takes_median_of_medians_and_counts():
    df = frame(
        [
            {"variant": "a", "status": "ok", "median_ms": 1.0, "peak_memory_mb": 10.0},
            {"variant": "a", "status": "ok", "median_ms": 3.0, "peak_memory_mb": 30.0},
            {"variant": "a", "status": "ok", "median_ms": 100.0, "peak_memory_mb": 20.0},
            {"variant": "a", "status": "crashed", "median_ms": None, "peak_memory_mb": None},
            {"variant": "b", "status": "ok", "median_ms": 5.0, "peak_memory_mb": 5.0},
        ]
    )
    out = aggregate(df, by=["variant"])
    assert out.columns.tolist() == ["variant", "records", "ok", "median_ms", "peak_memory_mb"]
    row = out.set_index("variant").loc["a"]
    assert (row["records"], row["ok"], row["median_ms"], row["peak_memory_mb"]) == (4, 3, 3.0, 30.0)
    custom = aggregate(df, by=["variant", "delegate"], how={"median_ms": "min"})
    assert custom["median_ms"].tolist() == [1.0, 5.0]
    with pytest.raises(InputError, match="by"):
        aggregate(df, by=[])


def test_works_on_a_real_store_frame(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    for i, (latency, map_) in enumerate([(2.0, 0.30), (1.0, 0.20), (3.0, 0.25), (4.0, None)]):
        zeros = dict.fromkeys(
            ["map50", "map75", "map_small", "map_medium", "map_large", "ar1", "ar10", "ar100"], 0
        )
        accuracy = None if map_ is None else AccuracyInfo(dataset_id="d", map=map_, **zeros)
        store.add(
            RunRecord(
                run_id="r",
                model=ModelInfo(variant=f"v{i}"),
                artifact=ArtifactInfo(path=f"v{i}.tflite", sha256="0" * 64, size_bytes=1000 * (i + 1)),
                target=TargetInfo(runner="host", delegate="cpu", threads=1),
                timing=Timing(samples_ms=[latency] * 3),
                accuracy=accuracy,
                status="ok",
            )
        )
    df = store.frame()
    assert pareto_front(df, ["median_ms"], "map").tolist() == [True, True, False, False]
    assert len(latest_per_identity(df)) == 4
    assert aggregate(df, by=["runner"])["median_ms"].tolist() == [2.5]
