"""MobileDet backbones: CPU, EdgeTPU, DSP and GPU (MobileDets paper, Figures 8-11; TF OD API
ssd_mobiledet_feature_extractor.py, whose block lists reference/detectors.md reproduces).

The layouts are written in the reference's notation, one block per ``|``:
``<Kind><channels>`` then options ``eN`` (expansion, default 8), ``kN`` (kernel, default 3), ``sN``
(stride, default 1), ``rF`` (no residual; default residual), ``xN`` (repeat N times),
``t<in>,<out>`` (Tucker rank ratios), and ``C4`` / ``C5`` marking the endpoint.
Kinds: ``stem`` (regular 3x3 conv), ``IBN``, ``IBNNoExp``, ``Fused``, ``Tucker``.
"""

from __future__ import annotations

import re

import tensorflow as tf

from bench.models.backbones.blocks import CONV, FUSED, IBN, TUCKER, Block, build_blocks
from bench.models.layers import DEPTHWISE_PER_CHANNEL, HARD_SWISH, RELU6, SIGMOID, ConvStyle

LAYOUTS = {
    # hard-swish everywhere, SE in every IBN.
    "cpu": "stem16 s2 | IBNNoExp8 | IBN16 e4 s2 rF | IBN32 e8 s2 rF | IBN32 e4 x3 |"
    " IBN72 e8 k5 s2 rF | IBN72 e8 | IBN72 e4 k5 | IBN72 e4 | IBN72 e8 rF | IBN72 e8 x3 C4 |"
    " IBN104 e8 k5 s2 rF | IBN104 e4 k5 | IBN104 e4 k5 | IBN104 e4 | IBN144 e8 rF C5",
    "edgetpu": "stem32 s2 | Tucker16 t.25,.75 rF | Fused16 e8 s2 rF | Fused16 e4 | Fused16 e8 | Fused16 e4 |"
    " Fused40 e8 k5 s2 rF | Fused40 e4 x3 | IBN72 e8 s2 rF | IBN72 e8 | Fused72 e4 x2 |"
    " IBN96 e8 k5 rF | IBN96 e8 k5 | IBN96 e8 x2 C4 |"
    " IBN120 e8 k5 s2 rF | IBN120 e8 | IBN120 e4 k5 | IBN120 e8 | IBN384 e8 k5 rF C5",
    "dsp": "stem32 s2 | IBNNoExp24 | Fused32 e4 s2 rF | Fused32 e4 | IBN32 e4 | Tucker32 t.25,.75 |"
    " Fused64 e8 s2 rF | IBN64 e4 | Fused64 e4 x2 | Fused120 e8 s2 rF | IBN120 e4 | IBN120 e8 x2 |"
    " Fused144 e8 rF | IBN144 e8 x3 C4 |"
    " IBN160 e4 s2 rF | IBN160 e4 | Fused160 e4 | Tucker160 t.75,.75 | IBN240 e8 rF C5",
    "gpu": "stem32 s2 | Tucker16 t.25,.25 rF | Fused32 e8 s2 rF | Tucker32 t.25,.25 x3 |"
    " Fused64 e8 s2 rF | Fused64 e8 x2 | Fused64 e4 | Fused128 e8 s2 rF | Fused128 e4 x3 |"
    " Fused128 e8 rF | Fused128 e8 x3 C4 | Fused128 e4 s2 rF | Fused128 e4 x3 |"
    " IBN384 e8 rF C5",
}

# The OD API builds the MobileDet backbones with BatchNormalization epsilon 0.01, momentum 0.99, and
# initialises their depthwise kernels with He's variance over the k * k inputs of one channel (not
# Keras' k * k * channels). With Keras' count, the expanded depthwise outputs start with a variance at
# or below that epsilon, BatchNormalization damps them (std 0.3-0.8 instead of 1), and MobileDet-CPU
# learned more slowly (docs/mobiledet.md).
STYLE = ConvStyle(bn_momentum=0.99, bn_epsilon=0.01, depthwise_init=DEPTHWISE_PER_CHANNEL)
_SE_RATIO = 0.25
_HEAD = re.compile(r"^(stem|IBNNoExp|IBN|Fused|Tucker)(\d+)$")


def scale_filters(filters: float, multiplier: float, base: int = 8) -> int:
    """MobileDet width rounding: ``max(int(filters * multiplier / base + 0.5) * base, base)``."""
    return max(int(filters * multiplier / base + 0.5) * base, base)


def _parse(token: str) -> tuple[str, int, dict]:
    words = token.split()
    head = _HEAD.match(words[0])
    if head is None:
        raise ValueError(f"MobileDet layout: cannot parse block {token!r}")
    opts = {"e": 8, "k": 3, "s": 1, "r": True, "x": 1, "t": None, "endpoint": None}
    for word in words[1:]:
        if word in ("C4", "C5"):
            opts["endpoint"] = word
        elif word == "rF":
            opts["r"] = False
        elif word[0] == "t":
            opts["t"] = tuple(float(v) for v in word[1:].split(","))
        else:
            opts[word[0]] = int(word[1:])
    return head.group(1), int(head.group(2)), opts


def _block(kind: str, out: int, channels: int, opts: dict, act: str, use_se: bool) -> Block:
    """One resolved block; ``channels`` is its actual input width."""
    common = {"kernel": opts["k"], "stride": opts["s"], "act": act, "endpoint": opts["endpoint"]}
    if kind == "stem":
        return Block(CONV, out, **common)
    if kind == "Tucker":
        ranks = (scale_filters(channels, opts["t"][0]), scale_filters(out, opts["t"][1]))
        return Block(TUCKER, out, ranks=ranks, residual=opts["r"], **common)
    expand = None if kind == "IBNNoExp" else channels * opts["e"]
    se_hidden = scale_filters(expand or channels, _SE_RATIO) if use_se and kind != "Fused" else None
    # IBNNoExp has no residual in the OD API.
    residual = opts["r"] and kind != "IBNNoExp"
    return Block(
        FUSED if kind == "Fused" else IBN,
        out,
        expand=expand,
        se_hidden=se_hidden,
        se_act=act,
        se_gate=SIGMOID,
        residual=residual,
        **common,
    )


def mobiledet_blocks(kind: str, width: float = 1.0) -> list[Block]:
    """The MobileDet layout ``kind`` ("cpu", "edgetpu", "dsp", "gpu") as resolved blocks.

    Args:
        kind: Which search space / target hardware.
        width: Width multiplier applied to every block's output (:func:`scale_filters`); expansions
            are ``input channels * e``, SE hidden and Tucker ranks use :func:`scale_filters`.

    Returns:
        The blocks, with C4 and C5 marked.
    """
    act = HARD_SWISH if kind == "cpu" else RELU6
    use_se = kind == "cpu"
    blocks: list[Block] = []
    channels = 3
    for token in LAYOUTS[kind].split("|"):
        name, filters, opts = _parse(token.strip())
        out = scale_filters(filters, width)
        for repeat in range(opts["x"]):
            # Only the last repeat carries the endpoint mark.
            last = repeat == opts["x"] - 1
            block = _block(
                name, out, channels, {**opts, "endpoint": opts["endpoint"] if last else None}, act, use_se
            )
            blocks.append(block)
            channels = block.out
    return blocks


def mobiledet(inputs: tf.Tensor, kind: str, width: float = 1.0) -> tuple[tf.Tensor, tf.Tensor]:
    """Build a MobileDet backbone.

    Args:
        inputs: Image tensor [B, H, W, 3].
        kind: "cpu", "edgetpu", "dsp" or "gpu".
        width: Width multiplier.

    Returns:
        (C4, C5) feature maps at strides 16 and 32.
    """
    endpoints = build_blocks(inputs, mobiledet_blocks(kind, width), f"mobiledet_{kind}", STYLE)
    return endpoints["C4"], endpoints["C5"]
