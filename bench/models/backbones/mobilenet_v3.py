"""MobileNetV3 Large and Small backbones with the detection reduction of the tail.

Layouts: MobileNetV3 paper, Table 1 (Large) and Table 2 (Small). Expansions are written as factors of
the block input, as in the reference implementations, so that halving a block's output also halves
the expansion of the next one. Detection variant (paper, Section 6.2; slim mobilenet_v3
``V3_LARGE_DETECTION`` / ``V3_SMALL_DETECTION``): every layer between C4 and C5 has half the
channels. C4 is the expansion output of the 13th (Large) or 9th (Small) bottleneck, the first one at
stride 32; C5 is the last 1x1 conv.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from bench.models.backbones.blocks import AT_EXPANSION, CONV, IBN, Block, build_blocks, make_divisible
from bench.models.layers import HARD_SIGMOID, HARD_SWISH, RELU, ConvStyle


class _Bneck(NamedTuple):
    kernel: int
    expansion: float  # expanded channels / input channels
    out: int
    se: bool
    act: str
    stride: int


_RE, _HS = RELU, HARD_SWISH

# MobileNetV3 paper, Table 1 (exp sizes 16, 64, 72, 72, 120, 120, 240, 200, 184, 184, 480, 672, ...).
LARGE = (
    _Bneck(3, 1, 16, False, _RE, 1),
    _Bneck(3, 4, 24, False, _RE, 2),
    _Bneck(3, 3, 24, False, _RE, 1),
    _Bneck(5, 3, 40, True, _RE, 2),
    _Bneck(5, 3, 40, True, _RE, 1),
    _Bneck(5, 3, 40, True, _RE, 1),
    _Bneck(3, 6, 80, False, _HS, 2),
    _Bneck(3, 2.5, 80, False, _HS, 1),
    _Bneck(3, 2.3, 80, False, _HS, 1),
    _Bneck(3, 2.3, 80, False, _HS, 1),
    _Bneck(3, 6, 112, True, _HS, 1),
    _Bneck(3, 6, 112, True, _HS, 1),
    _Bneck(5, 6, 160, True, _HS, 2),
    _Bneck(5, 6, 160, True, _HS, 1),
    _Bneck(5, 6, 160, True, _HS, 1),
)

# MobileNetV3 paper, Table 2 (exp sizes 16, 72, 88, 96, 240, 240, 120, 144, 288, 576, 576).
SMALL = (
    _Bneck(3, 1, 16, True, _RE, 2),
    _Bneck(3, 72 / 16, 24, False, _RE, 2),
    _Bneck(3, 88 / 24, 24, False, _RE, 1),
    _Bneck(5, 4, 40, True, _HS, 2),
    _Bneck(5, 6, 40, True, _HS, 1),
    _Bneck(5, 6, 40, True, _HS, 1),
    _Bneck(5, 3, 48, True, _HS, 1),
    _Bneck(5, 3, 48, True, _HS, 1),
    _Bneck(5, 6, 96, True, _HS, 2),
    _Bneck(5, 6, 96, True, _HS, 1),
    _Bneck(5, 6, 96, True, _HS, 1),
)

# Index (0-based) of the bottleneck whose expansion output is C4: the 13th (Large) / 9th (Small).
_C4_INDEX = {"large": 12, "small": 8}
_LAST_CONV_FACTOR = 6  # last 1x1 conv = 6 x last bottleneck output (960 for Large, 576 for Small)
_SE_RATIO = 0.25

# Keras' MobileNetV3 BatchNormalization settings.
STYLE = ConvStyle(bn_momentum=0.999, bn_epsilon=1e-3)


def mobilenet_v3_blocks(size: str, width: float = 1.0, reduce_tail: bool = True) -> list[Block]:
    """The MobileNetV3 layout as resolved blocks.

    Args:
        size: "large" or "small".
        width: Width multiplier (channels rounded with ``make_divisible(c * width, 8)``).
        reduce_tail: Halve every layer after C4 (the detection variant). False gives the
            classification layout (reference: 4.99M / 0.613B and 2.51M / 0.210B in SSDLite).

    Returns:
        Stem conv, the bottlenecks and the last 1x1 conv; C4 marked, C5 is the output.
    """
    table = {"large": LARGE, "small": SMALL}[size]
    c4_index = _C4_INDEX[size]
    tail = 0.5 if reduce_tail else 1.0
    channels = make_divisible(16 * width)
    blocks = [Block(CONV, channels, kernel=3, stride=2, act=HARD_SWISH)]
    for index, b in enumerate(table):
        out = make_divisible(b.out * width * (tail if index >= c4_index else 1.0))
        expand = make_divisible(channels * b.expansion)
        has_expansion = expand != channels
        blocks.append(
            Block(
                IBN,
                out,
                kernel=b.kernel,
                stride=b.stride,
                expand=expand if has_expansion else None,
                se_hidden=make_divisible(expand * _SE_RATIO) if b.se else None,
                act=b.act,
                se_act=RELU,
                se_gate=HARD_SIGMOID,
                residual=b.stride == 1 and channels == out,
                endpoint="C4" if index == c4_index else None,
                endpoint_at=AT_EXPANSION,
            )
        )
        channels = out
    blocks.append(Block(CONV, make_divisible(channels * _LAST_CONV_FACTOR), kernel=1, act=HARD_SWISH))
    return blocks


def mobilenet_v3(
    inputs: tf.Tensor, size: str, width: float = 1.0, reduce_tail: bool = True
) -> tuple[tf.Tensor, tf.Tensor]:
    """Build a detection MobileNetV3 up to its last conv.

    Args:
        inputs: Image tensor [B, H, W, 3].
        size: "large" or "small".
        width: Width multiplier.
        reduce_tail: Halve the layers after C4 (the detection variant the zoo registers).

    Returns:
        (C4, C5) feature maps at strides 16 and 32.
    """
    endpoints = build_blocks(inputs, mobilenet_v3_blocks(size, width, reduce_tail), f"mnv3{size[0]}", STYLE)
    return endpoints["C4"], endpoints["output"]
