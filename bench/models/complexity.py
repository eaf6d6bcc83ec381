"""Parameter and MAdd counts, by the counting rules of reference/detectors.md ("How to count").

* MAdds: multiply-accumulates of Conv2D, DepthwiseConv2D and Dense only (no BN, activation, SE
  multiply, add, bias).
* Params: trainable; with BatchNormalization statistics (every variable, as the MobileDet config
  headers count); BN-folded (what a frozen inference graph holds, as the MobileNetV3 paper counts):
  folding a BN into its bias-free conv scales the kernel by gamma / sigma and turns beta into the conv
  bias, so one value per BN channel disappears (the reference's figures are trainable minus one per
  BN channel, e.g. 4,500,543 - 25,376 = 4,475,167 for ssdlite_mobilenet_v2).

Works on float and QAT models: tfmot wrappers are looked through, and their quantizer variables are
not counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import tf_keras as keras

from bench.models.quantization import unwrap


@dataclass(frozen=True)
class Complexity:
    """Model size and compute."""

    params_trainable: int  # trainable variables (BN gamma / beta included)
    params_with_bn_stats: int  # plus BN moving mean / variance
    params_bn_folded: int  # after folding BN into the convs: trainable minus one per BN channel
    madds: int  # multiply-accumulates of one image

    def as_dict(self) -> dict[str, int]:
        """Plain dict of the four counts."""
        return asdict(self)


def _size(variables) -> int:
    return int(sum(np.prod(v.shape) for v in variables))


def layer_madds(layer: keras.layers.Layer) -> int:
    """MAdds of one (unwrapped) layer for one image; 0 for layers that are not counted."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        _, out_h, out_w, _ = layer.output_shape
        kernel_h, kernel_w, channels, multiplier = layer.depthwise_kernel.shape
        return int(out_h * out_w * kernel_h * kernel_w * channels * multiplier)
    if isinstance(layer, keras.layers.Conv2D):
        _, out_h, out_w, _ = layer.output_shape
        return int(out_h * out_w * np.prod(layer.kernel.shape))  # kernel already holds C_in / groups
    if isinstance(layer, keras.layers.Dense):
        positions = int(np.prod(layer.output_shape[1:-1])) if len(layer.output_shape) > 2 else 1
        return int(positions * np.prod(layer.kernel.shape))
    return 0


def count_complexity(model: keras.Model) -> Complexity:
    """Count params and MAdds of a built functional model.

    Args:
        model: A float zoo model, or its tfmot QAT version.

    Returns:
        The four counts.
    """
    trainable = with_stats = bn_channels = madds = 0
    for wrapped in model.layers:
        layer = unwrap(wrapped)
        trainable += _size(layer.trainable_weights)
        with_stats += _size(layer.weights)
        if isinstance(layer, keras.layers.BatchNormalization):
            bn_channels += int(layer.moving_mean.shape[-1])
        madds += layer_madds(layer)
    return Complexity(trainable, with_stats, trainable - bn_channels, madds)
