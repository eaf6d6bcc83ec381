"""Simulated records (Android emulator, iOS Simulator) are kept apart from phones; the paper plan's iPhone.

Never on a phone's Pareto front (results.analysis, the dashboard's points, the run summary) and never
paired with a phone's baseline by ``compare`` (results.regression).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.pipeline.summary import records_frame
from dashboard import aggregate as agg
from dashboard.data import add_labels
from results.analysis import pareto_front
from results.checks import parse_checks
from results.regression import compare_runs
from results.schema import (
    AccuracyInfo,
    ArtifactInfo,
    Delegate,
    ModelInfo,
    RunRecord,
    Status,
    TargetInfo,
    Timing,
)


def flat(**values) -> dict:
    base = {
        "record_id": "r", "run_id": "run-1", "created_at": "2025-01-01T00:00:00", "variant": "v1",
        "recipe": "fp32", "format": "tflite", "sha256": "a", "size_bytes": 4_000_000, "runner": "adb",
        "device_id": "p7", "device_model": "Google Pixel 7", "delegate": "xnnpack", "threads": 4,
        "status": "ok", "fallback": False, "median_ms": 10.0, "p90_ms": 12.0, "dataset_id": "coco",
        "map": 0.2, "ar100": 0.3,
    }  # fmt: skip
    return {**base, **values}


def test_a_faster_simulator_row_never_knocks_a_phone_off_its_front() -> None:
    df = pd.DataFrame({"median_ms": [10.0, 1.0], "map": [0.2, 0.3], "simulated": [False, True]})
    assert pareto_front(df, ["median_ms"], "map").tolist() == [True, True]
    assert pareto_front(df.drop(columns="simulated"), ["median_ms"], "map").tolist() == [False, True]


def test_dashboard_points_keep_emulator_and_simulator_records_apart() -> None:
    df = add_labels(
        pd.DataFrame(
            [
                flat(record_id="phone", sha256="a", median_ms=10.0),
                flat(record_id="phone-b", sha256="b", median_ms=12.0, map=0.19),
                # The same label would put these in the phone's group; the flag keeps them out.
                flat(
                    record_id="emu",
                    sha256="c",
                    device_model="Google Pixel 7 (emulator)",
                    median_ms=2.0,
                    map=0.3,
                ),
                flat(
                    record_id="sim",
                    sha256="d",
                    runner="ios",
                    device_id="7D3F",
                    median_ms=1.0,
                    device_model="iPhone 15 (Simulator)",
                    map=0.4,
                ),  # fmt: skip
            ]
        )
    )
    assert df.set_index("record_id")["simulated"].to_dict() == {
        "phone": False, "phone-b": False, "emu": True, "sim": True
    }  # fmt: skip
    points = agg.latency_points(df, df, "coco", "map").set_index("record_id")
    assert points.loc["phone", "pareto"] and not points.loc["phone-b", "pareto"]
    assert points.loc["emu", "pareto"] and points.loc["sim", "pareto"]


def record(run: str, simulated: bool, median: float, device: str = "emulator-5554") -> RunRecord:
    return RunRecord(
        run_id=run,
        model=ModelInfo(variant="ssdlite", input_size=320),
        artifact=ArtifactInfo(recipe="tflite_int8", path="m.tflite", sha256="a" * 64, size_bytes=1000),
        target=TargetInfo(
            runner="adb", device_id=device, delegate=Delegate.XNNPACK, threads=4, simulated=simulated
        ),
        timing=Timing(samples_ms=[median, median * 1.01, median * 0.99]),
        accuracy=AccuracyInfo(
            dataset_id="coco",
            map=0.2,
            map50=0.3,
            map75=0.2,
            map_small=0.1,
            map_medium=0.2,
            map_large=0.3,
            ar1=0.2,
            ar10=0.3,
            ar100=0.3,
        ),  # fmt: skip
        status=Status.OK,
    )


def test_compare_never_pairs_a_simulated_record_with_a_phone_baseline() -> None:
    checks = parse_checks("median:5%")
    result = compare_runs(
        [record("base", False, 10.0)], [record("cand", True, 2.0)], checks, allow_missing=True
    )
    verdicts = sorted(target.verdict for target in result.targets)
    assert verdicts == ["missing", "new"]  # two targets, no pairing, so no "faster" either
    assert any("(simulated)" in target.label for target in result.targets)
    paired = compare_runs([record("base", True, 10.0)], [record("cand", True, 10.0)], checks)
    assert [target.verdict for target in paired.targets] == ["ok"]  # simulator against simulator is fine


def test_run_summary_front_and_target_column_keep_simulated_apart() -> None:
    frame = records_frame([record("r", False, 10.0, "p7"), record("r", True, 2.0, "p7")])
    assert frame["pareto"].tolist() == [True, True]
    assert sorted(frame["target"]) == ["adb:p7", "adb:p7 (simulated)"]


def test_paper_plan_lists_an_iphone_on_every_ios_delegate() -> None:
    import yaml

    from device_runners.targets import parse_target

    plan = yaml.safe_load((Path(__file__).parents[2] / "bench" / "plans" / "paper.yaml").read_text())
    (iphone,) = [parse_target(t) for t in plan["targets"] if t["runner"] == "ios"]
    assert set(iphone.delegates) == {Delegate.CPU, Delegate.XNNPACK, Delegate.GPU, Delegate.COREML_DELEGATE}
    assert iphone.sustained is None  # the app has no fixed-rate runs
