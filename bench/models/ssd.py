"""The SSD / SSDLite meta-architecture: backbone, extra feature layers, box and class heads.

Layout (reference/detectors.md; TF OD API ``ssd_mobilenet_v2`` / ``ssdlite`` configs): C4 (stride 16)
and C5 (stride 32) from the backbone, then four extra layers of depths 512, 256, 256, 128, each a 1x1
conv to depth / 2 (BN, ReLU6), a 3x3 stride-2 depthwise conv (BN, ReLU6) and a 1x1 conv to depth
(BN, ReLU6). Per feature map, two heads (boxes, classes), not shared across maps.

The Keras model:
  * input ``images``: float32 [B, H, W, 3] in [-1, 1] (``ModelConfig.preprocessing`` maps uint8 pixels there);
    exports fix B = 1;
  * outputs ``[box_encodings, class_logits]``: float32 [B, A, 4] raw (ty, tx, th, tw) and float32
    [B, A, num_classes + 1] logits, slot 0 being the background (the OD API's 91 slots for COCO).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from bench.models.backbones import BACKBONES
from bench.models.config import HeadKind, ModelConfig
from bench.models.layers import RELU6, ConvStyle, conv_bn, depthwise_bn, head_conv

INPUT_NAME = "images"
OUTPUT_NAMES = ("box_encodings", "class_logits")
_MAX_CONCAT_INPUTS = 5


def _extra_layers(
    features: tf.Tensor, depths: list[int], style: ConvStyle, depthwise: bool = True
) -> list[tf.Tensor]:
    """The extra feature maps on top of C5 (depthwise extras, as ssdlite / ssd_mobilenet_v2; or one
    regular 3x3/2 conv per layer when ``depthwise`` is False, as the OD API without use_depthwise)."""
    maps = []
    x = features
    for index, depth in enumerate(depths):
        name = f"extra{index}"
        x = conv_bn(x, depth // 2, 1, 1, RELU6, f"{name}_reduce", style)
        if depthwise:
            x = depthwise_bn(x, 3, 2, RELU6, f"{name}_depthwise", style)
            x = conv_bn(x, depth, 1, 1, RELU6, f"{name}_project", style)
        else:
            x = conv_bn(x, depth, 3, 2, RELU6, f"{name}_project", style)
        maps.append(x)
    return maps


def _head(
    x: tf.Tensor, outputs: int, per_row: int, bias: list[float], name: str, config: ModelConfig
) -> tf.Tensor:
    """One prediction branch on one feature map, reshaped to [B, cells * boxes, per_row].

    ``bias`` is the initial bias of one row (``per_row`` values), repeated for every box of a cell.
    """
    style = ConvStyle(weight_decay=config.weight_decay)
    biases = bias * (outputs // per_row)
    if config.head == HeadKind.SSDLITE:
        x = depthwise_bn(x, 3, 1, RELU6, f"{name}_depthwise", style)
        x = head_conv(x, outputs, 1, biases, name, style)
    else:
        x = head_conv(x, outputs, config.head_kernel, biases, name, style)
    cells = x.shape[1] * x.shape[2]
    return keras.layers.Reshape((cells * outputs // per_row, per_row), name=f"{name}_reshape")(x)


def build_ssd(config: ModelConfig) -> keras.Model:
    """Build the float Keras detector of ``config``.

    Args:
        config: The variant.

    Returns:
        A functional ``keras.Model`` named ``config.name`` with the input and outputs described in this
        module's docstring. QAT: ``tfmot.quantization.keras.quantize_model`` accepts it inside
        :func:`bench.models.saving.quantize_scope`.
    """
    size = config.input_size
    inputs = keras.Input((size, size, 3), name=INPUT_NAME)
    c4, c5 = BACKBONES[config.backbone](inputs, width=config.width_multiplier)
    extras_style = ConvStyle(weight_decay=config.weight_decay)
    extras = _extra_layers(c5, config.extra_layer_depths(), extras_style, config.depthwise_extras)
    maps = [c4, c5, *extras]
    expected = config.feature_map_sizes
    actual = [m.shape[1] for m in maps]
    if actual != expected:
        raise ValueError(f"{config.name}: feature maps {actual} do not match the anchor layout {expected}")
    boxes, classes = [], []
    class_row = [config.background_bias_init] + [config.class_bias_init] * config.num_classes
    for index, (feature, per_cell) in enumerate(zip(maps, config.anchors.boxes_per_cell(), strict=True)):
        boxes.append(_head(feature, per_cell * 4, 4, [0.0] * 4, f"head{index}_box", config))
        classes.append(
            _head(
                feature,
                per_cell * config.num_class_slots,
                config.num_class_slots,
                class_row,
                f"head{index}_class",
                config,
            )
        )
    box_encodings = _concatenate(boxes, OUTPUT_NAMES[0])
    class_logits = _concatenate(classes, OUTPUT_NAMES[1])
    return keras.Model(inputs, [box_encodings, class_logits], name=config.name)


def _concatenate(parts: list[tf.Tensor], name: str) -> tf.Tensor:
    """Concatenate along anchors in groups of at most 3, then the groups.

    LiteRT's XNNPack delegate takes CONCATENATION with at most 5 inputs; a 6-input one would stay on
    the builtin kernel. The order of the anchors is unchanged.
    """
    if len(parts) <= _MAX_CONCAT_INPUTS:
        return keras.layers.Concatenate(axis=1, name=name)(parts)
    groups = [parts[i : i + 3] for i in range(0, len(parts), 3)]
    merged = [
        g[0] if len(g) == 1 else keras.layers.Concatenate(axis=1, name=f"{name}_part{i}")(g)
        for i, g in enumerate(groups)
    ]
    return _concatenate(merged, name)
