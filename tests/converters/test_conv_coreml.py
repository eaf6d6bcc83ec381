"""Core ML recipes: a pipeline (ML Program decoder + NMS) with Vision's outputs and the promised weights."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.synth_draw import SHAPES
from converters.checks import coreml_weight_ops
from converters.coreml import decoder_function
from converters.tflite import run_signature

COREML = ("coreml_fp16", "coreml_w8", "coreml_palettized4")
SLOW_COREML = [n if n == "coreml_fp16" else pytest.param(n, marks=pytest.mark.slow) for n in COREML]


def _conv_weights(path) -> list[dict]:
    """Weight ops of the 4-D convolution kernels large enough to be compressed: coremltools compresses a
    weight with MORE elements than its threshold (2048), so a kernel of exactly 2048 stays fp16."""
    return [op for op in coreml_weight_ops(path) if len(op["shape"]) == 4 and np.prod(op["shape"]) > 2048]


@pytest.mark.parametrize("name", SLOW_COREML)
def test_pipeline_has_vision_outputs(converted, name):
    from converters.coreml import _ct

    artifact = converted(name)
    signature = artifact.sidecar.signature
    inputs = {f["name"]: f for f in signature["inputs"]}
    assert inputs["image"]["kind"] == "imageType" and inputs["image"]["shape"] == [96, 96]
    assert inputs["image"]["color_space"] == "RGB"
    assert inputs["iouThreshold"]["optional"] and inputs["confidenceThreshold"]["optional"]
    outputs = {f["name"]: f for f in signature["outputs"]}
    assert set(outputs) == {"confidence", "coordinates"}
    assert outputs["confidence"]["shape"] == [[0, -1], [8, 8]]  # any number of boxes x 8 classes
    assert outputs["coordinates"]["shape"] == [[0, -1], [4, 4]]
    assert {o["dtype"] for o in outputs.values()} == {"float32"}
    spec = _ct().models.MLModel(str(artifact.path), skip_model_load=True).get_spec()
    kinds = [m.WhichOneof("Type") for m in spec.pipeline.models]
    assert kinds == ["mlProgram", "nonMaximumSuppression"]
    nms = spec.pipeline.models[1].nonMaximumSuppression
    assert tuple(nms.stringClassLabels.vector) == SHAPES
    assert (nms.confidenceInputFeatureName, nms.coordinatesInputFeatureName) == (
        "raw_confidence",
        "raw_coordinates",
    )
    assert spec.description.metadata.userDefined["com.apple.coreml.model.preview.type"] == "objectDetector"
    # The image input applies the model's own preprocessing, x * 2/255 - 1.
    image = spec.pipeline.models[0].description.input[0]
    assert image.type.WhichOneof("Type") == "imageType"


def test_fp16_weights_are_float16_consts(converted):
    weights = _conv_weights(converted("coreml_fp16").path)
    assert len(weights) > 10
    assert {(op["op"], op["output"]) for op in weights} == {("const", "float16")}


@pytest.mark.slow
def test_w8_weights_are_8bit_linear(converted):
    weights = _conv_weights(converted("coreml_w8").path)
    assert len(weights) > 10
    for op in weights:
        assert op["op"] in ("constexpr_affine_dequantize", "constexpr_blockwise_shift_scale")
        data = op["dtypes"].get("quantized_data") or op["dtypes"].get("data")
        assert data in ("int8", "uint8")


@pytest.mark.slow
def test_palettized4_weights_are_4bit_lookup_tables(converted):
    weights = _conv_weights(converted("coreml_palettized4").path)
    assert len(weights) > 10
    for op in weights:
        assert op["op"] == "constexpr_lut_to_dense" and op["lut_size"] == 16  # 2^4 palette entries
        # iOS16 packs the 4-bit indices two per byte.
        assert op["dtypes"]["indices"] == "uint8"
        assert op["sizes"]["indices"] == int(np.prod(op["shape"])) // 2


@pytest.mark.slow
def test_sizes_shrink_with_compression(converted):
    sizes = [converted(name).info.size_bytes for name in COREML]
    assert sizes[0] > sizes[1] > sizes[2]


def test_decoder_is_what_the_tflite_post_processing_computes(converted, fixture_inputs):
    """The graph Core ML converts (before NMS) holds the TFLite op's top detections: same box, same score."""
    fp32 = converted("tflite_fp32")
    decode = decoder_function(fixture_inputs)
    rng = np.random.default_rng(3)
    size = fixture_inputs.input_size
    for image in rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8):
        expected = run_signature(fp32.path, image)
        confidence, coordinates = (t.numpy() for t in decode(fixture_inputs.preprocessing.apply(image[None])))
        xc, yc, w, h = coordinates.T
        boxes = np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)
        for k in range(3):  # anchors can nearly tie in score, so each detection is found by its box
            box, cls = expected["boxes"][0, k], int(expected["classes"][0, k])
            anchor = int(np.argmin(np.abs(boxes - box).max(axis=1)))
            np.testing.assert_allclose(boxes[anchor], box, atol=1e-4)
            assert abs(confidence[anchor, cls] - expected["scores"][0, k]) < 1e-4
