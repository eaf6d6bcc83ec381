"""Keras Applications' ImageNet MobileNetV2 / MobileNetV3 weights into the zoo backbones.

The weights come through Keras Applications' own loading path: ``tf_keras.applications.MobileNetV2(
weights="imagenet" | PATH, include_top=False, alpha=...)`` builds the classification network and loads
the published file (downloading it to ``~/.keras/models`` for ``imagenet``); the layers are then copied,
by the explicit map below, into the zoo backbone of the detector. Everything is checked before anything
is assigned: a file of another model, width or shape stops with one line naming the first mismatching
layer, and the detector is left as it was.

The layer map (zoo block index -> Keras Applications layer names; every conv and its BatchNormalization,
moving statistics included, and the squeeze-excite convs with their biases):

MobileNetV2 (``mnv2_block{i}``, Keras ``mobilenet_v2.py``):
    block 0 (stem 3x3 conv)          -> ``Conv1`` / ``bn_Conv1``
    block 1 (no expansion)           -> ``expanded_conv_depthwise[_BN]``, ``expanded_conv_project[_BN]``
    block i, 2 <= i <= 17            -> ``block_{i-1}_{expand,depthwise,project}[_BN]``
    block 18 (last 1x1 conv, C5)     -> ``Conv_1`` / ``Conv_1_bn``, only for width >= 1.0: below 1.0 Keras
        keeps 1280 channels while the zoo (slim / OD API) scales them, so the zoo's C5 conv starts random.
MobileNetV3 Large / Small (``mnv3l_block{i}`` / ``mnv3s_block{i}``, Keras ``mobilenet_v3.py``):
    block 0 (stem)                   -> ``Conv`` / ``Conv/BatchNorm``
    block i >= 1 up to the C4 block  -> ``expanded_conv[_{i-1}]/{expand,depthwise,project}[/BatchNorm]``
                                        and ``.../squeeze_excite/Conv``, ``.../squeeze_excite/Conv_1``
    not taken: the C4 block's projection and everything after it. The zoo builds the detection layout
        (MobileNetV3 paper, Section 6.2): every layer after C4 has half the channels of the ImageNet
        network, so no ImageNet weights of that shape exist. The C4 block's expansion, depthwise conv and
        squeeze-excite keep their shapes and are taken.
MobileDet: Keras Applications publishes no MobileDet; ``imagenet`` stops with an error naming the
alternatives (a COCO checkpoint, or scratch).

Width multipliers: the ones Keras Applications publishes ImageNet weights for (below); others stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import tf_keras as keras

from bench.models.backbones.mobilenet_v2 import mobilenet_v2_blocks
from bench.models.backbones.mobilenet_v3 import mobilenet_v3_blocks
from bench.training.init_spec import check_published
from common.errors import InputError

# Keras Applications builds the classification network; 224 is the size its weights were trained at.
_INPUT_SHAPE = (224, 224, 3)


@dataclass(frozen=True)
class BackboneLoad:
    """What :func:`load_imagenet_backbone` did."""

    backbone: str  # zoo backbone key
    width: float  # width multiplier
    source: str  # "Keras Applications download" or the local file
    layers: int  # zoo layers assigned
    tensors: int  # weight tensors assigned (kernels, biases, BN gamma/beta/mean/variance)
    skipped: tuple[str, ...]  # parts of the zoo backbone left as initialised, with the reason


def layer_map(backbone: str, width: float) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """The explicit zoo -> Keras Applications layer map of one backbone and width.

    Returns:
        ([(zoo layer name, Keras layer name), ...] in network order, notes on what is not taken).

    Raises:
        InputError: No Keras Applications ImageNet weights exist for this backbone or width.
    """
    check_published(backbone, width)
    if backbone == "mobilenet_v2":
        return _v2_map(width)
    return _v3_map(backbone.removeprefix("mobilenet_v3_"), width)


def _conv_bn(zoo: str, keras_conv: str, keras_bn: str) -> list[tuple[str, str]]:
    return [(f"{zoo}_conv", keras_conv), (f"{zoo}_bn", keras_bn)]


def _ibn(zoo: str, expand: bool, se: bool, keras_name) -> list[tuple[str, str]]:
    """One inverted-residual block; ``keras_name(part, bn)`` names the Keras layer of a part."""
    pairs = (
        _conv_bn(f"{zoo}_expand", keras_name("expand", False), keras_name("expand", True)) if expand else []
    )
    pairs += [(f"{zoo}_depthwise_dwconv", keras_name("depthwise", False))]
    pairs += [(f"{zoo}_depthwise_bn", keras_name("depthwise", True))]
    if se:
        pairs += [(f"{zoo}_se_reduce", keras_name("se_reduce", False))]
        pairs += [(f"{zoo}_se_expand", keras_name("se_expand", False))]
    return pairs + _conv_bn(f"{zoo}_project", keras_name("project", False), keras_name("project", True))


def _v2_map(width: float) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    blocks = mobilenet_v2_blocks(width)
    pairs = _conv_bn("mnv2_block0", "Conv1", "bn_Conv1")
    for index in range(1, len(blocks) - 1):
        prefix = "expanded_conv" if index == 1 else f"block_{index - 1}"
        pairs += _ibn(
            f"mnv2_block{index}",
            blocks[index].expand is not None,
            False,
            lambda part, bn, p=prefix: f"{p}_{part}" + ("_BN" if bn else ""),
        )
    last = len(blocks) - 1
    if width >= 1.0:
        return pairs + _conv_bn(f"mnv2_block{last}", "Conv_1", "Conv_1_bn"), ()
    return pairs, ("last 1x1 conv (C5): Keras keeps 1280 channels below width 1.0, the zoo scales them",)


_V3_PART = {"se_reduce": "squeeze_excite/Conv", "se_expand": "squeeze_excite/Conv_1"}


def _v3_map(size: str, width: float) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    blocks = mobilenet_v3_blocks(size, width)
    zoo = f"mnv3{size[0]}"
    pairs = _conv_bn(f"{zoo}_block0", "Conv", "Conv/BatchNorm")
    c4 = next(i for i, b in enumerate(blocks) if b.endpoint == "C4")
    for index in range(1, c4 + 1):
        prefix = "expanded_conv" if index == 1 else f"expanded_conv_{index - 1}"
        block = blocks[index]

        def name(part: str, bn: bool, p: str = prefix) -> str:
            return f"{p}/{_V3_PART.get(part, part)}" + ("/BatchNorm" if bn else "")

        block_pairs = _ibn(f"{zoo}_block{index}", block.expand is not None, block.se_hidden is not None, name)
        pairs += block_pairs if index < c4 else block_pairs[:-2]  # the C4 block's projection is halved
    note = (
        f"{zoo}_block{c4} projection and every later layer: halved in the detection layout "
        "(MobileNetV3 paper, Section 6.2), no ImageNet weights of that shape"
    )
    return pairs, (note,)


def keras_application(
    backbone: str, width: float, weights: str | Path | None, size: int = _INPUT_SHAPE[0]
) -> keras.Model:
    """Keras Applications' classification network without its top, built and loaded by Keras itself.

    Args:
        backbone: ``mobilenet_v2``, ``mobilenet_v3_large`` or ``mobilenet_v3_small``.
        width: Keras' ``alpha``.
        weights: ``"imagenet"`` (Keras downloads), a local weights file, or None (random).
        size: Square input side (the weights do not depend on it).
    """
    common = {"include_top": False, "weights": None if weights is None else str(weights)}
    common.update(input_shape=(size, size, 3), alpha=width)
    if backbone == "mobilenet_v2":
        return keras.applications.MobileNetV2(**common)
    # The zoo's inputs are already in [-1, 1]: no Rescaling layer in front.
    builder = {"mobilenet_v3_large": keras.applications.MobileNetV3Large}.get(
        backbone, keras.applications.MobileNetV3Small
    )
    return builder(**common, minimalistic=False, include_preprocessing=False)


def weight_shapes(path: Path) -> list[tuple[str, list[tuple[int, ...]]]]:
    """(layer name, weight shapes) of every weighted layer in a Keras HDF5 weights file, in file order.

    Keras' HDF5 weights format: root attribute ``layer_names``; one group per layer with attribute
    ``weight_names`` and one dataset per weight (under ``model_weights`` in a whole-model file).

    Raises:
        InputError: Not such a file.
    """
    try:
        with h5py.File(path, "r") as file:
            group = file.get("model_weights", file)
            found = [(name, _shapes(group[name])) for name in _names(group.attrs, "layer_names")]
    except (OSError, KeyError) as error:
        raise InputError(f"init imagenet: {path} is not a Keras weights file: {error}") from None
    return [(name, shapes) for name, shapes in found if shapes]


def check_weight_shapes(found: list, reference: keras.Model, path: Path, what: str) -> None:
    """Stop, naming the first mismatching layer, unless ``found`` (:func:`weight_shapes`) are
    ``reference``'s weights. Keras loads such a file by layer order: order, names and shapes all count."""
    expected = [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in reference.layers]
    expected = [(name, shapes) for name, shapes in expected if shapes]
    for index, (want, got) in enumerate(zip(expected, found, strict=False)):
        if want != got:
            raise InputError(
                f"init imagenet: {path} is not {what}: layer #{index} is {got[0]!r} {got[1]} in the file, "
                f"{want[0]!r} {want[1]} in the model"
            )
    if len(found) != len(expected):
        raise InputError(
            f"init imagenet: {path} is not {what}: {len(found)} weighted layers in the file, "
            f"{len(expected)} in the model (a file with the classifier top?)"
        )


def _names(attrs, key: str) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in attrs.get(key, [])]


def _shapes(group) -> list[tuple[int, ...]]:
    return [tuple(group[name].shape) for name in _names(group.attrs, "weight_names")]


def load_imagenet_backbone(
    model: keras.Model, backbone: str, width: float, path: Path | None = None
) -> BackboneLoad:
    """Copy Keras Applications' ImageNet weights into the zoo backbone layers of ``model``.

    Args:
        model: A detector (or bare backbone) built by the zoo with ``backbone`` at ``width``.
        backbone: Zoo backbone key.
        width: Width multiplier of ``model``.
        path: A local Keras Applications weights file (``*_no_top.h5``); None downloads through Keras.

    Returns:
        What was assigned and what was not.

    Raises:
        InputError: No published weights for this backbone or width, an unreadable or mismatching file,
            a failed download, or a model without the zoo layers; ``model`` is then unchanged.
    """
    pairs, skipped = layer_map(backbone, width)
    what = f"Keras Applications {backbone} width {width} without top"
    if path is None:
        source = "Keras Applications download"
        try:
            reference = keras_application(backbone, width, "imagenet")
        except Exception as error:  # Keras' get_file raises a bare Exception on a failed fetch
            raise InputError(
                f"init imagenet: Keras Applications could not fetch the {backbone} weights ({error}); "
                "download them elsewhere and give init {imagenet: PATH}"
            ) from None
    else:
        source = str(path)
        found = weight_shapes(path)  # read first: a wrong file stops before any model is built
        check_weight_shapes(found, keras_application(backbone, width, None), path, what)
        reference = keras_application(backbone, width, path)
    values = _matched_values(model, reference, pairs, what)
    for layer, weights in values:
        layer.set_weights(weights)
    return BackboneLoad(backbone, width, source, len(values), sum(len(w) for _, w in values), skipped)


def _matched_values(
    model: keras.Model, reference: keras.Model, pairs: list[tuple[str, str]], what: str
) -> list[tuple[keras.layers.Layer, list[np.ndarray]]]:
    """Every (zoo layer, Keras weights) pair, all shapes checked before anything is assigned."""
    zoo_layers = {layer.name: layer for layer in model.layers}
    out = []
    for zoo_name, keras_name in pairs:
        if zoo_name not in zoo_layers:
            raise InputError(f"init imagenet: the model has no layer {zoo_name!r}: not a zoo {what} model")
        weights = reference.get_layer(keras_name).get_weights()
        wanted = [tuple(w.shape) for w in zoo_layers[zoo_name].weights]
        if [w.shape for w in weights] != wanted:
            raise InputError(
                f"init imagenet: layer {keras_name!r} of {what} has shapes {[w.shape for w in weights]}, "
                f"the zoo's {zoo_name!r} {wanted}"
            )
        out.append((zoo_layers[zoo_name], weights))
    return out
