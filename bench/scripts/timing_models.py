"""Small .tflite models for timing tests and perf scripts, built with TensorFlow (never by the runners).

- ``tiny_float`` / ``tiny_int8``: a few conv layers at 32x32 (tests: fast to build and to time);
- ``detect_float`` / ``detect_int8``: a tiny SSD-like head ending in LiteRT's ``TFLite_Detection_PostProcess``
  custom op, exported through ``tf.function(experimental_implements=...)`` (detectors.md, "TFLite export
  convention"), which XNNPack cannot take;
- ``cumsum``: one CUMSUM op, which XNNPack does not support at all (a full fallback);
- ``unresolved_custom_op``: a custom op no LiteRT ships (a valid file that cannot be loaded);
- ``mobilenet_float`` / ``mobilenet_int8``: Keras' MobileNetV2 (alpha 0.35, 224x224, random weights), a
  realistic few-ms workload for the fidelity and stability checks.

int8 models are full-integer post-training quantized with uint8 input, as mobile apps ship them.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Keras 2 (DESIGN.md), before TensorFlow is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_ANCHORS = 64  # 8x8 feature map, one anchor per cell
_CLASSES = 3  # without background
_DETECTIONS = 10


def _tf():
    import tensorflow as tf

    return tf


def _keras():
    import tf_keras

    return tf_keras


def tiny_conv(size: int = 32):
    """A Keras conv stack: conv, depthwise, pointwise, pool, dense."""
    keras = _keras()
    inputs = keras.Input((size, size, 3), batch_size=1)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu6")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = keras.layers.Conv2D(32, 1, activation="relu6")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def mobilenet_v2(size: int = 224, alpha: float = 0.35):
    """Keras' MobileNetV2 with random weights (nothing is downloaded) and a 1000-way classifier."""
    keras = _keras()
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=alpha, weights=None, classes=1000
    )


def _postprocess_attributes() -> str:
    # NameAttrList text the converter turns into the custom op and its flexbuffer options.
    attributes = {
        "max_detections": ("i", _DETECTIONS),
        "max_classes_per_detection": ("i", 1),
        "detections_per_class": ("i", 100),
        "use_regular_nms": ("b", "false"),
        "nms_score_threshold": ("f", 0.01),
        "nms_iou_threshold": ("f", 0.6),
        "num_classes": ("i", _CLASSES),
        "y_scale": ("f", 10.0),
        "x_scale": ("f", 10.0),
        "h_scale": ("f", 5.0),
        "w_scale": ("f", 5.0),
    }
    fields = " ".join(f'attr {{ key: "{k}" value {{ {kind}: {v} }} }}' for k, (kind, v) in attributes.items())
    return f'name: "TFLite_Detection_PostProcess" {fields}'


def tiny_detector(size: int = 32):
    """A tiny SSD-like model and its serving function ending in TFLite_Detection_PostProcess."""
    tf, keras, np = _tf(), _keras(), __import__("numpy")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=size // 16, padding="same", activation="relu")(x)  # 8x8
    boxes = keras.layers.Reshape((_ANCHORS, 4))(keras.layers.Conv2D(4, 1)(x))
    scores = keras.layers.Reshape((_ANCHORS, _CLASSES + 1))(
        keras.layers.Conv2D(_CLASSES + 1, 1, activation="sigmoid")(x)
    )
    model = keras.Model(inputs, [boxes, scores])
    anchors = tf.constant(np.random.default_rng(0).uniform(0.1, 0.9, (_ANCHORS, 4)).astype(np.float32))

    @tf.function(experimental_implements=_postprocess_attributes())
    def postprocess(box_encodings, class_scores, anchor_boxes):
        # A placeholder body of the right shapes: the converter replaces the whole function.
        del box_encodings, class_scores, anchor_boxes
        n = _DETECTIONS
        return tf.zeros([1, n, 4]), tf.zeros([1, n]), tf.zeros([1, n]), tf.zeros([1])

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32)])
    def serve(images):
        encoded, classes = model(images)
        out = postprocess(encoded, classes, anchors)
        return {"boxes": out[0], "classes": out[1], "scores": out[2], "num_detections": out[3]}

    return model, serve


def _representative(shape: tuple[int, ...], count: int = 8) -> Callable[[], Iterable[list]]:
    import numpy as np

    def samples():
        rng = np.random.default_rng(0)
        for _ in range(count):
            yield [rng.uniform(-1.0, 1.0, shape).astype(np.float32)]

    return samples


def convert(model, serve=None, *, int8: bool) -> bytes:
    """A Keras model (or its serving function) as .tflite bytes, float or full-int8 with uint8 input."""
    tf = _tf()
    if serve is not None:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], model)
        converter.allow_custom_ops = True
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative((1, *model.input_shape[1:]))
        converter.inference_input_type = tf.uint8
        if serve is None:  # the post-processing outputs stay float32
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_output_type = tf.uint8
    with warnings.catch_warnings():
        # A uint8 input with a representative dataset needs no input statistics; TF warns regardless.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs", category=UserWarning)
        return converter.convert()


def cumsum_model() -> bytes:
    """One CUMSUM op: a graph XNNPack takes none of."""
    tf = _tf()

    @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32)])
    def cumulative(x):
        return tf.math.cumsum(x, axis=1)

    return tf.lite.TFLiteConverter.from_concrete_functions([cumulative.get_concrete_function()]).convert()


def unresolved_custom_op_model() -> bytes:
    """A DIGAMMA custom op no LiteRT build ships: a valid file LiteRT refuses to load."""
    tf = _tf()

    @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32)])
    def digamma(x):
        return tf.math.digamma(x)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([digamma.get_concrete_function()])
    converter.allow_custom_ops = True
    return converter.convert()


BUILDERS: dict[str, Callable[[], bytes]] = {
    "tiny_float": lambda: convert(tiny_conv(), int8=False),
    "tiny_int8": lambda: convert(tiny_conv(), int8=True),
    "detect_float": lambda: convert(*tiny_detector(), int8=False),
    "detect_int8": lambda: convert(*tiny_detector(), int8=True),
    "cumsum": cumsum_model,
    "unresolved_custom_op": unresolved_custom_op_model,
    "mobilenet_float": lambda: convert(mobilenet_v2(), int8=False),
    "mobilenet_int8": lambda: convert(mobilenet_v2(), int8=True),
}


def build(names: Iterable[str], directory: str | Path) -> dict[str, Path]:
    """Write ``<name>.tflite`` for each name into ``directory`` unless already there (a cache).

    Returns:
        name -> path. Files are written atomically, so an interrupted build leaves no half model.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        path = directory / f"{name}.tflite"
        if not path.exists():
            handle, temp = tempfile.mkstemp(dir=directory, suffix=".tflite.tmp")
            with os.fdopen(handle, "wb") as stream:
                stream.write(BUILDERS[name]())
            os.replace(temp, path)
        paths[name] = path
    return paths


if __name__ == "__main__":
    # python -m bench.scripts.timing_models DIRECTORY NAME [NAME ...]: build (or keep) those models.
    import sys

    if len(sys.argv) < 3 or not set(sys.argv[2:]) <= set(BUILDERS):
        names = ", ".join(BUILDERS)
        sys.exit(f"usage: python -m bench.scripts.timing_models DIRECTORY NAME [NAME ...]; names: {names}")
    for built in build(sys.argv[2:], sys.argv[1]).values():
        print(built)
