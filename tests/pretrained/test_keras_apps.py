"""ImageNet init: Keras Applications weights land in the zoo backbones through the real loading path.

No download: the Keras Applications model is built with ``weights=None``, given random weights (BN
statistics too), saved as Keras saves its published files, and loaded back by path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from bench.models.backbones import BACKBONES
from bench.models.pretrained.keras_apps import keras_application, load_imagenet_backbone
from common.errors import InputError

SIZE = 96  # the Keras Applications model and the zoo backbone run on the same images


def randomize(model: keras.Model, seed: int) -> None:
    """Random kernels (He scale), biases and BatchNormalization gamma / beta / mean / variance."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape, name = tuple(weight.shape), weight.name
        if "gamma" in name or "moving_variance" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "beta" in name or "moving_mean" in name or "bias" in name:
            value = rng.normal(0.0, 0.1, shape)
        else:
            fan_in = int(np.prod(shape[:2])) if "depthwise" in name else int(np.prod(shape[:-1]))
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        weight.assign(value.astype(np.float32))


def saved_application(tmp_path: Path, backbone: str, width: float, seed: int = 0) -> tuple[Path, keras.Model]:
    reference = keras_application(backbone, width, None, SIZE)
    randomize(reference, seed)
    path = tmp_path / f"{backbone}_{width}_no_top.h5"
    reference.save_weights(str(path))
    return path, reference


def zoo_backbone(backbone: str, width: float) -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 3))
    return keras.Model(inputs, list(BACKBONES[backbone](inputs, width=width)))


def keras_taps(reference: keras.Model, backbone: str) -> list[tf.Tensor]:
    """The Keras tensors the SSD head taps: C4 (and C5 where the zoo's last conv matches Keras')."""
    if backbone == "mobilenet_v2":
        return [reference.get_layer("block_13_expand_relu").output, reference.get_layer("out_relu").output]
    # C4: the expansion output of the first stride-32 bottleneck, the input of its depthwise padding.
    block = {"mobilenet_v3_large": 12, "mobilenet_v3_small": 8}[backbone]
    return [reference.get_layer(f"expanded_conv_{block}/depthwise/pad").input]


def check_feature_maps(tmp_path: Path, backbone: str, width: float) -> None:
    path, reference = saved_application(tmp_path, backbone, width)
    zoo = zoo_backbone(backbone, width)
    report = load_imagenet_backbone(zoo, backbone, width, path)
    assert report.tensors > 50 and report.source == str(path)
    images = np.random.default_rng(1).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
    expected = keras.Model(reference.input, keras_taps(reference, backbone))(images)
    expected = expected if isinstance(expected, list) else [expected]
    actual = zoo(images)
    compared = actual if backbone == "mobilenet_v2" and width >= 1.0 else actual[:1]
    for got, want in zip(compared, expected, strict=False):
        want = want.numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


@pytest.mark.parametrize(("backbone", "width"), [("mobilenet_v2", 0.35), ("mobilenet_v3_small", 0.75)])
def test_feature_maps_match_keras_applications(tmp_path, backbone, width):
    check_feature_maps(tmp_path, backbone, width)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backbone", "width"),
    [("mobilenet_v2", 1.0), ("mobilenet_v2", 1.4), ("mobilenet_v3_large", 1.0), ("mobilenet_v3_small", 1.0)],
)
def test_feature_maps_match_keras_applications_every_family(tmp_path, backbone, width):
    check_feature_maps(tmp_path, backbone, width)


def test_wrong_width_file_names_first_layer_and_loads_nothing(tmp_path):
    path, _ = saved_application(tmp_path, "mobilenet_v2", 0.5)
    zoo = zoo_backbone("mobilenet_v2", 0.35)
    before = [w.numpy().copy() for w in zoo.weights]
    with pytest.raises(
        InputError, match=r"layer #10 is 'block_1_project' \[\(1, 1, 48, 16\)\] in the file"
    ) as error:
        load_imagenet_backbone(zoo, "mobilenet_v2", 0.35, path)
    assert "\n" not in str(error.value)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, zoo.weights, strict=True))


def test_wrong_model_file_names_first_layer(tmp_path):
    path, _ = saved_application(tmp_path, "mobilenet_v3_small", 0.75)
    with pytest.raises(InputError, match=r"layer #0 is 'Conv' .* 'Conv1' .* in the model"):
        load_imagenet_backbone(keras.Sequential(), "mobilenet_v2", 0.35, path)


def test_not_a_weights_file(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_text("not hdf5")
    with pytest.raises(InputError, match="is not a Keras weights file"):
        load_imagenet_backbone(keras.Sequential(), "mobilenet_v2", 0.35, path)


@pytest.mark.parametrize(
    ("backbone", "width", "message"),
    [
        ("mobiledet_cpu", 1.0, "publishes no ImageNet weights for backbone 'mobiledet_cpu'"),
        ("mobilenet_v2", 0.25, "widths 0.35, 0.5, 0.75, 1.0, 1.3, 1.4; got width 0.25"),
        ("mobilenet_v3_small", 0.5, "widths 0.75, 1.0; got width 0.5"),
    ],
)
def test_unpublished_backbone_or_width_stops(backbone, width, message):
    with pytest.raises(InputError, match=message):
        load_imagenet_backbone(keras.Sequential(), backbone, width, None)
