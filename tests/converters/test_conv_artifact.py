"""Artifacts on disk: atomic writes, sidecar last, stale sidecars removed, metadata fallback."""

from __future__ import annotations

import dataclasses

import pytest
from tiny_zoo import fast_recipe

from common.errors import InputError
from converters import convert, load_artifact
from converters.tflite import ConversionError


def test_loaded_artifact_matches_and_detects_changes(converted):
    artifact = converted("tflite_dynamic_int8")
    loaded = load_artifact(artifact.sidecar_path)
    assert loaded.info == artifact.info and loaded.recipe == "tflite_dynamic_int8"
    assert not [p for p in artifact.path.parent.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["settings"]["postprocess"].update(score_threshold=0.3), "settings_hash does not match"),
        (lambda d: d.update(sidecar_version=1), "sidecar_version 1, expected 2; re-export"),
        (lambda d: d.pop("settings"), "settings: Field required"),
        (lambda d: d.update(extra_key=1), "extra_key: Extra inputs are not permitted"),
    ],
)
def test_stale_or_edited_sidecar_is_one_clear_input_error(converted, tmp_path, edit, message):
    import json
    import shutil

    artifact = converted("tflite_fp32")
    shutil.copy(artifact.path, tmp_path / artifact.path.name)
    data = json.loads(artifact.sidecar_path.read_text())
    edit(data)
    sidecar = tmp_path / artifact.sidecar_path.name
    sidecar.write_text(json.dumps(data))
    with pytest.raises(InputError, match=message) as error:
        load_artifact(sidecar)
    assert len(str(error.value).splitlines()) == 1 and str(sidecar) in str(error.value)
    sidecar.write_text("{not json")
    with pytest.raises(InputError, match="cannot read it"):
        load_artifact(sidecar)


def test_changed_model_file_is_refused(fixture_inputs, tmp_path):
    artifact = convert(fixture_inputs, fast_recipe("tflite_fp32"), tmp_path, tflite_metadata=False)
    artifact.path.write_bytes(artifact.path.read_bytes()[:-1])
    with pytest.raises(InputError, match="sha256 differs"):
        load_artifact(artifact.sidecar_path)


def test_failed_conversion_leaves_no_sidecar_and_no_temp_files(fixture_inputs, tmp_path):
    convert(fixture_inputs, fast_recipe("tflite_fp32"), tmp_path, tflite_metadata=False)
    sidecar = tmp_path / "tiny_ssdlite_mobilenet_v2.tflite_fp32.artifact.json"
    assert sidecar.exists()

    def broken_builder(model, post):
        fn = fixture_inputs.export_fn_builder(model, post)
        return lambda images: {"boxes": fn(images)["boxes"]}  # no input signature, missing outputs

    broken = dataclasses.replace(fixture_inputs, export_fn_builder=lambda m, p: _traced(broken_builder(m, p)))
    with pytest.raises(ConversionError, match="lacks outputs"):
        convert(broken, fast_recipe("tflite_fp32"), tmp_path, tflite_metadata=False)
    # The old sidecar is gone: the old model file no longer counts as a finished artifact.
    assert not sidecar.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def _traced(fn):
    import tensorflow as tf

    return tf.function(fn)


def test_missing_mediapipe_env_gives_artifact_without_metadata(fixture_inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEBENCH_MEDIAPIPE_ENV", str(tmp_path / "no-such-env"))
    artifact = convert(
        fixture_inputs, fast_recipe("tflite_fp32"), tmp_path / "out", create_mediapipe_env=False
    )
    assert artifact.sidecar.metadata is None
    assert "missing" in artifact.sidecar.metadata_error
    assert artifact.path.exists() and load_artifact(artifact.sidecar_path).info == artifact.info


def test_unwritable_output_folder_is_an_input_error(fixture_inputs, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="--out"):
        convert(fixture_inputs, "tflite_fp32", blocker / "sub", tflite_metadata=False)


def test_int8_without_calibration_data_is_an_input_error(fixture_inputs, tmp_path):
    empty = dataclasses.replace(fixture_inputs, representative_data=[])
    with pytest.raises(InputError, match="representative_data"):
        convert(empty, fast_recipe("tflite_int8"), tmp_path, tflite_metadata=False)
    assert list(tmp_path.iterdir()) == []


def test_qat_without_finetune_is_an_input_error(fixture_inputs, tmp_path):
    with pytest.raises(InputError, match="finetune"):
        convert(dataclasses.replace(fixture_inputs, finetune=None), fast_recipe("tflite_int8_qat"), tmp_path)


def test_conversion_inputs_validate_anchors_and_labels(fixture_inputs):
    with pytest.raises(InputError, match="anchors"):
        dataclasses.replace(fixture_inputs, anchors=fixture_inputs.anchors[:, :3])
    with pytest.raises(InputError, match="labels"):
        dataclasses.replace(fixture_inputs, labels=())
    one_shot = dataclasses.replace(
        fixture_inputs, representative_data=iter(fixture_inputs.representative_data)
    )
    assert len(one_shot.calibration_batches(100)) == len(one_shot.calibration_batches(100)) == 8


def test_mediapipe_env_that_cannot_be_built_gives_artifact_without_metadata(
    fixture_inputs, tmp_path, monkeypatch
):
    # pip with no index and an empty wheel folder fails at once, without touching the network.
    (tmp_path / "wheels").mkdir()
    monkeypatch.setenv("EDGEBENCH_MEDIAPIPE_ENV", str(tmp_path / "env"))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    out = tmp_path / "out"
    artifact = convert(fixture_inputs, fast_recipe("tflite_fp32"), out, create_mediapipe_env=True)
    assert artifact.sidecar.metadata is None
    assert "could not create the MediaPipe environment" in artifact.sidecar.metadata_error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "wheels"]  # no half-built env left
