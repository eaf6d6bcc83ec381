"""Fixtures of the pretrained-init tests: a fresh Keras session and seeds per test."""

from __future__ import annotations

# isort: off
import bench  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: on
from pathlib import Path

import pytest
import tf_keras as keras

from bench.data.coco import CocoDataset, load_coco
from bench.data.synthetic import SynthConfig, generate_synthetic

# Small enough to render in a second or two, large enough for a few batches of 8.
TINY_DATA = SynthConfig(seed=3, train=32, val=8, size=96, max_objects=4)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same seeds and an empty Keras session."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(7)
    yield
    keras.backend.clear_session()


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A tiny synthetic COCO-format dataset (train and val split folders)."""
    return generate_synthetic(tmp_path_factory.mktemp("synth") / "data", TINY_DATA, workers=1)


@pytest.fixture(scope="session")
def train_split(synth_root) -> CocoDataset:
    return load_coco(synth_root / "train")
