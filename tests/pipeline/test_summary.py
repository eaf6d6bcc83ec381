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
