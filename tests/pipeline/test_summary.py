"""The final summary: one row per record, Pareto-optimal rows marked per target and delegate."""

from __future__ import annotations

import io

from rich.console import Console

from bench.pipeline import Outcome, RunStatus
from bench.pipeline.summary import print_summary, records_frame
from results.schema import (
    AccuracyInfo,
    ArtifactInfo,
    ErrorInfo,
    ModelInfo,
    RunRecord,
    Status,
    TargetInfo,
    Timing,
)


def _record(
    recipe: str, ms: float, size: int, map_: float, delegate: str = "cpu", status=Status.OK
) -> RunRecord:
    metrics = dict.fromkeys(AccuracyInfo.model_fields, 0.1) | {
        "dataset_id": "d",
        "num_images": 2,
        "map": map_,
        "share": None,
    }
    return RunRecord(
        run_id="r",
        model=ModelInfo(variant="v", input_size=96, width_multiplier=0.25),
        artifact=ArtifactInfo(recipe=recipe, path=f"{recipe}.tflite", sha256="ab", size_bytes=size),
        target=TargetInfo(runner="host", delegate=delegate, threads=1),
        timing=Timing(samples_ms=[ms]) if status is Status.OK else None,
        accuracy=AccuracyInfo(**metrics),
        status=status,
        error=None if status is Status.OK else ErrorInfo(type="ConversionError", message="refused"),
    )


def test_pareto_rows_are_marked_within_each_delegate():
    records = [
        _record("fp32", 10.0, 4_000_000, 0.30),
        _record("int8", 4.0, 1_000_000, 0.28),  # faster and smaller: on the front
        _record("fp16", 10.0, 2_000_000, 0.30),  # as accurate as fp32, smaller: fp32 is dominated
        _record("slow", 12.0, 3_000_000, 0.20),  # dominated by int8
        _record("fp32", 30.0, 4_000_000, 0.30, delegate="xnnpack"),  # alone in its group: on the front
        _record("bad", 1.0, 1, 0.9, status=Status.FAILED),  # failed rows never are
    ]
    frame = records_frame(records)
    marked = {(row.recipe, row.delegate) for row in frame.itertuples() if row.pareto}
    assert marked == {("int8", "cpu"), ("fp16", "cpu"), ("fp32", "xnnpack")}
    assert frame.loc[frame.recipe == "bad", "median_ms"].isna().all()


def test_summary_names_the_run_the_counts_and_the_dashboard():
    records = [_record("fp32", 10.0, 4_000_000, 0.3), _record("bad", 1.0, 1, 0.9, status=Status.FAILED)]
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    print_summary(console, Outcome("run-1", RunStatus.DONE, records=records, store_url="sqlite:///x"))
    text = buffer.getvalue()
    assert "run run-1: 2 records (done)" in text
    assert "failed: refused" in text and "records: 1 failed, 1 ok" in text
    assert "make dashboard" in text and "edgebench records --run run-1" in text


def _rounds(recipe: str, medians: list[float], size: int, map_: float) -> RunRecord:
    """A record of 5 interleaved rounds of 4 samples around each given round median."""
    samples = [m + d for m in medians for d in (-0.01, 0.0, 0.0, 0.01)]
    record = _record(recipe, 1.0, size, map_)
    return record.model_copy(update={"timing": Timing(samples_ms=samples, round_sizes=[4] * len(medians))})


def test_a_latency_difference_within_noise_is_no_claim_and_no_pareto_mark():
    records = [
        _rounds("tflite_fp32", [1.20, 1.25, 1.60, 1.22, 1.24], 4_000_000, 0.30),
        # Median 1.3 ms against fp32's 1.24 ms, but inside fp32's rounds (1.20-1.60): same speed.
        _rounds("tflite_int8", [1.28, 1.30, 1.35, 1.29, 1.31], 1_000_000, 0.30),
        # Clearly faster than fp32 (its slowest round beats fp32's fastest), bigger than int8.
        _rounds("tflite_fp16", [0.90, 0.95, 0.92, 0.91, 0.93], 2_000_000, 0.30),
    ]
    frame = records_frame(records).set_index("recipe")
    assert frame.loc["tflite_int8", "vs_fp32"].endswith("same within noise")
    assert frame.loc["tflite_fp16", "vs_fp32"].endswith("faster")
    # fp32's lower median does not put it on the front: int8 is as accurate, smaller, and tied on speed.
    assert not frame.loc["tflite_fp32", "pareto"]
    assert frame.loc["tflite_int8", "pareto"] and frame.loc["tflite_fp16", "pareto"]


def test_without_bands_the_faster_file_would_have_been_marked():
    # The same medians with one window each (zero-width bands from one sample): fp32 is then faster
    # than int8 and on the front, which is the claim the noise band withholds above.
    records = [
        _record("tflite_fp32", 1.24, 4_000_000, 0.30),
        _record("tflite_int8", 1.30, 1_000_000, 0.30),
    ]
    frame = records_frame(records).set_index("recipe")
    assert frame.loc["tflite_fp32", "pareto"] and frame.loc["tflite_int8", "vs_fp32"].endswith("slower")


def test_the_summary_prints_the_noise_band_and_the_claim():
    records = [
        _rounds("tflite_fp32", [1.20, 1.25, 1.60, 1.22, 1.24], 4_000_000, 0.30),
        _rounds("tflite_int8", [1.28, 1.30, 1.35, 1.29, 1.31], 1_000_000, 0.30),
    ]
    buffer = io.StringIO()
    console = Console(file=buffer, width=250, color_system=None)
    print_summary(console, Outcome("run-1", RunStatus.DONE, records=records, store_url="sqlite:///x"))
    text = buffer.getvalue()
    assert "same within noise" in text and "1.240 ±29%" in text and "noise bands overlap" in text
