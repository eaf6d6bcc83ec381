"""A trained Keras detector as an evaluation callable, and loading trained weights.

:func:`keras_detector` gives the ``Detector`` protocol of :mod:`bench.evaluation` (uint8 image of any size
-> boxes, classes, scores) with the same resize (Pillow bilinear), preprocessing and post-processing
(:func:`bench.models.postprocess.postprocess`, the TFLite op's computation) as the exported file, so the
Keras model and its fp32 TFLite export score the same mAP to within rounding.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from bench.evaluation.detectors import Detections, from_postprocess_outputs, resize_image
from bench.models.config import ModelConfig
from bench.models.postprocess import postprocess
from bench.models.registry import build_model
from bench.models.saving import quantize_scope
from common.detection import PostprocessSettings
from common.errors import InputError


def load_trained(model_config: ModelConfig, weights_path: str | Path) -> keras.Model:
    """Build the float model of ``model_config`` and load trained weights into it.

    Args:
        model_config: The variant exactly as trained (input size, width, classes).
        weights_path: ``TrainResult.weights_path`` (HDF5 weights).

    Raises:
        InputError: The file is missing or does not fit the model (e.g. other classes or width).
    """
    path = Path(weights_path)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found")
    model = build_model(model_config)
    try:
        with quantize_scope(), _legacy_name(path) as readable:
            model.load_weights(str(readable))
    except (ValueError, OSError, KeyError) as error:
        raise InputError(f"{path}: does not fit {model_config.name} as configured: {error}") from error
    return model


@contextlib.contextmanager
def _legacy_name(path: Path) -> Iterator[Path]:
    """``path`` under a name tf_keras reads as legacy HDF5 weights.

    Training writes ``final.weights.h5`` (the name the export command expects) in the legacy HDF5 layout,
    but tf_keras picks its Keras 3 reader for any ``*.weights.h5`` name; a symlink named ``*.h5`` avoids it.
    """
    if not path.name.endswith(".weights.h5"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="edgebench-weights-") as tmp:
        link = Path(tmp) / "weights.h5"
        link.symlink_to(path.resolve())
        yield link


def keras_detector(
    model: keras.Model,
    model_config: ModelConfig,
    *,
    max_detections: int = 100,
    score_threshold: float | None = None,
    iou: float = 0.6,
) -> Callable[[np.ndarray], Detections]:
    """The model as a detector callable for :func:`bench.evaluation.evaluate_detector`.

    Args:
        model: Float or QAT Keras model of ``model_config``.
        model_config: Its variant config.
        max_detections: Detections per image (100 so that AR@100 is measurable).
        score_threshold: Keep scores at least this; default the variant's (1e-8, as the export).
        iou: NMS IoU threshold.

    Returns:
        ``detector(image uint8 [H, W, 3]) -> Detections(boxes [N, 4] normalised ymin, xmin, ymax, xmax,
        classes [N] int 0-based, scores [N])`` in decreasing score order, with N <= ``max_detections``
        times the variant's ``postprocess.max_classes_per_detection``.
    """
    default = model_config.postprocess
    post = PostprocessSettings(
        score_threshold=default.score_threshold if score_threshold is None else float(score_threshold),
        iou_threshold=float(iou),
        max_detections=int(max_detections),
        max_classes_per_detection=default.max_classes_per_detection,
    )
    anchors = tf.constant(model_config.generate_anchors())
    size = model_config.input_size
    scales = model_config.matcher.box_scales

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32)])
    def run(images):
        box_encodings, class_logits = model(images, training=False)
        return postprocess(box_encodings, class_logits, anchors, post, scales)

    def detect(image: np.ndarray) -> Detections:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise InputError(f"detector input: expected a uint8 [H, W, 3] image; got shape {image.shape}")
        batch = model_config.preprocessing.apply(resize_image(image.astype(np.uint8), size, size))[None]
        out = run(tf.constant(batch))
        return from_postprocess_outputs(
            out["boxes"].numpy(),
            out["classes"].numpy(),
            out["scores"].numpy(),
            out["num_detections"].numpy(),
            post.max_classes_per_detection,
        )

    return detect
