"""What tfmot needs to quantize the zoo: quantize configs, annotation, custom objects and scope.

tfmot's ``quantize_model`` only knows Keras' built-in layers. The zoo's own parameter-free layers
(:class:`~bench.models.layers.HardSwish`, :class:`~bench.models.layers.HardSigmoid`) and Keras'
``Multiply`` (the squeeze-excite gate) are not in its registry, so the builders wrap each of them in a
``QuantizeAnnotate`` carrying :class:`OutputQuantizeConfig` when the float model is built. The wrapper
is a pass-through in float, and ``tfmot.quantization.keras.quantize_model(model)`` keeps annotations it
finds, so the float model goes through ``quantize_model`` as is::

    with quantize_scope():
        qat_model = tfmot.quantization.keras.quantize_model(model)

The zoo's classes are registered with Keras under the ``edgebench`` package; tfmot's wrappers are not,
so loading a saved zoo model (float ones hold ``QuantizeAnnotate`` too) needs
``custom_objects=custom_objects()`` or ``with quantize_scope():``.

A QAT model straight out of ``quantize_model`` has its input quantizer's range at [0, 0] (tfmot learns
it in training); converting it before at least one training-mode step quantizes every image to zero.
"""

from __future__ import annotations

import tensorflow_model_optimization as tfmot
import tf_keras as keras

# tfmot's public API builds this wrapper only through quantize_annotate_layer, which cannot name it.
from tensorflow_model_optimization.python.core.quantization.keras.quantize_annotate import QuantizeAnnotate

_PACKAGE = "edgebench"


@keras.utils.register_keras_serializable(package=_PACKAGE)
class OutputQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """Quantize only a layer's output: for weight-free layers (hard-swish, hard-sigmoid, multiply).

    Uses the same 8-bit asymmetric moving-average quantizer tfmot's default scheme puts on ``Add`` and
    ``ReLU`` outputs, so the TFLite converter sees one range per tensor, as on built-in layers.
    """

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        del layer, quantize_weights  # No weights to replace.

    def set_quantize_activations(self, layer, quantize_activations):
        del layer, quantize_activations  # No activation attributes to replace.

    def get_output_quantizers(self, layer):
        return [
            tfmot.quantization.keras.quantizers.MovingAverageQuantizer(
                num_bits=8, per_axis=False, symmetric=False, narrow_range=False
            )
        ]

    def get_config(self):
        return {}


def annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
    """Wrap a weight-free layer tfmot does not know so that ``quantize_model`` accepts it.

    Args:
        layer: A layer without weights (its output alone is quantized).

    Returns:
        The layer inside a ``QuantizeAnnotate`` named like the layer plus ``_qa``.
    """
    return QuantizeAnnotate(layer, OutputQuantizeConfig(), name=f"{layer.name}_qa")


def unwrap(layer: keras.layers.Layer) -> keras.layers.Layer:
    """Return the layer inside tfmot's annotate / quantize wrappers (or the layer itself)."""
    while hasattr(layer, "layer") and isinstance(layer, keras.layers.Wrapper):
        layer = layer.layer
    return layer
