"""Typed stage results: each kind survives the JSON cache; an entry of an older layout is a miss."""

from __future__ import annotations

import pytest

from bench.pipeline.context import ItemStatus
from bench.pipeline.entries import Evaluated, Exported, Failure, NotEvaluated, Trained, parse_entry
from results.schema import AccuracyInfo, ArtifactFormat, ArtifactInfo, ModelInfo

TRAINED = Trained(
    weights="w.h5",
    weights_sha256="ab" * 32,
    steps=3,
    seconds=1.5,
    final_loss=0.7,
    stopped_by="steps",
    model=ModelInfo(variant="tiny", params=10),
)
EXPORTED = Exported(
    sidecar="m.artifact.json",
    artifact=ArtifactInfo(
        recipe="tflite_fp32", format=ArtifactFormat.TFLITE, path="m.tflite", sha256="c" * 64, size_bytes=9
    ),
    tools={"tensorflow": "2.21.0", "coremltools": None},
)

METRICS = ("map", "map50", "map75", "map_small", "map_medium", "map_large", "ar1", "ar10", "ar100")
ACCURACY = AccuracyInfo(dataset_id="d", **dict.fromkeys(METRICS, 0.25))


@pytest.mark.parametrize(
    ("stage", "entry"),
    [
        ("train", TRAINED),
        ("train", Failure(stage="train", type="TrainingError", message="loss diverged")),
        ("export", EXPORTED),
        ("evaluate", Evaluated(accuracy=ACCURACY, inference_s=2.0)),
        ("evaluate", NotEvaluated(reason="Core ML prediction needs macOS")),
    ],
)
def test_each_entry_round_trips_through_json(stage, entry):
    assert parse_entry(stage, entry.model_dump(mode="json")) == entry


def test_an_older_layout_or_another_stages_entry_is_a_miss():
    assert parse_entry("train", {"failed": {"type": "X", "message": "m"}}) is None  # the dict layout
    assert parse_entry("evaluate", {"unsupported": "needs macOS"}) is None
    assert parse_entry("evaluate", TRAINED.model_dump(mode="json")) is None


def test_failure_of_keeps_one_short_line():
    failure = Failure.of("export", ValueError("refused\n  " + "x" * 3000))
    assert failure.type == "ValueError" and failure.stage == "export"
    assert "\n" not in failure.message and len(failure.message) == 2000
    assert Failure.of("train", RuntimeError()).message == "RuntimeError"


def test_item_statuses_are_their_strings():
    assert ItemStatus.TO_STORE == "to store" and f"{ItemStatus.CACHED}" == "cached"
    assert ItemStatus("crashed") is ItemStatus.CRASHED
