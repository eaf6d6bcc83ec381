"""Fixtures of the detector-zoo tests: seeded RNGs, a fresh Keras graph per test, tiny models."""

from __future__ import annotations

# isort: off
import bench  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: on
import numpy as np
import pytest
import tf_keras as keras

SEED = 1234


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same seeds and an empty Keras session."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    yield
    keras.backend.clear_session()


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator."""
    return np.random.default_rng(SEED)


@pytest.fixture(scope="session")
def tiny_split(tmp_path_factory):
    """A few synthetic training images (8 classes): fine-tuning data of the qat / pruned recipes."""
    from tiny_zoo import synthetic_split

    return synthetic_split(tmp_path_factory.mktemp("synth"))
