"""Concrete block specs and the one builder that turns a list of them into Keras layers.

Each backbone module turns its paper table into a list of :class:`Block` with every channel count
already resolved (width multiplier, rounding, expansion of the actual input), so this builder has no
family-specific rules and the specs can be read and tested without TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf
import tf_keras as keras

from bench.models.layers import (
    HARD_SIGMOID,
    LINEAR,
    RELU,
    RELU6,
    ConvStyle,
    conv_bn,
    depthwise_bn,
    squeeze_excite,
)

CONV, IBN, FUSED, TUCKER = "conv", "ibn", "fused", "tucker"
KINDS = (CONV, IBN, FUSED, TUCKER)
AT_OUTPUT, AT_EXPANSION = "output", "expansion"


@dataclass(frozen=True)
class Block:
    """One block with resolved channel counts.

    Kinds (MobileDet paper, Figure 2; MobileNetV2 paper, Table 1):
      conv:   k x k conv (BN, act).
      ibn:    [1x1 expand to ``expand`` (BN, act)] -> k x k depthwise (BN, act) -> [SE] -> 1x1 project
              (BN, linear) -> [+ input]. ``expand=None`` is the no-expansion variant (IBNNoExp,
              MobileNetV2's first block).
      fused:  k x k conv to ``expand`` (BN, act) -> [SE] -> 1x1 project (BN, linear) -> [+ input].
      tucker: 1x1 to ``ranks[0]`` (BN, act) -> k x k conv to ``ranks[1]`` (BN, act) -> 1x1 to ``out``
              (BN, linear) -> [+ input].
    """

    kind: str  # one of KINDS
    out: int  # output channels
    kernel: int = 3  # spatial kernel of the depthwise / regular k x k conv
    stride: int = 1  # stride of the k x k conv (the only strided conv of a block)
    expand: int | None = None  # ibn / fused: expanded channels; None means no expansion conv
    ranks: tuple[int, int] | None = None  # tucker: (input rank, output rank) channels
    se_hidden: int | None = None  # squeeze-excite hidden channels; None means no SE
    act: str = RELU6  # activation after every conv but the projection
    se_act: str = RELU  # activation of the SE squeeze conv
    se_gate: str = HARD_SIGMOID  # activation of the SE gate
    residual: bool = False  # add the block input to its output (needs stride 1 and equal channels)
    endpoint: str | None = None  # name under which this block is exposed (e.g. "C4")
    endpoint_at: str = AT_OUTPUT  # expose the block output, or its expansion output (AT_EXPANSION)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Block.kind: got {self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.kind == TUCKER and self.ranks is None:
            raise ValueError("Block.ranks: a tucker block needs (input rank, output rank)")
        if self.residual and self.stride != 1:
            raise ValueError("Block.residual: a strided block cannot be residual")


def _build_block(x: tf.Tensor, block: Block, name: str, style: ConvStyle) -> tuple[tf.Tensor, tf.Tensor]:
    """Build one block. Returns (output, expansion output or block input when there is none)."""
    shortcut = x
    expanded = x
    if block.kind == CONV:
        x = conv_bn(x, block.out, block.kernel, block.stride, block.act, name, style)
        return x, x
    if block.kind == TUCKER:
        x = conv_bn(x, block.ranks[0], 1, 1, block.act, f"{name}_reduce", style)
        x = conv_bn(x, block.ranks[1], block.kernel, block.stride, block.act, f"{name}_core", style)
    elif block.kind == FUSED:
        x = expanded = conv_bn(x, block.expand, block.kernel, block.stride, block.act, f"{name}_fused", style)
    else:
        if block.expand is not None:
            x = expanded = conv_bn(x, block.expand, 1, 1, block.act, f"{name}_expand", style)
        x = depthwise_bn(x, block.kernel, block.stride, block.act, f"{name}_depthwise", style)
    if block.se_hidden is not None:
        x = squeeze_excite(x, block.se_hidden, block.se_act, block.se_gate, f"{name}_se", style)
    x = conv_bn(x, block.out, 1, 1, LINEAR, f"{name}_project", style)
    if block.residual:
        if shortcut.shape[-1] != block.out:
            raise ValueError(
                f"{name}: residual needs equal channels, got {shortcut.shape[-1]} -> {block.out}"
            )
        x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return x, expanded


def build_blocks(x: tf.Tensor, blocks: list[Block], prefix: str, style: ConvStyle) -> dict[str, tf.Tensor]:
    """Stack ``blocks`` on ``x``.

    Args:
        x: Input tensor.
        blocks: Block specs, in order.
        prefix: Prefix of every layer name (block i is ``{prefix}_block{i}``).
        style: BatchNormalization and regularization settings.

    Returns:
        The tensors of every block with an ``endpoint`` name, plus ``"output"`` (the last block's output).
    """
    endpoints: dict[str, tf.Tensor] = {}
    for index, block in enumerate(blocks):
        x, expanded = _build_block(x, block, f"{prefix}_block{index}", style)
        if block.endpoint is not None:
            endpoints[block.endpoint] = expanded if block.endpoint_at == AT_EXPANSION else x
    endpoints["output"] = x
    return endpoints


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of ``divisor``, never more than 10% down (MobileNetV2/V3 reference code).

    Returns:
        The rounded channel count.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded
