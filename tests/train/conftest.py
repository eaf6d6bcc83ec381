"""Fixtures of the training tests: a small synthetic split on disk (made once), tiny variant configs."""

from __future__ import annotations

# isort: off
import bench  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: on
from pathlib import Path

import pytest
import tf_keras as keras

from bench.data.coco import CocoDataset, load_coco
from bench.data.synthetic import SynthConfig, generate_synthetic
from bench.models.config import ModelConfig
from bench.models.registry import get_config

# Small enough to render in a second or two, large enough for a few batches of 8.
TINY_DATA = SynthConfig(seed=3, train=48, val=12, size=96, max_objects=4)
VARIANT = "tiny_ssdlite_mobilenet_v2"


@pytest.fixture(autouse=True)
def _fresh_keras():
    """An empty Keras session and fixed seeds per test."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """The tiny synthetic dataset (train and val split folders)."""
    return generate_synthetic(tmp_path_factory.mktemp("synth") / "data", TINY_DATA, workers=1)


@pytest.fixture(scope="session")
def train_split(synth_root) -> CocoDataset:
    return load_coco(synth_root / "train")


@pytest.fixture(scope="session")
def val_split(synth_root) -> CocoDataset:
    return load_coco(synth_root / "val")


@pytest.fixture
def tiny_config(train_split) -> ModelConfig:
    """The tiny MobileNetV2 SSDLite with the dataset's 8 classes (96 px, width 0.25)."""
    return get_config(VARIANT, num_classes=train_split.num_classes)


@pytest.fixture(scope="module")
def tiny_config_module(train_split) -> ModelConfig:
    """:func:`tiny_config` for module-scoped fixtures."""
    return get_config(VARIANT, num_classes=train_split.num_classes)
