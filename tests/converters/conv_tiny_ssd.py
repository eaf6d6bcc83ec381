"""A tiny SSD-like detector for converter tests: no dependency on the zoo.

Four stride-2 convolutions give two feature maps (S/8 and S/16); per map, a box head ([1, A, 4] encodings)
and a class head ([1, A, C + 1] logits, slot 0 background); anchors of three aspect ratios per cell; an
export function ending in ``TFLite_Detection_PostProcess`` (the zoo's convention).

``oracle=True`` sets the weights by hand so the output is strong and deterministic: the stem averages
colour (channel c carries the mean of input channel c), class k fires where colour channel k dominates,
and the box encodings shift boxes with the colour balance, so real images give confident, varied,
tie-free detections.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from converters.inputs import ConversionInputs
from converters.tfmot_wrap import self_distillation_finetune

NUM_CLASSES = 3
LABELS = ("red", "green", "blue")
RATIOS = (1.0, 2.0, 0.5)
GRIDS_PER_STRIDE = ((8, 0.35), (16, 0.7))  # (stride, anchor scale)
WIDTH = 128


def anchors(size: int) -> np.ndarray:
    """[A, 4] (yc, xc, h, w), cell-major then ratio, as the heads' reshape orders them."""
    rows = []
    for stride, scale in GRIDS_PER_STRIDE:
        grid = size // stride
        for i in range(grid):
            for j in range(grid):
                for ratio in RATIOS:
                    rows.append(
                        [(i + 0.5) / grid, (j + 0.5) / grid, scale / np.sqrt(ratio), scale * np.sqrt(ratio)]
                    )
    return np.array(rows, np.float32)


def build(size: int = 64, seed: int = 0, oracle: bool = False) -> keras.Model:
    """The float Keras model: input [1, S, S, 3] in [-1, 1], outputs [box_encodings, class_logits]."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((size, size, 3), batch_size=1, name="images")
    features = []
    for index in range(4):
        x = keras.layers.Conv2D(WIDTH, 3, 2, padding="same", name=f"stem{index}")(x)
        x = keras.layers.BatchNormalization(name=f"stem{index}_bn")(x)
        x = keras.layers.ReLU(6.0, name=f"stem{index}_relu")(x)
        if index >= 2:
            features.append(x)
    boxes, logits = [], []
    per_cell = len(RATIOS)
    for index, feature in enumerate(features):
        b = keras.layers.Conv2D(per_cell * 4, 3, padding="same", name=f"box{index}")(feature)
        c = keras.layers.Conv2D(per_cell * (NUM_CLASSES + 1), 3, padding="same", name=f"cls{index}")(feature)
        boxes.append(keras.layers.Reshape((-1, 4), name=f"box{index}_flat")(b))
        logits.append(keras.layers.Reshape((-1, NUM_CLASSES + 1), name=f"cls{index}_flat")(c))
    model = keras.Model(
        inputs,
        [
            keras.layers.Concatenate(axis=1, name="box_encodings")(boxes),
            keras.layers.Concatenate(axis=1, name="class_logits")(logits),
        ],
        name="tiny_fixture",
    )
    if oracle:
        _set_oracle_weights(model)
    return model


def _set_oracle_weights(model: keras.Model) -> None:
    for index in range(4):
        kernel = np.zeros((3, 3, 3 if index == 0 else WIDTH, WIDTH), np.float32)
        for c in range(3):
            kernel[:, :, c, c] = 1.0 / 9.0  # a blur: channel c keeps the local mean of colour c
        bias = np.zeros(WIDTH, np.float32)
        if index == 0:
            kernel *= 0.5
            bias[:3] = 0.5  # [-1, 1] -> [0, 1], so ReLU6 keeps everything
        model.get_layer(f"stem{index}").set_weights([kernel, bias])
        bn = model.get_layer(f"stem{index}_bn")
        bn.set_weights([np.ones(WIDTH), np.zeros(WIDTH), np.zeros(WIDTH), np.ones(WIDTH) - bn.epsilon])
    per_cell = len(RATIOS)
    for index in range(2):
        box_kernel = np.zeros((3, 3, WIDTH, per_cell * 4), np.float32)
        cls_kernel = np.zeros((3, 3, WIDTH, per_cell * (NUM_CLASSES + 1)), np.float32)
        cls_bias = np.zeros(per_cell * (NUM_CLASSES + 1), np.float32)
        for a in range(per_cell):
            box_kernel[1, 1, 0, a * 4 + 1] = 4.0  # red moves boxes right,
            box_kernel[1, 1, 1, a * 4 + 0] = -4.0  # green moves them up
            box_kernel[1, 1, 2, a * 4 + 3] = 2.0  # blue widens them
            for k in range(NUM_CLASSES):
                column = a * (NUM_CLASSES + 1) + 1 + k
                cls_kernel[:, :, k, column] = 9.0 / 9.0
                for other in range(3):
                    if other != k:
                        cls_kernel[:, :, other, column] = -6.0 / 9.0
                cls_bias[column] = -2.0 + 0.3 * a + 0.1 * k + 0.2 * index  # distinct scores, no ties
            cls_bias[a * (NUM_CLASSES + 1)] = 0.0
        model.get_layer(f"box{index}").set_weights([box_kernel, np.zeros(per_cell * 4, np.float32)])
        model.get_layer(f"cls{index}").set_weights([cls_kernel, cls_bias])


def _implements(max_detections: int, score_threshold: float) -> str:
    attrs = {
        "max_detections": max_detections,
        "max_classes_per_detection": 1,
        "detections_per_class": 100,
        "use_regular_nms": False,
        "nms_score_threshold": score_threshold,
        "nms_iou_threshold": 0.6,
        "num_classes": NUM_CLASSES,
        "y_scale": 10.0,
        "x_scale": 10.0,
        "h_scale": 5.0,
        "w_scale": 5.0,
    }
    parts = ['name: "TFLite_Detection_PostProcess"']
    for key, value in attrs.items():
        kind = "b" if isinstance(value, bool) else "i" if isinstance(value, int) else "f"
        text = str(value).lower() if isinstance(value, bool) else value
        parts.append(f'attr {{ key: "{key}" value {{ {kind}: {text} }} }}')
    return " ".join(parts)


def export_builder(size: int, max_detections: int = 20, score_threshold: float = 0.05):
    """``builder(model) -> tf.function`` with the four named outputs, as the zoo's export provides."""
    anchor_tensor = tf.constant(anchors(size))

    def builder(model: keras.Model):
        @tf.function(experimental_implements=_implements(max_detections, score_threshold))
        def postprocess(box_encodings, class_scores, anchor_boxes):
            del box_encodings, class_scores, anchor_boxes  # replaced by the custom op in the converter
            n = max_detections
            return tf.zeros([1, n, 4]), tf.zeros([1, n]), tf.zeros([1, n]), tf.zeros([1])

        @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="images")])
        def export(images):
            box_encodings, class_logits = model(images, training=False)
            boxes, classes, scores, count = postprocess(
                box_encodings, tf.sigmoid(class_logits), anchor_tensor
            )
            return {"boxes": boxes, "classes": classes, "scores": scores, "num_detections": count}

        return export

    return builder


def images(count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """Colourful uint8 test images: rectangles of saturated colours on a dark noisy background."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        image = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
        for _ in range(rng.integers(1, 4)):
            h, w = rng.integers(size // 4, size // 2 + 1, 2)
            y, x = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
            color = np.zeros(3, np.uint8)
            color[rng.integers(0, 3)] = rng.integers(180, 256)
            image[y : y + h, x : x + w] = color
        out.append(image)
    return out


def conversion_inputs(
    size: int = 64, seed: int = 0, oracle: bool = False, calibration: int = 8
) -> ConversionInputs:
    """The fixture packaged as the pipeline would hand it to ``converters.convert``."""
    model = build(size, seed, oracle)
    batches = [
        (image[None].astype(np.float32) - 127.5) / 127.5 for image in images(calibration, size, seed + 1)
    ]
    return ConversionInputs(
        name="tiny_fixture",
        keras_model=model,
        export_fn_builder=export_builder(size),
        anchors=anchors(size),
        labels=LABELS,
        input_size=size,
        representative_data=batches,
        finetune=self_distillation_finetune(model, batches),
        model_info={"variant": "tiny_fixture"},
    )


# Fewer calibration batches and fine-tuning steps than the registered recipes: tests stay fast.
FAST = {"representative_samples": 4}
FAST_FINETUNE = {"representative_samples": 4, "finetune_steps": 3}


def fast_recipe(name: str):
    """The registered recipe with test-sized calibration and fine-tuning."""
    from converters.recipes import get_recipe

    recipe = get_recipe(name)
    return recipe.with_overrides(**(FAST_FINETUNE if recipe.finetune_steps else FAST))
