"""Fixtures of the OD API import tests: checkpoints written with the OD API's own variable names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def random_tensors(table, seed: int = 0) -> dict[str, np.ndarray]:
    """Random values for every table entry: kernels at He scale, BatchNorm statistics in sane ranges."""
    rng = np.random.default_rng(seed)
    values = {}
    for entry in table:
        shape = entry.shape
        if entry.weight in ("kernel", "depthwise_kernel"):
            fan_in = int(np.prod(shape[:2])) * (1 if entry.weight == "depthwise_kernel" else shape[2])
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        elif entry.weight in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        else:  # beta, moving_mean, bias
            value = rng.normal(0.0, 0.1, shape)
        values[entry.name] = value.astype(np.float32)
    return values


def write_tf1_checkpoint(prefix: Path, tensors: dict[str, np.ndarray]) -> str:
    """A name-based (TF1 Saver format) checkpoint: one tensor per variable name, as the OD API wrote."""
    import tensorflow as tf

    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors[n]) for n in names],
    )
    return str(prefix)


@pytest.fixture(scope="module")
def v3_small():
    """The full-size SSDLite-MobileNetV3-Small (builds in a few seconds), its config and OD API table."""
    from bench.models.pretrained.od_api_table import checkpoint_table
    from bench.models.registry import build_model, get_config

    config = get_config("ssdlite_mobilenet_v3_small")
    return build_model(config), config, checkpoint_table(config)


@pytest.fixture
def write_checkpoint(tmp_path):
    """A function writing the OD API checkpoint of a table (random values) into ``tmp_path``.

    ``write(table, extra={name: array}, drop=(names...), seed=0)`` returns (prefix, tensors written).
    """

    def write(table, extra=None, drop=(), seed=0, name="model.ckpt"):
        tensors = {k: v for k, v in random_tensors(table, seed).items() if k not in drop}
        tensors.update(extra or {})
        return write_tf1_checkpoint(tmp_path / name, tensors), tensors

    return write


def write_object_checkpoint(prefix: Path, tensors: dict[str, np.ndarray]) -> str:
    """An object-based (TF2) checkpoint whose keys are ``tensors``' names: a tree of tf.Module objects
    with one attribute per path component, as tf.train.Checkpoint(model=...) saves a Keras model."""
    import tensorflow as tf

    from bench.models.pretrained.od_api_tf2_table import SUFFIX

    root = tf.Module()
    for name, value in tensors.items():
        *parents, leaf = name.removesuffix(SUFFIX).split("/")
        node = root
        for part in parents[1:]:  # parents[0] is the checkpoint's "model" key
            if not hasattr(node, part):
                setattr(node, part, tf.Module())
            node = getattr(node, part)
        setattr(node, leaf, tf.Variable(value))
    return tf.train.Checkpoint(model=root).write(str(prefix))


@pytest.fixture
def write_tf2_checkpoint(tmp_path):
    """``write(tensors, relative_prefix)`` -> prefix of an object-based checkpoint in ``tmp_path``."""
    return lambda tensors, relative: write_object_checkpoint(tmp_path / relative, tensors)


@pytest.fixture
def random_values():
    """:func:`random_tensors`, for tests that write their own checkpoint."""
    return random_tensors
