"""Backbone layouts (resolved block specs) and the layers they are built from."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from bench.models.backbones.blocks import AT_EXPANSION, FUSED, IBN, TUCKER
from bench.models.backbones.mobiledet import mobiledet_blocks, scale_filters
from bench.models.backbones.mobilenet_v2 import mobilenet_v2_blocks
from bench.models.backbones.mobilenet_v3 import mobilenet_v3_blocks
from bench.models.layers import HARD_SWISH, SIGMOID, HardSigmoid, HardSwish
from bench.models.quantization import unwrap
from bench.models.registry import build_model, list_models


def _c4(blocks):
    (block,) = [b for b in blocks if b.endpoint == "C4"]
    return block.expand if block.endpoint_at == AT_EXPANSION else block.out


def test_mobilenet_v2_endpoints():
    blocks = mobilenet_v2_blocks()
    assert _c4(blocks) == 576 and blocks[-1].out == 1280
    # C4 is Keras' block_13 (after the stem and block_0 .. block_12): the first 160-channel block.
    assert blocks.index(next(b for b in blocks if b.endpoint == "C4")) == 14
    assert sum(b.stride == 2 for b in blocks[:14]) == 4  # its input is at stride 16


@pytest.mark.parametrize(
    ("size", "c4", "tail", "last", "unreduced_last"),
    [("large", 672, 80, 480, 960), ("small", 288, 48, 288, 576)],
)
def test_mobilenet_v3_detection_reduction(size, c4, tail, last, unreduced_last):
    blocks = mobilenet_v3_blocks(size)
    assert _c4(blocks) == c4
    assert [b.out for b in blocks[-4:-1]] == [tail] * 3
    assert blocks[-1].out == last
    assert mobilenet_v3_blocks(size, reduce_tail=False)[-1].out == unreduced_last
    # SE squeeze = make_divisible(expansion / 4, 8), hard-sigmoid gate, ReLU inside.
    se_block = blocks[-2]
    assert se_block.se_hidden == 120 if size == "large" else se_block.se_hidden == 72
    assert se_block.se_gate == "hsigmoid"


@pytest.mark.parametrize(
    ("kind", "c4", "c5"), [("cpu", 72, 144), ("edgetpu", 96, 384), ("dsp", 144, 240), ("gpu", 128, 384)]
)
def test_mobiledet_endpoints(kind, c4, c5):
    blocks = mobiledet_blocks(kind)
    assert _c4(blocks) == c4
    assert blocks[-1].endpoint == "C5" and blocks[-1].out == c5
    assert sum(b.stride for b in blocks if b.stride == 2) == 2 * 5  # strides 2 .. 32


def test_mobiledet_block_details():
    cpu = mobiledet_blocks("cpu")
    assert all(b.act == HARD_SWISH for b in cpu)
    assert all(b.se_hidden is not None and b.se_gate == SIGMOID for b in cpu if b.kind == IBN)
    assert cpu[1].expand is None and cpu[1].se_hidden == 8 and not cpu[1].residual  # IBNNoExp 8
    edgetpu = mobiledet_blocks("edgetpu")
    assert edgetpu[1].kind == TUCKER and edgetpu[1].ranks == (8, 16)  # Tucker16 (.25, .75) from 32
    assert edgetpu[2].kind == FUSED and edgetpu[2].expand == 128
    assert not any(b.se_hidden for b in edgetpu)
    assert scale_filters(16, 0.75) == 16 and scale_filters(32, 0.25) == 8 and scale_filters(4, 1.0) == 8


def test_hard_activations_match_the_paper():
    x = np.linspace(-5, 5, 41, dtype=np.float32)
    relu6 = np.clip(x + 3, 0, 6)
    np.testing.assert_allclose(HardSwish()(x).numpy(), x * relu6 / 6, atol=1e-6)
    np.testing.assert_allclose(HardSigmoid()(x).numpy(), relu6 / 6, atol=1e-6)


@pytest.mark.parametrize("name", list_models("tiny_*"))
def test_tiny_models_have_no_lambda_layers_and_the_right_outputs(name):
    from bench.models.registry import get_config

    config = get_config(name)
    model = build_model(config)
    kinds = {type(unwrap(layer)).__name__ for layer in model.layers}
    assert not kinds & {"TFOpLambda", "Lambda", "SlicingOpLambda"}
    boxes, logits = model(np.zeros((2, config.input_size, config.input_size, 3), np.float32))
    assert boxes.shape == (2, config.num_anchors, 4)
    assert logits.shape == (2, config.num_anchors, config.num_classes + 1)
    assert [o.name.split("/")[0] for o in model.outputs] == ["box_encodings", "class_logits"]
    assert isinstance(model.get_layer("class_logits"), keras.layers.Concatenate)


@pytest.mark.parametrize(
    "name", ["tiny_ssdlite_mobilenet_v2", "tiny_ssd_mobilenet_v2", "tiny_ssdlite_mobiledet_cpu"]
)
def test_a_fresh_model_starts_from_the_prior(name, rng):
    """Every anchor starts as background (score 0.99) and every class at 0.01, on any image."""
    from bench.models.registry import get_config

    config = get_config(name)
    model = build_model(config)
    images = rng.uniform(-1, 1, (2, config.input_size, config.input_size, 3)).astype(np.float32)
    _, logits = model(images)
    probabilities = 1 / (1 + np.exp(-logits.numpy()))
    np.testing.assert_allclose(probabilities[..., 0], 0.99, atol=0.01)
    np.testing.assert_allclose(probabilities[..., 1:], 0.01, atol=0.01)


@pytest.mark.parametrize(("init", "channels"), [("per_channel", 1), ("fan_in_all", 96)])
def test_depthwise_he_init_counts_the_fan_in_of_the_style(init, channels):
    """He's variance is 2 / fan-in: k * k per channel (the OD API's MobileDet), or Keras' k * k * C."""
    from bench.models.layers import ConvStyle, depthwise_bn

    inputs = keras.Input((16, 16, 96))
    model = keras.Model(inputs, depthwise_bn(inputs, 5, 1, "relu6", "probe", ConvStyle(depthwise_init=init)))
    weights = model.get_layer("probe_dwconv").depthwise_kernel.numpy()
    assert weights.shape == (5, 5, 96, 1)
    np.testing.assert_allclose(weights.std(), (2.0 / (25 * channels)) ** 0.5, rtol=0.05)


def test_only_mobiledet_counts_the_depthwise_fan_in_per_channel():
    from bench.models.backbones.mobiledet import STYLE as MOBILEDET
    from bench.models.backbones.mobilenet_v2 import STYLE as V2
    from bench.models.backbones.mobilenet_v3 import STYLE as V3
    from bench.models.layers import DEPTHWISE_FAN_IN_ALL, DEPTHWISE_PER_CHANNEL

    assert MOBILEDET.depthwise_init == DEPTHWISE_PER_CHANNEL
    assert MOBILEDET.bn_epsilon == 0.01  # the OD API's, unchanged
    assert V2.depthwise_init == V3.depthwise_init == DEPTHWISE_FAN_IN_ALL


def test_mobiledet_cpu_depthwise_outputs_are_not_damped_by_the_bn_epsilon(rng):
    """The defect of docs/mobiledet.md: with Keras' fan-in (k * k * C) the depthwise outputs of the
    expanded blocks have a variance near or below MobileDet's BN epsilon 0.01, and BatchNormalization
    shrinks them instead of normalising them (std 0.4-0.7 at width 0.5 before the fix)."""
    from bench.models.backbones.mobiledet import mobiledet

    inputs = keras.Input((64, 64, 3))
    model = keras.Model(inputs, mobiledet(inputs, "cpu", width=0.5))
    names = [layer.name for layer in model.layers if layer.name.endswith("_depthwise_bn")]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    images = rng.uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32)
    stds = [float(np.std(out)) for out in probe(images, training=True)]
    assert len(stds) == 19 and min(stds) > 0.9, dict(zip(names, np.round(stds, 2), strict=True))
