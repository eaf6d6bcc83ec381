"""QAT (tfmot quantize_model) and full-int8 TFLite: int8 convs, XNNPack takes all but post-processing."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from zoo_helpers import random_image, realistic_tiny

from bench.models.export import EXPORT_OUTPUTS, DetectionExport
from bench.models.registry import list_models
from bench.models.saving import custom_objects, quantize_scope
from bench.scripts import zoo_tflite

POSTPROCESS = "TFLite_Detection_PostProcess"
# One tiny variant per family by default (V3-Small has hard-swish, SE and hard-sigmoid); the rest slow.
FAST = ("tiny_ssdlite_mobilenet_v3_small",)
VARIANTS = [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in list_models("tiny_*")]


def _check_int8(flatbuffer: bytes, config, rng, expected_undelegated: list[str]) -> None:
    report = zoo_tflite.inspect(flatbuffer)
    assert report.non_int8_convs() == []
    assert sum(op in zoo_tflite.CONV_OPS for op, _ in report.ops) > 10
    assert report.undelegated == expected_undelegated
    out = zoo_tflite.run(flatbuffer, random_image(config, rng))
    assert set(out) == set(EXPORT_OUTPUTS) and out["boxes"].shape == (1, 100, 4)
    assert 0 < out["num_detections"][0] <= 100


@pytest.mark.parametrize("name", VARIANTS)
def test_qat_model_exports_to_int8_fully_delegated(name, rng):
    config, model = realistic_tiny(name, rng)
    with quantize_scope():
        qat = tfmot.quantization.keras.quantize_model(model)
    # tfmot starts the input quantizer at [0, 0]; the first training step sets it, as QAT fine-tuning does.
    qat(np.concatenate([random_image(config, rng) for _ in range(4)]), training=True)
    # The export signature takes the QAT model as it takes the float one.
    got = DetectionExport(qat, config).serve(tf.constant(random_image(config, rng)))
    assert set(got) == set(EXPORT_OUTPUTS)
    flatbuffer = zoo_tflite.convert(qat, config, int8=True, input_type=tf.int8)
    _check_int8(flatbuffer, config, rng, [POSTPROCESS])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny_ssdlite_mobilenet_v2", "tiny_ssdlite_mobiledet_cpu"])
def test_float_model_post_training_int8_with_uint8_input(name, rng):
    config, model = realistic_tiny(name, rng)
    flatbuffer = zoo_tflite.convert(model, config, int8=True, input_type=tf.uint8)
    # XNNPack does not take the uint8 -> int8 QUANTIZE of the input; everything else but the op is its.
    _check_int8(flatbuffer, config, rng, ["QUANTIZE", POSTPROCESS])


def test_float_model_saves_and_loads_with_the_custom_objects(tmp_path, rng):
    config, model = realistic_tiny("tiny_ssdlite_mobilenet_v3_small", rng)  # hard-swish, SE, hard-sigmoid
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects())
    image = random_image(config, rng)
    for want, got in zip(model(image), loaded(image), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
