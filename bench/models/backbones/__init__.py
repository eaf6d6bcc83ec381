"""Backbones built from block specs: name -> builder returning the (C4, C5) feature maps."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import tensorflow as tf

from bench.models.backbones.mobiledet import mobiledet
from bench.models.backbones.mobilenet_v2 import mobilenet_v2
from bench.models.backbones.mobilenet_v3 import mobilenet_v3

BackboneFn = Callable[[tf.Tensor, float], tuple[tf.Tensor, tf.Tensor]]

# Every backbone takes (inputs, width) and returns (C4 at stride 16, C5 at stride 32).
BACKBONES: dict[str, BackboneFn] = {
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_large": partial(mobilenet_v3, size="large"),
    "mobilenet_v3_small": partial(mobilenet_v3, size="small"),
    "mobiledet_cpu": partial(mobiledet, kind="cpu"),
    "mobiledet_edgetpu": partial(mobiledet, kind="edgetpu"),
    "mobiledet_dsp": partial(mobiledet, kind="dsp"),
    "mobiledet_gpu": partial(mobiledet, kind="gpu"),
}
