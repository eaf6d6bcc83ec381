"""A plan's ``models:`` through the real pipeline: a SavedModel and .tflite files made from a tiny zoo
detector, evaluated with their label maps, converted where a recipe applies, timed on the host."""

from __future__ import annotations

import pytest
from um_helpers import MODEL_CLASSES, with_label_file

from bench.pipeline import Options, RunStatus, run_benchmark
from bench.pipeline.summary import records_frame
from bench.plans import parse_plan
from results.schema import Status

pytestmark = pytest.mark.slow  # converts and times a tiny detector (about a minute)

PBTXT = "\n".join(f"item {{ id: {i + 1} name: '{n}' }}" for i, n in enumerate(MODEL_CLASSES) if n != "???")


def _plan(split, models: list[dict]) -> dict:
    return {
        "name": "mine",
        "dataset": {"coco": {"train": str(split), "val": str(split)}},
        "models": models,
        "recipes": ["tflite_fp32", "tflite_int8_qat", "coreml_fp16"],
        "export": {"calibration_samples": 2},
        "targets": [
            {"name": "host", "runner": "host", "delegates": ["xnnpack"], "threads": [1]},
            {"name": "mac", "runner": "coreml_mac", "delegates": ["coreml_all"]},
        ],
        "timing": {"warmup_runs": 1, "warmup_min_secs": 0.0, "min_runs": 3, "min_secs": 0.0, "max_secs": 10},
    }


def test_user_models_are_evaluated_converted_timed_and_labelled(split, tiny_user_models, tmp_path):
    pbtxt = tmp_path / "map.pbtxt"
    pbtxt.write_text(PBTXT)
    packed = with_label_file(tiny_user_models["tflite"], tmp_path / "packed.tflite", "\n".join(MODEL_CLASSES))
    models = [
        {"name": "sm", "path": str(tiny_user_models["saved_model"]), "labelmap": str(pbtxt)},
        {"name": "lite", "path": str(tiny_user_models["tflite"])}
        | {"labelmap": str(tiny_user_models["labelmap"])},
        {"name": "packed", "path": str(packed)},  # labels from the model's own metadata
    ]
    options = Options(workdir=tmp_path / "work", store=str(tmp_path / "s.sqlite"), quiet=True)
    outcome = run_benchmark(parse_plan(_plan(split, models)), options)
    assert outcome.status == RunStatus.DONE
    # sm: fp32 converted + timed, qat and coreml unsupported; each .tflite: as given + 3 unsupported.
    assert len(outcome.records) == outcome.expected == 3 + 4 + 4
    by = {(r.model.variant, r.artifact.recipe): r for r in outcome.records}
    assert {v for v, _ in by} == {"user:sm", "user:lite", "user:packed"}

    converted, given = by["user:sm", "tflite_fp32"], by["user:lite", None]
    packed_given = by["user:packed", None]
    for record in (converted, given, packed_given):
        assert record.status is Status.OK and record.timing.median_ms > 0
        assert record.model.input_size == 96
    # One model, three routes (converted from the SavedModel, the .tflite with labelmap.txt, the packed
    # labels): the same detections through the same class mapping give the same accuracy.
    assert given.accuracy.map > 0
    assert converted.accuracy.map == pytest.approx(given.accuracy.map, abs=1e-3)
    assert packed_given.accuracy.map == given.accuracy.map
    assert records_frame([given])["variant"].tolist() == ["user:lite"]  # no "@96xNone" for a user's file
    assert converted.model.params > 0
    # The SavedModel's signature converts to the very bytes the zoo's own export of that model gives.
    assert converted.artifact.sha256 == given.artifact.sha256 and given.artifact.path.endswith("fp32.tflite")

    reasons = {(r.model.variant, r.artifact.recipe): r.error.message for r in outcome.records if r.error}
    assert "zoo's training loop" in reasons["user:sm", "tflite_int8_qat"]
    assert "anchors" in reasons["user:sm", "coreml_fp16"]
    assert "benchmarked as given" in reasons["user:lite", "tflite_fp32"]
    assert all(by[key].status is Status.UNSUPPORTED for key in reasons)

    again = run_benchmark(parse_plan(_plan(split, models)), options)
    assert again.status == RunStatus.NOTHING_CHANGED and again.run_id == outcome.run_id


def test_a_keras_model_of_a_zoo_architecture_takes_the_tflite_and_core_ml_recipes(
    split, tiny_user_models, tmp_path
):
    entry = {"name": "k", "path": str(tiny_user_models["keras"]), "architecture": "tiny_ssdlite_mobilenet_v2"}
    plan = _plan(split, [entry | {"labelmap": str(tiny_user_models["labelmap"])}])
    plan["recipes"] = ["tflite_fp32", "coreml_fp16"]
    options = Options(workdir=tmp_path / "work", store=str(tmp_path / "s.sqlite"), quiet=True)
    outcome = run_benchmark(parse_plan(plan), options)
    by = {r.artifact.recipe: r for r in outcome.records}
    assert set(by) == {"tflite_fp32", "coreml_fp16"} and len(outcome.records) == 2
    lite, coreml = by["tflite_fp32"], by["coreml_fp16"]
    assert lite.status is Status.OK and lite.accuracy.map > 0
    assert lite.model.variant == "user:k" and lite.model.madds > 0 and lite.model.num_classes == 5
    # Converted by the zoo's Core ML path; only timing it needs a Mac.
    assert coreml.status is Status.UNSUPPORTED and coreml.artifact.size_bytes > 0
    assert "macOS" in coreml.error.message
