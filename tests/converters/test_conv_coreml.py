"""Core ML recipes: a pipeline (ML Program decoder + NMS) with Vision's outputs and the promised weights."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conv_tiny_ssd import images

from converters.checks import coreml_weight_ops
from converters.coreml import decoder_function
from converters.tflite import run_detector

COREML = ("coreml_fp16", "coreml_w8", "coreml_palettized4")


def _conv_weights(path) -> list[dict]:
    """Weight ops of the 4-D convolution kernels large enough to be compressed (>= 2048 elements)."""
    return [op for op in coreml_weight_ops(path) if len(op["shape"]) == 4 and np.prod(op["shape"]) >= 2048]


@pytest.mark.parametrize("name", COREML)
def test_pipeline_has_vision_outputs(converted, name):
    from converters.coreml import _ct

    artifact = converted(name)
    signature = artifact.sidecar["signature"]
    inputs = {f["name"]: f for f in signature["inputs"]}
    assert inputs["image"]["kind"] == "imageType" and inputs["image"]["shape"] == [64, 64]
    assert inputs["image"]["color_space"] == "RGB"
    assert inputs["iouThreshold"]["optional"] and inputs["confidenceThreshold"]["optional"]
    outputs = {f["name"]: f for f in signature["outputs"]}
    assert set(outputs) == {"confidence", "coordinates"}
    assert outputs["confidence"]["shape"] == [[0, -1], [3, 3]]  # any number of boxes x 3 classes
    assert outputs["coordinates"]["shape"] == [[0, -1], [4, 4]]
    assert {o["dtype"] for o in outputs.values()} == {"float32"}
    spec = _ct().models.MLModel(str(artifact.path), skip_model_load=True).get_spec()
    kinds = [m.WhichOneof("Type") for m in spec.pipeline.models]
    assert kinds == ["mlProgram", "nonMaximumSuppression"]
    nms = spec.pipeline.models[1].nonMaximumSuppression
    assert list(nms.stringClassLabels.vector) == ["red", "green", "blue"]
    assert (nms.confidenceInputFeatureName, nms.coordinatesInputFeatureName) == (
        "raw_confidence",
        "raw_coordinates",
    )
    assert spec.description.metadata.userDefined["com.apple.coreml.model.preview.type"] == "objectDetector"


def test_fp16_weights_are_float16_consts(converted):
    weights = _conv_weights(converted("coreml_fp16").path)
    assert len(weights) == 8
    assert {(op["op"], op["output"]) for op in weights} == {("const", "float16")}


def test_w8_weights_are_8bit_linear(converted):
    weights = _conv_weights(converted("coreml_w8").path)
    assert len(weights) == 8
    for op in weights:
        assert op["op"] in ("constexpr_affine_dequantize", "constexpr_blockwise_shift_scale")
        data = op["dtypes"].get("quantized_data") or op["dtypes"].get("data")
        assert data in ("int8", "uint8")


def test_palettized4_weights_are_4bit_lookup_tables(converted):
    weights = _conv_weights(converted("coreml_palettized4").path)
    assert len(weights) == 8
    for op in weights:
        assert op["op"] == "constexpr_lut_to_dense" and op["lut_size"] == 16  # 2^4 palette entries
        # iOS16 packs the 4-bit indices two per byte.
        assert op["dtypes"]["indices"] == "uint8"
        assert op["sizes"]["indices"] == int(np.prod(op["shape"])) // 2


def test_sizes_shrink_with_compression(converted):
    sizes = [converted(name).info.size_bytes for name in COREML]
    assert sizes[0] > sizes[1] > sizes[2]


def test_decoder_is_what_the_tflite_post_processing_computes(oracle_inputs, tmp_path):
    """The graph Core ML converts (before NMS) gives the TFLite op's top boxes and scores."""
    from conv_tiny_ssd import fast_recipe

    from converters import convert

    fp32 = convert(oracle_inputs, fast_recipe("tflite_fp32"), tmp_path, tflite_metadata=False)
    decode = decoder_function(oracle_inputs)
    for image in images(2, 64, seed=3):
        expected = run_detector(fp32.path, image)
        confidence, coordinates = (
            t.numpy() for t in decode((image[None].astype(np.float32) - 127.5) / 127.5)
        )
        best = int(np.argmax(confidence.max(axis=1)))
        xc, yc, w, h = coordinates[best]
        box = np.array([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2])
        assert int(np.argmax(confidence[best])) == int(expected["classes"][0])
        assert abs(confidence[best].max() - expected["scores"][0]) < 1e-4
        np.testing.assert_allclose(box, expected["boxes"][0], atol=1e-4)


@pytest.mark.macos
@pytest.mark.skipif(sys.platform != "darwin", reason="Core ML prediction needs macOS (libcoremlpython)")
def test_coreml_prediction_matches_tflite_on_macos(oracle_inputs, tmp_path):
    from conv_tiny_ssd import fast_recipe
    from PIL import Image

    from converters import convert
    from converters.coreml import _ct

    fp32 = convert(oracle_inputs, fast_recipe("tflite_fp32"), tmp_path, tflite_metadata=False)
    ml = convert(oracle_inputs, fast_recipe("coreml_fp16"), tmp_path)
    model = _ct().models.MLModel(str(ml.path))
    for image in images(2, 64, seed=3):
        expected = run_detector(fp32.path, image)
        out = model.predict({"image": Image.fromarray(image)})
        best = int(np.argmax(out["confidence"].max(axis=1)))
        assert int(np.argmax(out["confidence"][best])) == int(expected["classes"][0])
        xc, yc, w, h = out["coordinates"][best]
        np.testing.assert_allclose([yc - h / 2, xc - w / 2], expected["boxes"][0][:2], atol=0.02)
