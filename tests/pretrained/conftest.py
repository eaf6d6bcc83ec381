"""Fixtures of the pretrained-init tests: a fresh Keras session and seeds per test."""

from __future__ import annotations

# isort: off
import bench  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: on
import pytest
import tf_keras as keras


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same seeds and an empty Keras session."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(7)
    yield
    keras.backend.clear_session()
