"""The object-based checkpoint table of the TF2 zoo's ``ssd_mobilenet_v2_320x320_coco17_tpu-8``.

A TF2 checkpoint names each variable by its attribute path from the saved root
(``tf.train.Checkpoint(model=detection_model)``) plus ``/.ATTRIBUTES/VARIABLE_VALUE``. The paths
follow the OD API's Keras classes (tensorflow/models research/object_detection):

* ``SSDMetaArch`` keeps ``_feature_extractor`` and ``_box_predictor``;
* ``SSDMobileNetV2KerasFeatureExtractor`` (models/ssd_mobilenet_v2_keras_feature_extractor.py) keeps
  ``mobilenet_v2``, a functional Keras model over keras_models/mobilenet_v2.py (Keras Applications'
  MobileNetV2: Conv1, then per block [expand], depthwise, project, each conv with its BN, then
  Conv_1). A functional model names the i-th layer that has weights ``layer_with_weights-i``;
* its ``feature_map_generator`` (``KerasMultiResolutionFeatureMaps``, feature_map_generators.py) keeps
  ``convolutions[i]``: for an extra layer without use_depthwise the list [1x1 conv, BN, activation,
  3x3/2 conv, BN, activation]; the convs have no bias (hyperparams_builder: BN with center);
* ``ConvolutionalBoxPredictor`` (predictors/convolutional_keras_box_predictor.py) keeps
  ``_prediction_heads['box_encodings' | 'class_predictions_with_background'][i]``, whose heads
  (heads/keras_box_head.py, keras_class_head.py) keep ``_box_encoder_layers`` /
  ``_class_predictor_layers``: one Conv2D with bias when there is no dropout and no depthwise conv.

The pipeline (configs/tf2/ssd_mobilenet_v2_320x320_coco17_tpu-8.config): 300x300 input despite the
name, feature extractor without use_depthwise, box predictor kernel_size 1, anchors as the TF1 zoo.
"""

from __future__ import annotations

from bench.models.config import HeadKind, ModelConfig
from bench.models.pretrained.od_api_table import (
    BACKBONE,
    BN_WEIGHTS,
    BOX_HEAD,
    CLASS_HEAD,
    EXTRA_DEPTHS,
    EXTRAS,
    OD_API_BOXES_PER_CELL,
    OD_API_CLASS_SLOTS,
    Entry,
    checkpoint_table,
)
from common.errors import InputError

SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# What a zoo config must be to hold the TF2 checkpoint (config.replace(**TF2_LAYOUT)).
TF2_LAYOUT = {"input_size": 300, "depthwise_extras": False, "head_kernel": 1, "head": HeadKind.SSD}
_ROOT = "model/_feature_extractor"


def _backbone(config: ModelConfig) -> list[Entry]:
    """The TF1 MobileNetV2 entries renamed: each conv or BN layer in order is one ``layer_with_weights``.

    Keras Applications' MobileNetV2 has the same layers in the same order as slim's V2_DEF.
    """
    tf1 = [
        e
        for e in checkpoint_table(config.replace(depthwise_extras=True, head=HeadKind.SSD))
        if e.part == BACKBONE
    ]
    out, index, previous = [], -1, None
    for entry in tf1:
        if entry.layer != previous:
            index, previous = index + 1, entry.layer
        name = f"{_ROOT}/mobilenet_v2/layer_with_weights-{index}/{entry.weight}{SUFFIX}"
        out.append(entry._replace(name=name))
    return out


def _conv_bn(prefix: str, conv: int, shape: tuple, zoo: str) -> list[Entry]:
    entries = [Entry(f"{prefix}/{conv}/kernel{SUFFIX}", shape, f"{zoo}_conv", "kernel", EXTRAS)]
    entries += [
        Entry(f"{prefix}/{conv + 1}/{w}{SUFFIX}", (shape[-1],), f"{zoo}_bn", w, EXTRAS) for w in BN_WEIGHTS
    ]
    return entries


def tf2_checkpoint_table(config: ModelConfig) -> list[Entry]:
    """Every model variable of the TF2 zoo's ssd_mobilenet_v2_320x320 checkpoint, for ``config``.

    Raises:
        InputError: ``config`` is not the layout that checkpoint needs (see :data:`TF2_LAYOUT`).
    """
    wrong = [
        f"{k}={getattr(config, k)!r}"
        for k, v in TF2_LAYOUT.items()
        if k != "input_size" and getattr(config, k) != v
    ]
    if config.backbone != "mobilenet_v2" or wrong:
        raise InputError(
            f"{config.name}: the TF2 zoo's ssd_mobilenet_v2_320x320 checkpoint needs a mobilenet_v2 model "
            "with depthwise_extras=False, head_kernel=1, head='ssd' "
            f"(got backbone {config.backbone!r} {' '.join(wrong)})"
        )
    entries = _backbone(config)
    channels = [e.shape[-1] for e in entries if e.weight == "moving_mean"]
    # C4 is block_13_expand_relu (the expansion of MobileNetV2's 14th inverted-residual op).
    maps = [next(e.shape[-1] for e in entries if e.layer == "mnv2_block14_expand_conv"), channels[-1]]
    previous = maps[-1]
    for index, depth in enumerate(EXTRA_DEPTHS, start=2):
        prefix, zoo = f"{_ROOT}/feature_map_generator/convolutions/{index}", f"extra{index - 2}"
        entries += _conv_bn(prefix, 0, (1, 1, previous, depth // 2), f"{zoo}_reduce")
        entries += _conv_bn(prefix, 3, (3, 3, depth // 2, depth), f"{zoo}_project")
        maps.append(depth)
        previous = depth
    heads = "model/_box_predictor/_prediction_heads"
    for index, (depth, boxes) in enumerate(zip(maps, OD_API_BOXES_PER_CELL, strict=True)):
        for key, attr, per_box, part, zoo in (
            ("box_encodings", "_box_encoder_layers", 4, BOX_HEAD, f"head{index}_box"),
            (
                "class_predictions_with_background",
                "_class_predictor_layers",
                OD_API_CLASS_SLOTS,
                CLASS_HEAD,
                f"head{index}_class",
            ),
        ):
            name = f"{heads}/{key}/{index}/{attr}/0"
            entries.append(
                Entry(f"{name}/kernel{SUFFIX}", (1, 1, depth, boxes * per_box), zoo, "kernel", part)
            )
            entries.append(Entry(f"{name}/bias{SUFFIX}", (boxes * per_box,), zoo, "bias", part))
    return entries
