"""keras_detector: the Detector protocol of bench.evaluation on a Keras model."""

from __future__ import annotations

import numpy as np
import pytest

from bench.models.registry import build_model
from bench.training import keras_detector
from common.errors import InputError


@pytest.fixture(scope="module")
def detector_parts(tiny_config_module):
    model = build_model(tiny_config_module)
    return model, tiny_config_module


def test_output_format(detector_parts):
    model, config = detector_parts
    detect = keras_detector(model, config, max_detections=7)
    image = np.random.default_rng(0).integers(0, 256, (120, 80, 3), dtype=np.uint8)  # any size
    boxes, classes, scores = detect(image)
    assert boxes.shape == (7, 4) and boxes.dtype == np.float32
    assert classes.shape == (7,) and np.issubdtype(classes.dtype, np.integer)
    assert scores.shape == (7,)
    assert ((classes >= 0) & (classes < config.num_classes)).all()
    assert np.all(np.diff(scores) <= 0), "scores must come in decreasing order"
    assert np.isfinite(boxes).all()
    # Same image, same detections: the callable holds no state between calls.
    again = detect(image)
    np.testing.assert_array_equal(again.scores, scores)


def test_threshold_and_bad_images(detector_parts):
    model, config = detector_parts
    none = keras_detector(model, config, score_threshold=1.01)(np.zeros((96, 96, 3), np.uint8))
    assert none.boxes.shape == (0, 4) and none.classes.shape == (0,) and none.scores.shape == (0,)
    with pytest.raises(InputError, match="expected a uint8 \\[H, W, 3\\] image"):
        keras_detector(model, config)(np.zeros((96, 96), np.uint8))
