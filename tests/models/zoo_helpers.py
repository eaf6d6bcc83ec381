"""Helpers of the detector-zoo tests (imported by the test modules as ``zoo_helpers``)."""

from __future__ import annotations

import numpy as np
import tf_keras as keras

from bench.models.registry import build_model, get_config
from bench.scripts.zoo_tflite import recalibrate_batchnorm


def realistic_tiny(name: str, rng: np.random.Generator):
    """A tiny variant with weights that give spread-out predictions (untrained heads predict ~constants).

    The head kernels are redrawn (output std about 0.5 for unit inputs), so scores and boxes differ
    clearly from anchor to anchor; BatchNormalization statistics then come from random images.

    Returns:
        (config, model).
    """
    config = get_config(name)
    model = build_model(config)
    for layer in model.layers:
        # The last conv of each head (DepthwiseConv2D subclasses Conv2D, hence the exact type).
        if layer.name.startswith("head") and type(layer) is keras.layers.Conv2D:
            kernel = layer.kernel
            fan_in = int(np.prod(kernel.shape[:-1]))
            layer.kernel.assign(rng.normal(0.0, 0.5 / np.sqrt(fan_in), kernel.shape).astype(np.float32))
    recalibrate_batchnorm(model, config)
    return config, model


def random_image(config, rng: np.random.Generator) -> np.ndarray:
    """One float32 [1, H, W, 3] image in [-1, 1]."""
    size = config.input_size
    return rng.uniform(-1.0, 1.0, (1, size, size, 3)).astype(np.float32)
