"""``edgebench evaluate --labelmap`` on a tiny zoo detector whose classes are not the dataset's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from um_helpers import MODEL_CLASSES, with_label_file

from bench.evaluation import TFLiteDetector
from bench.evaluation.labelmap import metadata_labels

pytestmark = pytest.mark.slow  # builds and converts a tiny zoo model once (about 20 s)


def test_without_a_labelmap_the_model_and_data_differ(cli, split, tiny_user_models):
    code, _, err = cli("evaluate", "--annotations", split, "--model", tiny_user_models["tflite"])
    assert code == 2 and "outside 0..2" in err


def test_labelmap_maps_classes_by_name_and_says_what_is_ignored(cli, split, tiny_user_models):
    argv = ["evaluate", "--annotations", split, "--model", tiny_user_models["tflite"], "--json"]
    code, out, err = cli(*argv, "--labelmap", tiny_user_models["labelmap"])
    assert code == 0, err
    assert "2 model classes matched" in err
    assert "ignored (not in the data): bicycle, cat" in err and "cannot predict: dog" in err
    metrics = json.loads(out)
    assert 0.0 <= metrics["map"] <= 1.0 and metrics["num_images"] == 6


def test_labels_in_the_models_own_metadata(cli, split, tiny_user_models, tmp_path):
    model = with_label_file(tiny_user_models["tflite"], tmp_path / "meta.tflite", "\n".join(MODEL_CLASSES))
    assert TFLiteDetector(model).output_source == "names"  # LiteRT ignores the appended archive
    plain = ["evaluate", "--annotations", split, "--json"]
    code, out, err = cli(*plain, "--model", model, "--labelmap", model)
    assert code == 0, err
    assert "ignored (not in the data): bicycle, cat" in err
    reference = [*plain, "--model", tiny_user_models["tflite"], "--labelmap", tiny_user_models["labelmap"]]
    _, expected, _ = cli(*reference)
    assert json.loads(out)["map"] == json.loads(expected)["map"] > 0


def test_mediapipe_metadata_label_file_is_read(mediapipe_python, tiny_user_models, tmp_path):
    """The real writer (MediaPipe 0.10.14's ObjectDetector metadata), in its own environment."""
    from bench.models.registry import build_model, get_config
    from bench.pipeline.inputs import zoo_inputs
    from converters import convert, get_recipe

    config = get_config("tiny_ssdlite_mobilenet_v2", num_classes=len(MODEL_CLASSES))
    inputs = zoo_inputs(config, build_model(config), list(MODEL_CLASSES), [], "mp")
    artifact = convert(inputs, get_recipe("tflite_fp32"), tmp_path, create_mediapipe_env=False)
    assert artifact.sidecar.metadata is not None, artifact.sidecar.metadata_error
    assert metadata_labels(artifact.path).split() == list(MODEL_CLASSES)


def test_outputs_named_in_the_plan_are_found_by_tensor_name(tiny_user_models):
    from ai_edge_litert.interpreter import Interpreter

    from bench.pipeline.user_sources import NamedOutputsTFLiteDetector
    from common.errors import InputError

    path = tiny_user_models["tflite"]
    interpreter = Interpreter(model_path=str(path))
    by_index = {d["index"]: d["name"] for d in interpreter.get_output_details()}
    signature = interpreter.get_signature_runner().get_output_details()
    tensors = {key: by_index[detail["index"]] for key, detail in signature.items()}  # e.g. Identity_2
    assert set(tensors) == {"boxes", "classes", "scores", "num_detections"}
    image = np.random.default_rng(0).integers(0, 256, (120, 90, 3), dtype=np.uint8)
    expected = TFLiteDetector(path)(image)
    found = NamedOutputsTFLiteDetector(path, tensors)
    assert found.output_source == "plan outputs"
    for ours, theirs in zip(found(image), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(InputError, match="plan outputs \\['nope'\\] are not outputs of the model"):
        NamedOutputsTFLiteDetector(path, {**tensors, "scores": "nope"})
