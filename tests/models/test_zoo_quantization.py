"""QAT (tfmot quantize_model) and full-int8 TFLite: int8 convs, XNNPack takes all but post-processing."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras
from tiny_zoo import (
    POSTPROCESS_OP,
    fast_recipe,
    inspect,
    pipeline_inputs,
    random_pixels,
    realistic_tiny,
    tflite_file,
)

from bench.models.export import EXPORT_OUTPUTS
from bench.models.registry import list_models
from bench.models.saving import custom_objects
from converters import convert
from converters.tflite import run_signature

# One tiny variant per family by default (V3-Small has hard-swish, SE and hard-sigmoid); the rest slow.
FAST = ("tiny_ssdlite_mobilenet_v3_small",)
VARIANTS = [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in list_models("tiny_*")]


def _check_int8(path, config, rng) -> None:
    """int8 convolutions; XNNPack (as the timing worker sees it) takes all but the uint8 input's QUANTIZE
    and the post-processing op (the _xnnpack recipes: hard-swish split); the file detects."""
    report = inspect(path)
    assert report.non_int8_convs() == []
    assert sum(op in ("CONV_2D", "DEPTHWISE_CONV_2D") for op, _ in report.ops) > 10
    assert report.outside == ["QUANTIZE", POSTPROCESS_OP]
    out = run_signature(path, random_pixels(config, rng))
    assert set(out) == set(EXPORT_OUTPUTS) and out["boxes"].shape == (1, 100, 4)
    assert 0 < out["num_detections"][0] <= 100


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_qat_recipe_exports_to_int8_fully_delegated(name, rng, tiny_split, tmp_path):
    """The qat recipe (tfmot wrapping with the zoo's quantize scope, bench's fine-tuning loop)."""
    config, model = realistic_tiny(name, rng, num_classes=tiny_split.num_classes)
    inputs = pipeline_inputs(config, model, tiny_split)
    artifact = convert(inputs, fast_recipe("tflite_int8_qat_xnnpack"), tmp_path, tflite_metadata=False)
    _check_int8(artifact.path, config, rng)


@pytest.mark.parametrize(
    "name", [pytest.param("tiny_ssdlite_mobilenet_v2", marks=pytest.mark.slow), "tiny_ssdlite_mobiledet_cpu"]
)
def test_float_model_post_training_int8_with_uint8_input(name, rng, tmp_path):
    config, model = realistic_tiny(name, rng)
    _check_int8(tflite_file(config, model, tmp_path, "tflite_int8_xnnpack", rng=rng), config, rng)


def test_float_model_saves_and_loads_with_the_custom_objects(tmp_path, rng):
    config, model = realistic_tiny("tiny_ssdlite_mobilenet_v3_small", rng)  # hard-swish, SE, hard-sigmoid
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects())
    image = config.preprocessing.apply(random_pixels(config, rng)[None])
    for want, got in zip(model(image), loaded(image), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
