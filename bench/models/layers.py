"""Layers and layer groups every builder shares, all quantizable by tfmot and convertible to TFLite.

Hard-swish and hard-sigmoid are Keras layers here, not lambdas: Keras' own MobileNetV3 builds them from
TFOpLambda layers, which tfmot's ``quantize_model`` rejects (reference/detectors.md, Layouts). They are
wrapped in ``QuantizeAnnotate`` at build time (see :mod:`bench.models.quantization`).

How hard-swish reaches TFLite is the export's choice (:func:`hard_swish_layout`), made per recipe
(``converters.recipes.HardSwishOps``), because no one form is best everywhere (README "Compression"):

- fused: ``x * relu6(x + 3) / 6``, which the converter fuses into one HARD_SWISH op. LiteRT's XNNPack
  delegate runs HARD_SWISH in float only, so in an int8 file every HARD_SWISH falls back to the builtin
  kernels and splits the graph into one delegate partition per activation (MobileDet-CPU int8 on
  XNNPack: 13.9 ms against 4.1 split). In float, XNNPack runs it, faster than the split form.
- split: ``(x / 6) * relu6(x + 3)``, an order the converter does not fuse: ADD (fused ReLU6), MUL, MUL,
  which XNNPack runs in int8 too. In int8 the network drifts further from float this way: MobileDet-CPU's
  post-training int8 file keeps 94.7% of the fp32 mAP split, 98.5% fused, with twice the error in the
  post-processing's inputs. (One activation alone errs alike both ways; a stack of them does not:
  tests/converters/test_conv_hard_swish.py.)

Training traces the split form (the weights of every run so far were trained through it; both forms
are the same function). In hard-sigmoid ``relu6(z + 3) / 6`` after a convolution, the ``+ 3`` folds into
the conv bias and ReLU6 into the conv.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

import tensorflow as tf
import tf_keras as keras

from bench.models.quantization import annotate

# Activation names used in block specs.
RELU = "relu"
RELU6 = "relu6"
HARD_SWISH = "hswish"
HARD_SIGMOID = "hsigmoid"
SIGMOID = "sigmoid"
LINEAR = "linear"
ACTIVATIONS = (RELU, RELU6, HARD_SWISH, HARD_SIGMOID, SIGMOID, LINEAR)


_FUSED_HARD_SWISH = contextvars.ContextVar("fused_hard_swish", default=False)


@contextlib.contextmanager
def hard_swish_layout(fused: bool) -> Iterator[None]:
    """Trace :class:`HardSwish` layers as one HARD_SWISH op (``fused``) or as ADD, MUL, MUL inside this
    block (see the module docstring). Only tracing sees it: a ``tf.function`` traced before keeps its form."""
    token = _FUSED_HARD_SWISH.set(fused)
    try:
        yield
    finally:
        _FUSED_HARD_SWISH.reset(token)


@keras.utils.register_keras_serializable(package="edgebench")
class HardSwish(keras.layers.Layer):
    """Hard-swish ``x * ReLU6(x + 3) / 6`` (MobileNetV3 paper, Section 5.2)."""

    def call(self, inputs):
        if _FUSED_HARD_SWISH.get():
            return inputs * tf.nn.relu6(inputs + 3.0) / 6.0  # the converter's HARD_SWISH pattern
        # This operand order keeps the converter from fusing a HARD_SWISH op (see the module docstring).
        return (inputs * (1.0 / 6.0)) * tf.nn.relu6(inputs + 3.0)


@keras.utils.register_keras_serializable(package="edgebench")
class HardSigmoid(keras.layers.Layer):
    """Hard-sigmoid ``ReLU6(x + 3) / 6`` (MobileNetV3 paper, Section 5.2; not Keras' 0.2x + 0.5)."""

    def call(self, inputs):
        return tf.nn.relu6(inputs + 3.0) * (1.0 / 6.0)


@dataclass(frozen=True)
class ConvStyle:
    """How the convolutions of one part of a network are built."""

    bn_momentum: float = 0.997  # BatchNormalization momentum (the TF OD API's decay 0.97..0.997)
    bn_epsilon: float = 1e-3  # BatchNormalization epsilon
    weight_decay: float = 4e-5  # L2 weight of the OD API configs on regular conv kernels (0 disables)
    # Fan-in of the depthwise kernels' He initialisation: DEPTHWISE_FAN_IN_ALL counts k * k * channels, as
    # Keras' VarianceScaling (and its glorot default for Keras' own MobileNetV2) computes it for a
    # [k, k, C, 1] kernel; DEPTHWISE_PER_CHANNEL counts k * k, the inputs one output really sees (the OD
    # API's MobileDet backbones). See docs/mobiledet.md.
    depthwise_init: str = "fan_in_all"


def activation(x: tf.Tensor, kind: str, name: str) -> tf.Tensor:
    """Apply one of :data:`ACTIVATIONS` as its own layer (``linear`` adds nothing).

    Args:
        x: Input tensor.
        kind: Activation name.
        name: Layer name.

    Returns:
        The activated tensor.
    """
    if kind == LINEAR:
        return x
    if kind == RELU:
        return keras.layers.ReLU(name=name)(x)
    if kind == RELU6:
        return keras.layers.ReLU(6.0, name=name)(x)
    if kind == SIGMOID:
        return keras.layers.Activation("sigmoid", name=name)(x)
    if kind == HARD_SWISH:
        return annotate(HardSwish(name=name))(x)
    if kind == HARD_SIGMOID:
        return annotate(HardSigmoid(name=name))(x)
    raise ValueError(f"activation: got {kind!r}; allowed: {', '.join(ACTIVATIONS)}")


DEPTHWISE_FAN_IN_ALL = "fan_in_all"
DEPTHWISE_PER_CHANNEL = "per_channel"
DEPTHWISE_INITS = (DEPTHWISE_FAN_IN_ALL, DEPTHWISE_PER_CHANNEL)


def _fan_in_init() -> keras.initializers.Initializer:
    # He initialisation keeps unit activation variance whatever the width. The OD API configs' fixed
    # stddev 0.03 does not: at small widths (fan-in 9..100) each conv + BN shrinks the signal, and
    # with MobileDet's BN epsilon 0.01 an untrained tiny model outputs constants.
    return keras.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal")


def depthwise_initializer(style: ConvStyle, channels: int) -> keras.initializers.Initializer:
    """He initialisation of a [k, k, channels, 1] depthwise kernel, with the fan-in ``style`` names.

    Per channel, each output sees k * k inputs, so He's variance is 2 / (k * k); Keras counts the fan-in
    of that kernel shape as k * k * channels, which makes every weight ``sqrt(channels)`` times smaller.
    Behind BatchNormalization the forward signal does not care, but a depthwise output whose variance
    falls near the BN epsilon is damped, and Adam's fixed-size steps are large relative to tiny weights.

    Raises:
        ValueError: An unknown ``style.depthwise_init``.
    """
    if style.depthwise_init == DEPTHWISE_FAN_IN_ALL:
        return _fan_in_init()
    if style.depthwise_init == DEPTHWISE_PER_CHANNEL:
        # VarianceScaling divides by Keras' fan-in (k * k * channels): scaling by `channels` leaves k * k.
        return keras.initializers.VarianceScaling(2.0 * channels, "fan_in", "truncated_normal")
    allowed = ", ".join(DEPTHWISE_INITS)
    raise ValueError(f"ConvStyle.depthwise_init: got {style.depthwise_init!r}; allowed: {allowed}")


def _kernel_args(style: ConvStyle, regularize: bool) -> dict:
    # L2 on regular convs only (the OD API's regularize_depthwise defaults to false);
    # slim's l2_regularizer(w) is w * sum(v^2) / 2, hence the 0.5.
    reg = keras.regularizers.l2(0.5 * style.weight_decay) if regularize and style.weight_decay else None
    return {"kernel_initializer": _fan_in_init(), "kernel_regularizer": reg}


def conv_bn(
    x: tf.Tensor, filters: int, kernel: int, stride: int, act: str, name: str, style: ConvStyle
) -> tf.Tensor:
    """Regular convolution without bias, BatchNormalization, activation.

    Returns:
        The output tensor.
    """
    x = keras.layers.Conv2D(
        filters,
        kernel,
        stride,
        padding="same",
        use_bias=False,
        name=f"{name}_conv",
        **_kernel_args(style, True),
    )(x)
    x = keras.layers.BatchNormalization(
        momentum=style.bn_momentum, epsilon=style.bn_epsilon, name=f"{name}_bn"
    )(x)
    return activation(x, act, f"{name}_{act}")


def depthwise_bn(x: tf.Tensor, kernel: int, stride: int, act: str, name: str, style: ConvStyle) -> tf.Tensor:
    """Depthwise convolution (multiplier 1) without bias, BatchNormalization, activation.

    Returns:
        The output tensor.
    """
    x = keras.layers.DepthwiseConv2D(
        kernel,
        stride,
        padding="same",
        use_bias=False,
        depthwise_initializer=depthwise_initializer(style, x.shape[-1]),
        name=f"{name}_dwconv",
    )(x)
    x = keras.layers.BatchNormalization(
        momentum=style.bn_momentum, epsilon=style.bn_epsilon, name=f"{name}_bn"
    )(x)
    return activation(x, act, f"{name}_{act}")


def squeeze_excite(x: tf.Tensor, hidden: int, act: str, gate: str, name: str, style: ConvStyle) -> tf.Tensor:
    """Squeeze-and-excite: global pool, 1x1 conv with bias (``act``), 1x1 conv with bias (``gate``), scale.

    MobileNetV3 uses ReLU and hard-sigmoid (paper, Figure 4); MobileDet-CPU the block activation and a
    sigmoid (TF OD API ssd_mobiledet_feature_extractor.py).

    Args:
        x: Input tensor [B, H, W, C].
        hidden: Channels of the squeeze conv.
        act: Activation after the squeeze conv.
        gate: Activation producing the per-channel scale.
        name: Prefix of the layer names.
        style: Convolution style (only the weight decay applies).

    Returns:
        ``x`` scaled per channel.
    """
    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    s = keras.layers.Conv2D(hidden, 1, name=f"{name}_reduce", **_kernel_args(style, True))(s)
    s = activation(s, act, f"{name}_reduce_{act}")
    s = keras.layers.Conv2D(channels, 1, name=f"{name}_expand", **_kernel_args(style, True))(s)
    s = activation(s, gate, f"{name}_expand_{gate}")
    return annotate(keras.layers.Multiply(name=f"{name}_scale"))([x, s])


def head_conv(
    x: tf.Tensor, filters: int, kernel: int, bias_init: float | list[float], name: str, style: ConvStyle
) -> tf.Tensor:
    """The final prediction convolution of a head: with bias, no BatchNormalization, no activation.

    ``bias_init`` is one value for every output channel, or one per channel.

    Returns:
        The output tensor.
    """
    return keras.layers.Conv2D(
        filters,
        kernel,
        padding="same",
        bias_initializer=keras.initializers.Constant(bias_init),
        name=name,
        # Small initial predictions (the OD API configs' truncated normal, stddev 0.03).
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.03),
        kernel_regularizer=_kernel_args(style, True)["kernel_regularizer"],
    )(x)
