"""The TFLite export signature: the detector followed by TFLite_Detection_PostProcess.

The post-processing is a ``tf.function(experimental_implements=...)`` whose attribute names the custom
op and its attributes (TF OD API export_tflite_graph_lib_tf2.py); the TFLite converter replaces the
call with the op when custom ops are allowed. Its body is :func:`bench.models.postprocess.postprocess_scores`,
the same computation, so the signature also gives real detections when run in TensorFlow.

Signature (reference/detectors.md, TFLite export convention):
  * input ``images``: float32 [1, H, W, 3] in [-1, 1] (full-int8 converters make it uint8);
  * outputs, by name (the converter may reorder them, so look them up by name, never by position):
    ``boxes`` [1, N, 4] (ymin, xmin, ymax, xmax, normalised), ``classes`` [1, N] (0-based, background
    skipped, float32), ``scores`` [1, N], ``num_detections`` [1] (float32, the count of kept boxes);
    N = max_detections (100 by default) x max_classes_per_detection (K, 1 by default), and the first
    ``num_detections * K`` entries are valid (see :mod:`bench.models.postprocess`).

Converting: see :class:`DetectionExport`. Full-int8 conversion works the usual way (representative
dataset, ``TFLITE_BUILTINS_INT8``, ``inference_input_type`` uint8 or int8); the converter dequantizes
before the custom op, which stays float.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from bench.models.config import ModelConfig
from bench.models.postprocess import postprocess_scores
from common.detection import PostprocessSettings

POSTPROCESS_OP = "TFLite_Detection_PostProcess"
EXPORT_INPUT = "images"
EXPORT_OUTPUTS = ("boxes", "classes", "scores", "num_detections")
# Per-class cap of the op's regular-NMS path; the export uses the fast path (use_regular_nms false), so
# it only has to be present (the OD API's exporter writes 100).
DETECTIONS_PER_CLASS = 100


def implements_signature(config: PostprocessSettings, num_classes: int, box_scales: tuple[float, ...]) -> str:
    """The NameAttrList text naming the custom op and its attributes.

    Floats use ``repr`` so that small thresholds (1e-8) survive; ``%f`` would write 0.000000.

    Returns:
        The ``experimental_implements`` string.
    """
    y_scale, x_scale, h_scale, w_scale = box_scales
    attrs = {
        "max_detections": ("i", config.max_detections),
        "max_classes_per_detection": ("i", config.max_classes_per_detection),
        "detections_per_class": ("i", DETECTIONS_PER_CLASS),
        "use_regular_nms": ("b", "false"),
        "nms_score_threshold": ("f", repr(float(config.score_threshold))),
        "nms_iou_threshold": ("f", repr(float(config.iou_threshold))),
        "num_classes": ("i", num_classes),
        "y_scale": ("f", repr(float(y_scale))),
        "x_scale": ("f", repr(float(x_scale))),
        "h_scale": ("f", repr(float(h_scale))),
        "w_scale": ("f", repr(float(w_scale))),
    }
    parts = [f'name: "{POSTPROCESS_OP}"']
    parts += [f'attr {{ key: "{key}" value {{ {kind}: {value} }} }}' for key, (kind, value) in attrs.items()]
    return " ".join(parts)


def make_export_function(
    model: keras.Model,
    config: ModelConfig,
    postprocess: PostprocessSettings | None = None,
) -> tf.types.experimental.GenericFunction:
    """The serving function of a detector, ending in TFLite_Detection_PostProcess.

    Prefer :class:`DetectionExport`, which also carries the variables for fast conversion.

    Args:
        model: The float or QAT Keras model of ``config`` (outputs box encodings and class logits).
        config: Its variant config (input size, classes, anchors, box scales, NMS defaults).
        postprocess: The op's settings; default ``config.postprocess`` (score >= 1e-8, IoU 0.6, 100 boxes).

    Returns:
        A ``tf.function`` with a fixed input signature ``images`` float32 [1, H, W, 3] returning the
        dict of :data:`EXPORT_OUTPUTS`.
    """
    post = config.postprocess if postprocess is None else postprocess
    anchors = tf.constant(config.generate_anchors(), name="anchors")
    scales = config.matcher.box_scales

    @tf.function(experimental_implements=implements_signature(post, config.num_classes, scales))
    def detection_postprocess(box_encodings, class_scores, anchors):
        out = postprocess_scores(box_encodings, class_scores, anchors, post, scales)
        return out["boxes"], out["classes"], out["scores"], out["num_detections"]

    size = config.input_size
    spec = tf.TensorSpec([1, size, size, 3], tf.float32, name=EXPORT_INPUT)

    @tf.function(input_signature=[spec])
    def serve(images):
        box_encodings, class_logits = model(images, training=False)
        outputs = detection_postprocess(box_encodings, tf.sigmoid(class_logits), anchors)
        return dict(zip(EXPORT_OUTPUTS, outputs, strict=True))

    return serve


class DetectionExport(tf.Module):
    """What a converter needs: the serving function plus the variables it reads, and nothing else.

    Converting from a Keras model as the trackable object makes TensorFlow's SavedModel writer trace
    every Keras layer (about 10x slower: 77 s instead of 12 s for a tiny variant here). This module
    tracks only the variables, so ::

        export = DetectionExport(model, config)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([export.concrete_function()], export)
        converter.allow_custom_ops = True  # TFLite_Detection_PostProcess
        # or: tf.saved_model.save(export, path, signatures={"serving_default": export.concrete_function()})

    Attributes:
        serve: The ``tf.function`` of :func:`make_export_function`.
        config: The variant config.
    """

    def __init__(
        self,
        model: keras.Model,
        config: ModelConfig,
        postprocess: PostprocessSettings | None = None,
    ):
        super().__init__(name="detection_export")
        self.config = config
        self.model_variables = list(model.variables)
        self.serve = make_export_function(model, config, postprocess)

    def concrete_function(self):
        """The serving signature's concrete function (input ``images``, outputs :data:`EXPORT_OUTPUTS`)."""
        return self.serve.get_concrete_function()
