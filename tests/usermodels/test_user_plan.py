"""A plan's ``models:`` section: validation errors name the entry; which recipes apply to which kind."""

from __future__ import annotations

import json

import pytest

from bench.plans import parse_plan
from common.errors import InputError


def _plan(split, models: list[dict]) -> dict:
    return {
        "name": "mine",
        "dataset": {"coco": {"train": str(split), "val": str(split)}},
        "models": models,
        "recipes": ["tflite_fp32"],
        "targets": [{"name": "host", "runner": "host"}],
    }


def test_plan_errors_name_the_model_entry(split, tmp_path):
    keras_file, tflite = tmp_path / "model.keras", tmp_path / "model.tflite"
    keras_file.write_bytes(b"")
    tflite.write_bytes(b"")
    cases = [
        ({"name": "x", "path": str(tmp_path / "missing.tflite")}, r"models\[0\]\.path: .*model not found"),
        ({"name": "x", "path": str(keras_file)}, r"models\[0\]\.architecture: a Keras file needs"),
        ({"name": "x", "path": str(tflite), "outputs": {"boxes": "a"}}, "all four"),
    ]
    for entry, message in cases:
        with pytest.raises(InputError, match=message):
            parse_plan(_plan(split, [entry]))
    with pytest.raises(InputError, match="at least one of variants, models"):
        parse_plan(_plan(split, []))


def test_dry_run_lists_every_record_and_no_recipe_is_skipped(split, tmp_path):
    from bench.pipeline import Options, RunStatus, run_benchmark

    tflite, saved = tmp_path / "mine.tflite", tmp_path / "saved"
    tflite.write_bytes(b"not read in a dry run")
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    plan = _plan(split, [{"name": "lite", "path": str(tflite)}, {"name": "sm", "path": str(saved)}])
    plan["recipes"] = ["tflite_fp32", "tflite_int8_qat", "coreml_fp16"]
    plan["targets"] = [
        {"name": "host", "runner": "host", "delegates": ["xnnpack"], "threads": [1]},
        {"name": "mac", "runner": "coreml_mac", "delegates": ["coreml_all"]},
    ]
    options = Options(workdir=tmp_path / "work", store=str(tmp_path / "s.sqlite"), dry_run=True, quiet=True)
    outcome = run_benchmark(parse_plan(plan), options)
    assert outcome.status == RunStatus.DRY_RUN
    times = {item.label: item.status for item in outcome.items if item.stage == "time"}
    assert outcome.expected == len(times) == 4 + 3
    # What can be known without loading anything is ready to store: the unsupported recipes.
    assert times["user:lite tflite_fp32 on host xnnpack x1"] == "to store"
    assert times["user:sm tflite_int8_qat on host xnnpack x1"] == "to store"
    assert times["user:sm coreml_fp16 on mac coreml_all x1"] == "to store"
    assert times["user:lite as_given on host xnnpack x1"] == "pending"
    assert times["user:sm tflite_fp32 on host xnnpack x1"] == "pending"


def test_an_mlpackage_off_macos_is_stored_as_unsupported_with_reasons(split, tmp_path):
    from bench.pipeline import Options, RunStatus, run_benchmark
    from bench.pipeline.summary import records_frame, summary_table

    package = tmp_path / "Detector.mlpackage"
    (package / "Data").mkdir(parents=True)
    (package / "Manifest.json").write_text("{}")
    plan = _plan(split, [{"name": "ml", "path": str(package)}])
    plan["recipes"] = ["tflite_fp32", "coreml_fp16"]
    plan["targets"].append({"name": "mac", "runner": "coreml_mac", "delegates": ["coreml_all"]})
    options = Options(workdir=tmp_path / "work", store=str(tmp_path / "s.sqlite"), quiet=True)
    outcome = run_benchmark(parse_plan(plan), options)
    assert outcome.status == RunStatus.DONE and len(outcome.records) == outcome.expected
    by = {(r.artifact.recipe, r.target.runner): r for r in outcome.records}
    given = by[None, "coreml_mac"]
    assert given.model.variant == "user:ml" and given.artifact.size_bytes > 0
    assert "macOS" in given.error.message
    assert "benchmarked as given" in by["coreml_fp16", "coreml_mac"].error.message
    assert {r.status.value for r in outcome.records} == {"unsupported"}
    frame = records_frame(outcome.records)
    assert "as given" in set(frame["recipe"]) and summary_table(frame, "t").row_count == len(frame)


def test_a_model_that_does_not_load_is_stored_as_failed_records_naming_the_load(split, tmp_path):
    from bench.pipeline import Options, RunStatus, run_benchmark
    from bench.pipeline.entries import Failure, parse_entry

    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer")
    options = Options(workdir=tmp_path / "work", store=str(tmp_path / "s.sqlite"), quiet=True)
    plan = _plan(split, [{"name": "bad", "path": str(broken)}])
    plan["targets"] = [{"name": "host", "runner": "host", "delegates": ["xnnpack"], "threads": [1]}]
    outcome = run_benchmark(parse_plan(plan), options)
    assert outcome.status == RunStatus.DONE and len(outcome.records) == outcome.expected == 2
    by = {r.artifact.recipe: r for r in outcome.records}
    assert by[None].status.value == "failed" and by[None].model.variant == "user:bad"
    assert by[None].error.message.startswith("load failed: ") and "broken.tflite" in by[None].error.message
    assert by["tflite_fp32"].status.value == "unsupported"  # its reason holds, loaded or not
    # The failure is cached typed, as the zoo's stages cache theirs.
    files = (tmp_path / "work" / "cache" / "train").glob("*.json")
    cached = [parse_entry("train", json.loads(path.read_text())) for path in files]
    assert [c.stage for c in cached if isinstance(c, Failure)] == ["load"]
