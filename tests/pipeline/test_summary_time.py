"""The summary says how long the run took, per stage, and how each variant was trained (issue 19)."""

from __future__ import annotations

from bench.pipeline import Outcome, RunStatus
from bench.pipeline.run import training_of
from bench.pipeline.summary import time_lines
from results.schema import ArtifactInfo, ModelInfo, RunRecord, Status, TargetInfo, Timing, TrainingInfo


def _record(variant: str, recipe: str, training: TrainingInfo | None) -> RunRecord:
    return RunRecord(
        run_id="r",
        model=ModelInfo(variant=variant, input_size=256, width_multiplier=0.5, training=training),
        artifact=ArtifactInfo(recipe=recipe, path=f"{recipe}.tflite", sha256="ab", size_bytes=1),
        target=TargetInfo(runner="host", delegate="cpu", threads=1),
        timing=Timing(samples_ms=[1.0]),
        status=Status.OK,
    )


def test_time_lines_give_stages_and_training_and_flag_a_capped_run():
    done = TrainingInfo(steps=850, planned_steps=850, seconds=241.0, seed=0, weights_sha256="aa")
    capped = TrainingInfo(steps=500, planned_steps=860, seconds=240.0, stopped_by="time")
    records = [
        _record("ssdlite_mobilenet_v2", "tflite_fp32", done),
        _record("ssdlite_mobilenet_v2", "tflite_int8", done),  # one line per variant, not per record
        _record("ssdlite_mobiledet_cpu", "tflite_fp32", capped),
        _record("user:mine", None, None),  # a user's file: no training
    ]
    outcome = Outcome("r", RunStatus.DONE, records=records, seconds=1260.0)
    outcome.stage_seconds = {"train": 900.0, "export": 240.0, "time": 120.0}
    lines = time_lines(outcome)
    assert lines[0] == "took 21.0 min (train 15.0 min, export 4.0 min, time 2.0 min)"
    assert lines[1] == (
        "training: ssdlite_mobilenet_v2@256x0.5 850 steps in 4.0 min; "
        "ssdlite_mobiledet_cpu@256x0.5 500 steps in 4.0 min (of 860: stopped by max_minutes)"
    )
    assert lines[2].startswith("not reproducible: max_minutes stopped the training of ssdlite_mobiledet_cpu")
    assert set(training_of(records)) == {"ssdlite_mobilenet_v2@256x0.5", "ssdlite_mobiledet_cpu@256x0.5"}
    assert training_of(records)["ssdlite_mobilenet_v2@256x0.5"]["weights_sha256"] == "aa"


def test_nothing_changed_still_names_the_training():
    records = [_record("v", "tflite_fp32", TrainingInfo(steps=6, planned_steps=6, seconds=3.0))]
    lines = time_lines(Outcome("r", RunStatus.NOTHING_CHANGED, records=records))
    assert lines == ["training: v@256x0.5 6 steps in 0.1 min"]


def test_stage_minutes_of_builds_side_by_side_say_they_add_up():
    outcome = Outcome("r", RunStatus.DONE, seconds=600.0, builders=3)
    outcome.stage_seconds = {"train": 1200.0, "time": 60.0}
    assert time_lines(outcome) == [
        "took 10.0 min (train 20.0 min, time 1.0 min; train, export and evaluate summed over up to 3 "
        "build processes side by side)"
    ]
