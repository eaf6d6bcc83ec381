"""The pure transforms behind the charts: accuracy joins, Pareto flags, bar selection, labels."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard import aggregate as agg
from dashboard.data import add_labels


def row(**values) -> dict:
    base = {
        "record_id": "r", "run_id": "run-1", "created_at": "2025-01-01T00:00:00", "variant": "v1",
        "recipe": "fp32", "format": "tflite", "sha256": "a", "size_bytes": 4_000_000, "runner": "adb",
        "device_id": "p7", "device_model": "Pixel 7", "delegate": "cpu", "threads": 4, "status": "ok",
        "fallback": False, "median_ms": 10.0, "p90_ms": 12.0, "dataset_id": "coco", "map": 0.2, "ar100": 0.3,
    }  # fmt: skip
    return {**base, **values}


def frame(*rows: dict) -> pd.DataFrame:
    return add_labels(pd.DataFrame(list(rows)))


def test_latency_takes_accuracy_measured_on_the_same_file_elsewhere():
    df = frame(
        row(
            record_id="timed",
            delegate="gpu",
            map=None,
            ar100=None,
            dataset_id=None,
            median_ms=3.0,
            p90_ms=4.0,
        ),
        row(record_id="evaluated", delegate="cpu"),
    )
    points = agg.latency_points(df, df, "coco", "map")
    gpu = points[points["delegate"].eq("gpu")].iloc[0]
    assert gpu["map"] == pytest.approx(0.2)
    assert gpu["median_ms"] == 3.0


def test_accuracy_of_another_dataset_is_never_mixed_in():
    df = frame(
        row(record_id="a", dataset_id="coco", map=0.2), row(record_id="b", dataset_id="shapes", map=0.9)
    )
    points = agg.latency_points(df, df, "coco", "map")
    assert points["map"].tolist() == [pytest.approx(0.2)]
    assert agg.latency_points(df, df, None, "map").empty


def test_repeated_measurements_become_one_point_with_median_latency():
    df = frame(
        *(row(record_id=f"r{i}", run_id=f"run-{i}", median_ms=ms) for i, ms in enumerate([10.0, 30.0, 11.0]))
    )
    points = agg.latency_points(df, df, "coco", "map")
    assert len(points) == 1
    assert points["median_ms"].iloc[0] == 11.0
    assert points["records"].iloc[0] == 3
    assert points["record_id"].iloc[0] == "r2"  # the latest record, for the hover


def test_failed_records_are_not_plotted():
    df = frame(
        row(record_id="ok"), row(record_id="bad", sha256="b", status="crashed", median_ms=None, p90_ms=None)
    )
    assert agg.latency_points(df, df, "coco", "map")["record_id"].tolist() == ["ok"]
    assert agg.status_counts(df) == {"ok": 1, "crashed": 1}


def test_pareto_front_is_per_device_and_delegate():
    df = frame(
        row(record_id="fast-bad", sha256="a", map=0.1, median_ms=5.0),
        row(record_id="slow-good", sha256="b", map=0.3, median_ms=50.0),
        row(record_id="dominated", sha256="c", map=0.05, median_ms=60.0),
        # On the GPU the dominated file is the only point, so it is on that front.
        row(record_id="gpu", sha256="c", map=0.05, median_ms=1.0, delegate="gpu"),
    )
    points = agg.latency_points(df, df, "coco", "map").set_index(["sha256", "delegate"])
    assert points.loc[("a", "cpu"), "pareto"] and points.loc[("b", "cpu"), "pareto"]
    assert not points.loc[("c", "cpu"), "pareto"]
    assert points.loc[("c", "gpu"), "pareto"]


def test_size_points_one_per_artifact():
    df = frame(
        row(record_id="x", delegate="cpu"),
        row(record_id="y", delegate="gpu"),
        row(sha256="b", size_bytes=1e6),
    )
    sizes = agg.size_points(df, "coco", "map")
    assert sorted(sizes["size_mb"]) == [1.0, 4.0]
    # Equal accuracy: the smaller file dominates the larger one.
    assert sizes.set_index("sha256")["pareto"].to_dict() == {"a": False, "b": True}


def test_device_bars_fastest_thread_count_per_bar():
    df = frame(row(threads=1, median_ms=30.0, p90_ms=33.0), row(threads=4, median_ms=10.0, p90_ms=14.0))
    bars = agg.device_bars(df, threads=None)
    assert bars[["threads", "median_ms", "p90_ms"]].values.tolist() == [[4, 10.0, 14.0]]
    assert agg.device_bars(df, threads=1)["median_ms"].tolist() == [30.0]


def test_device_bars_delegates_in_reading_order():
    df = frame(*(row(delegate=d) for d in ["nnapi", "gpu", "cpu", "xnnpack"]))
    assert agg.device_bars(df, None)["delegate"].tolist() == ["cpu", "xnnpack", "gpu", "nnapi"]


def test_labels_tell_two_devices_of_one_model_apart():
    df = frame(
        row(device_id="A"), row(device_id="B"), row(runner="host", device_id="local", device_model=None)
    )
    assert df["device"].tolist() == ["Pixel 7 · A", "Pixel 7 · B", "local"]
    assert df["model"].iloc[0] == "v1 · fp32"
    assert math.isclose(df["size_mb"].iloc[0], 4.0)


def test_most_common():
    assert agg.most_common(pd.Series(["a", "b", "b", None])) == "b"
    assert agg.most_common(pd.Series([], dtype=object)) is None
