"""Helpers of the detector-zoo tests (imported by the test modules as ``zoo_helpers``)."""

from __future__ import annotations

import numpy as np
import tf_keras as keras

from bench.models.registry import build_model, get_config
from bench.scripts.zoo_tflite import recalibrate_batchnorm


def realistic_tiny(name: str, rng: np.random.Generator):
    """A tiny variant with weights that give spread-out predictions (untrained heads predict ~constants).

    BatchNormalization statistics come from random images; the head kernels are redrawn with unit
    output variance, so scores and boxes differ clearly from anchor to anchor.

    Returns:
        (config, model).
    """
    config = get_config(name)
    model = build_model(config)
    recalibrate_batchnorm(model, config)
    for layer in model.layers:
        if layer.name.startswith("head") and isinstance(layer, keras.layers.Conv2D):
            kernel = layer.kernel
            fan_in = int(np.prod(kernel.shape[:-1]))
            layer.kernel.assign(rng.normal(0.0, 1.0 / np.sqrt(fan_in), kernel.shape).astype(np.float32))
    return config, model


def random_image(config, rng: np.random.Generator) -> np.ndarray:
    """One float32 [1, H, W, 3] image in [-1, 1]."""
    size = config.input_size
    return rng.uniform(-1.0, 1.0, (1, size, size, 3)).astype(np.float32)
