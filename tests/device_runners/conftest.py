"""Fixtures of the device-runner tests: a tiny .tflite model built with TensorFlow, a running sshd."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-conv float model at 16x16 (fast to build and to time), converted with TensorFlow."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    outputs = keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(x))
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, outputs))
    path = tmp_path_factory.mktemp("models") / "tiny.tflite"
    path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    """A real OpenSSH server on 127.0.0.1 for this module (skips when OpenSSH is not installed)."""
    from dr_sshd import running_sshd

    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_worker_crash_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker's test-only crash hook stays off unless a test sets it (through a wrapper script).
    monkeypatch.delenv("EDGEBENCH_TEST_CRASH", raising=False)
