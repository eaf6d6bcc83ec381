"""MobileNetV2 backbone for SSD (MobileNetV2 paper, Table 2; TF OD API ssd_mobilenet_v2 feature extractor).

Endpoints (reference/detectors.md, Layouts): C4 is the expansion output of the first 160-channel block
(``block_13_expand_relu`` in Keras' naming, 576 channels at width 1.0, stride 16); C5 is the final 1x1
conv (``out_relu``, 1280 channels, stride 32).
"""

from __future__ import annotations

import tensorflow as tf

from bench.models.backbones.blocks import AT_EXPANSION, CONV, IBN, Block, build_blocks, make_divisible
from bench.models.layers import RELU6, ConvStyle

# (expansion t, output channels c, repeats n, first stride s): MobileNetV2 paper, Table 2.
_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
# Keras' block_13 is the first block of the 160-channel stage: its expansion output is C4.
_C4_STAGE_CHANNELS = 160

# Keras' MobileNetV2 BatchNormalization settings.
STYLE = ConvStyle(bn_momentum=0.999, bn_epsilon=1e-3)


def mobilenet_v2_blocks(width: float = 1.0) -> list[Block]:
    """The MobileNetV2 layout as resolved blocks.

    Width rounding follows slim's mobilenet_v2 used by the OD API: every layer (the last 1280 conv
    included) is ``make_divisible(c * width, 8)``; expansions are ``make_divisible(c_in * t, 8)``.

    Args:
        width: Width (depth) multiplier.

    Returns:
        Stem conv, 17 inverted-residual blocks and the final 1x1 conv; C4 marked, C5 is the output.
    """
    stem = make_divisible(32 * width)
    blocks = [Block(CONV, stem, kernel=3, stride=2, act=RELU6)]
    channels = stem
    for t, c, n, s in _STAGES:
        out = make_divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            is_c4 = c == _C4_STAGE_CHANNELS and i == 0
            blocks.append(
                Block(
                    IBN,
                    out,
                    stride=stride,
                    expand=None if t == 1 else make_divisible(channels * t),
                    act=RELU6,
                    residual=stride == 1 and channels == out,
                    endpoint="C4" if is_c4 else None,
                    endpoint_at=AT_EXPANSION,
                )
            )
            channels = out
    blocks.append(Block(CONV, make_divisible(1280 * width), kernel=1, act=RELU6, endpoint="C5"))
    return blocks


def mobilenet_v2(inputs: tf.Tensor, width: float = 1.0) -> tuple[tf.Tensor, tf.Tensor]:
    """Build MobileNetV2 up to its last conv.

    Args:
        inputs: Image tensor [B, H, W, 3].
        width: Width multiplier.

    Returns:
        (C4, C5) feature maps at strides 16 and 32.
    """
    endpoints = build_blocks(inputs, mobilenet_v2_blocks(width), "mnv2", STYLE)
    return endpoints["C4"], endpoints["C5"]
