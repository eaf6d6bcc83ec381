"""One post-processing setting for every format: the TFLite op and Core ML's NMS of one model agree.

Core ML prediction needs macOS, so on Linux the check is structural: the thresholds inside the Core ML
spec equal the TFLite op's options read back from the .tflite file, and both equal the plan's. On macOS
the two artifacts' detections on one image are compared as well.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from tiny_zoo import fast_recipe, pipeline_inputs

from bench.evaluation.tflite import postprocess_options
from bench.plans import ExportSection
from converters import convert
from converters.coreml import _ct

CUSTOM = ExportSection(
    calibration_samples=4,
    score_threshold=0.05,
    iou_threshold=0.45,
    max_detections=37,
    max_classes_per_detection=2,
)


def _coreml_nms(path):
    spec = _ct().models.MLModel(str(path), skip_model_load=True).get_spec()
    (_, nms) = spec.pipeline.models
    meta = spec.description.metadata.userDefined
    return nms.nonMaximumSuppression, meta


def _assert_same_thresholds(tflite, coreml, export: ExportSection) -> None:
    op = postprocess_options(tflite.path.read_bytes())
    nms, meta = _coreml_nms(coreml.path)
    assert nms.confidenceThreshold == pytest.approx(op["nms_score_threshold"], rel=1e-6)
    assert nms.iouThreshold == pytest.approx(op["nms_iou_threshold"], rel=1e-6)
    assert int(meta["edgebench.max_detections"]) == op["max_detections"]
    assert int(meta["edgebench.max_classes_per_detection"]) == op["max_classes_per_detection"]
    want = export.postprocess()
    assert op["nms_score_threshold"] == pytest.approx(want.score_threshold, rel=1e-6)
    assert (op["nms_iou_threshold"], op["max_detections"]) == (
        pytest.approx(want.iou_threshold),
        want.max_detections,
    )
    assert op["max_classes_per_detection"] == want.max_classes_per_detection
    # The sidecars record the one setting, and it is part of both settings hashes.
    assert tflite.sidecar.settings.postprocess == coreml.sidecar.settings.postprocess == want


def test_plan_defaults_reach_tflite_and_coreml_alike(converted):
    """The default plan keeps scores >= 1e-8 in both formats (Core ML once kept >= 0.3)."""
    _assert_same_thresholds(converted("tflite_fp32"), converted("coreml_fp16"), ExportSection())


@pytest.mark.slow
def test_plan_settings_reach_tflite_and_coreml_alike(fixture_inputs, tiny_split, tmp_path):
    config_model = fixture_inputs.keras_model
    from bench.models.registry import get_config

    config = get_config(fixture_inputs.variant, num_classes=len(fixture_inputs.labels))
    inputs = pipeline_inputs(config, config_model, tiny_split, CUSTOM)
    tflite = convert(inputs, fast_recipe("tflite_fp32"), tmp_path, tflite_metadata=False)
    coreml = convert(inputs, fast_recipe("coreml_fp16"), tmp_path)
    _assert_same_thresholds(tflite, coreml, CUSTOM)
    assert tflite.sidecar.settings_hash != convert_default_hash(fixture_inputs)


def convert_default_hash(inputs) -> str:
    from converters.convert import conversion_settings

    return conversion_settings(inputs, fast_recipe("tflite_fp32")).settings_hash()


@pytest.mark.macos
@pytest.mark.skipif(sys.platform != "darwin", reason="Core ML prediction needs macOS (libcoremlpython)")
def test_coreml_and_tflite_detect_the_same_on_one_image(converted, rng_image):
    from PIL import Image

    from converters.tflite import run_detector

    tflite, coreml = converted("tflite_fp32"), converted("coreml_fp16")
    expected = run_detector(tflite.path, rng_image)
    out = _ct().models.MLModel(str(coreml.path)).predict({"image": Image.fromarray(rng_image)})
    scores = np.sort(np.asarray(out["confidence"]).max(axis=1))[::-1]
    count = min(len(scores), len(expected["scores"]), 10)
    np.testing.assert_allclose(scores[:count], expected["scores"][:count], atol=2e-3)  # fp16 compute


@pytest.fixture
def rng_image(fixture_inputs):
    size = fixture_inputs.input_size
    return np.random.default_rng(3).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_coreml_outputs_are_read_with_the_tflite_caps():
    """Core ML's NMS keeps every box and class score; the reader applies max_detections and K as the op."""
    from bench.evaluation.detectors import from_vision_outputs

    coordinates = np.array([[0.5, 0.5, 0.2, 0.2], [0.2, 0.2, 0.1, 0.1], [0.8, 0.8, 0.2, 0.4]])
    confidence = np.array([[0.1, 0.6, 0.3], [0.9, 0.05, 0.05], [0.2, 0.2, 0.25]])
    boxes, classes, scores = from_vision_outputs(coordinates, confidence, max_detections=2, classes_per_box=2)
    np.testing.assert_allclose(scores, [0.9, 0.6, 0.3, 0.05])  # the third box is over the cap
    np.testing.assert_array_equal(classes, [0, 1, 2, 1])
    np.testing.assert_allclose(boxes[1], [0.4, 0.4, 0.6, 0.6])  # (yc - h/2, xc - w/2, ...)
    np.testing.assert_allclose(boxes[1], boxes[2])  # one box, its two best classes
    empty = from_vision_outputs(np.zeros((0, 4)), np.zeros((0, 3)))
    assert empty.boxes.shape == (0, 4) and empty.scores.shape == (0,)
