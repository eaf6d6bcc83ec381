"""Keras-side decoding and non-maximum suppression, the same computation as TFLite_Detection_PostProcess.

It mirrors the op's fast path (``use_regular_nms`` false): decode every box, take each anchor's best
non-background sigmoid score, keep scores >= the threshold, run one class-agnostic greedy NMS (suppress
IoU > threshold) and keep up to ``max_detections`` boxes in decreasing score order. Each kept box is then
written once per class for its ``max_classes_per_detection`` (K) best classes, best first, so the outputs
hold ``num_detections * K`` valid entries, box-major: entry ``i * K + j`` is box i with its j-th class.
``num_detections`` counts boxes, not entries, as the op does. With K = 1 (the TF exporters' default) this is
the familiar one detection per box; K > 1 also gives a box's runner-up classes a chance, which is what
COCO-style evaluation with per-class candidates rewards. Outputs are zero-padded to ``max_detections * K``;
boxes are not clipped. The settings are :class:`common.detection.PostprocessSettings`, the one type every
format's post-processing (this, the TFLite op, Core ML's NMS) is configured with.
"""

from __future__ import annotations

import tensorflow as tf

from bench.models.box_coder import DEFAULT_SCALES, decode
from common.detection import PostprocessSettings

_DEFAULT = PostprocessSettings()


def _one_image(boxes: tf.Tensor, scores: tf.Tensor, config: PostprocessSettings) -> tuple[tf.Tensor, ...]:
    """NMS of one image: boxes [A, 4] decoded, scores [A, C] without background."""
    per_box = config.max_classes_per_detection
    top_scores, top_classes = tf.math.top_k(scores, k=per_box)  # [A, K], best class first
    best = top_scores[:, 0]
    # The op keeps scores >= threshold; tf NMS keeps scores > its threshold, so mark the rest -1.
    best = tf.where(best >= config.score_threshold, best, -1.0)
    keep = tf.image.non_max_suppression(
        boxes, best, config.max_detections, iou_threshold=config.iou_threshold, score_threshold=-0.5
    )
    count = tf.shape(keep)[0]
    pad = config.max_entries - count * per_box
    out_boxes = tf.repeat(tf.gather(boxes, keep), per_box, axis=0)  # box-major, as the op writes them
    out_boxes = tf.pad(out_boxes, [[0, pad], [0, 0]])
    out_classes = tf.pad(tf.cast(tf.reshape(tf.gather(top_classes, keep), [-1]), tf.float32), [[0, pad]])
    out_scores = tf.pad(tf.reshape(tf.gather(top_scores, keep), [-1]), [[0, pad]])
    return out_boxes, out_classes, out_scores, tf.cast(count, tf.float32)


def postprocess_scores(
    box_encodings: tf.Tensor,
    class_scores: tf.Tensor,
    anchors: tf.Tensor,
    config: PostprocessSettings = _DEFAULT,
    box_scales: tuple[float, ...] = DEFAULT_SCALES,
) -> dict[str, tf.Tensor]:
    """Like :func:`postprocess` but from sigmoid scores [B, A, C + 1] (what the TFLite op takes)."""
    boxes = decode(box_encodings, tf.cast(anchors, tf.float32)[None], box_scales)
    scores = tf.cast(class_scores, tf.float32)[..., 1:]
    signature = (
        tf.TensorSpec([config.max_entries, 4], tf.float32),
        tf.TensorSpec([config.max_entries], tf.float32),
        tf.TensorSpec([config.max_entries], tf.float32),
        tf.TensorSpec([], tf.float32),
    )
    out = tf.map_fn(lambda x: _one_image(x[0], x[1], config), (boxes, scores), fn_output_signature=signature)
    return dict(zip(("boxes", "classes", "scores", "num_detections"), out, strict=True))


def postprocess(
    box_encodings: tf.Tensor,
    class_logits: tf.Tensor,
    anchors: tf.Tensor,
    config: PostprocessSettings = _DEFAULT,
    box_scales: tuple[float, ...] = DEFAULT_SCALES,
) -> dict[str, tf.Tensor]:
    """Decode a batch of raw model outputs into detections.

    Args:
        box_encodings: [B, A, 4] the model's first output.
        class_logits: [B, A, C + 1] the model's second output (slot 0 background).
        anchors: [A, 4] (yc, xc, h, w).
        config: Thresholds and the number of detections N.
        box_scales: Box coder scales.

    Returns:
        ``boxes`` [B, N, 4] (ymin, xmin, ymax, xmax, normalised), ``classes`` [B, N] (0-based, float32),
        ``scores`` [B, N], ``num_detections`` [B] (float32, kept boxes), as the TFLite op's four outputs;
        N = ``config.max_entries``, of which ``num_detections * max_classes_per_detection`` are valid.
    """
    return postprocess_scores(
        box_encodings, tf.sigmoid(tf.cast(class_logits, tf.float32)), anchors, config, box_scales
    )
