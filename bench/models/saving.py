"""The custom objects a saved zoo model needs to load: the zoo's layers and tfmot's wrappers.

Separate from ``quantization`` (which the layers use to annotate themselves) so that neither of the two
imports the other.
"""

from __future__ import annotations

import tensorflow_model_optimization as tfmot
import tf_keras as keras

from bench.models.layers import HardSigmoid, HardSwish
from bench.models.quantization import OutputQuantizeConfig


def custom_objects() -> dict[str, object]:
    """Every custom class a zoo model (float or QAT) may contain, by its registered and plain names.

    Includes tfmot's own wrapper, quantizer and config classes (what its ``quantize_scope`` adds), since
    even the float model holds ``QuantizeAnnotate`` wrappers.

    Returns:
        A dict for ``keras.models.load_model(..., custom_objects=...)`` or
        ``keras.utils.custom_object_scope``.
    """
    objects: dict[str, object] = {}
    for scope_objects in tfmot.quantization.keras.quantize_scope().custom_objects:
        objects.update(scope_objects)
    for cls in (HardSwish, HardSigmoid, OutputQuantizeConfig):
        objects[cls.__name__] = cls
        objects[keras.utils.get_registered_name(cls)] = cls
    return objects


def quantize_scope():
    """tfmot's ``quantize_scope`` extended with the zoo's classes (:func:`custom_objects`).

    Use it around ``quantize_model`` / ``quantize_apply`` and when loading a saved QAT model.

    Returns:
        A context manager (a Keras ``CustomObjectScope``).
    """
    return tfmot.quantization.keras.quantize_scope(custom_objects())
