"""Faster R-CNN box coder as SSD uses it (TF OD API ``faster_rcnn_box_coder``, scales 10, 10, 5, 5).

``(ty, tx, th, tw) = (10 dy / ha, 10 dx / wa, 5 log(h / ha), 5 log(w / wa))`` relative to the anchor
centre and size. These scales are also the y/x/h/w_scale attributes of TFLite_Detection_PostProcess.
Boxes are (ymin, xmin, ymax, xmax); anchors (yc, xc, h, w), both normalised. Pure TF ops.
"""

from __future__ import annotations

import tensorflow as tf

DEFAULT_SCALES = (10.0, 10.0, 5.0, 5.0)  # y, x, h, w
# The OD API adds this to sizes before dividing and taking logs, so degenerate boxes stay finite.
_EPSILON = 1e-8


def corners_to_centers(boxes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """(ymin, xmin, ymax, xmax) [..., 4] -> yc, xc, h, w [...]."""
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    return (ymin + ymax) / 2.0, (xmin + xmax) / 2.0, ymax - ymin, xmax - xmin


def encode(boxes: tf.Tensor, anchors: tf.Tensor, scales: tuple[float, ...] = DEFAULT_SCALES) -> tf.Tensor:
    """Encode boxes relative to anchors.

    Args:
        boxes: [..., 4] (ymin, xmin, ymax, xmax).
        anchors: [..., 4] (yc, xc, h, w), broadcastable to ``boxes``.
        scales: (y, x, h, w) scales.

    Returns:
        float32 [..., 4] (ty, tx, th, tw).
    """
    yc, xc, h, w = corners_to_centers(tf.cast(boxes, tf.float32))
    ya, xa, ha, wa = tf.unstack(tf.cast(anchors, tf.float32), axis=-1)
    ha, wa = ha + _EPSILON, wa + _EPSILON
    h, w = h + _EPSILON, w + _EPSILON
    sy, sx, sh, sw = scales
    return tf.stack(
        [sy * (yc - ya) / ha, sx * (xc - xa) / wa, sh * tf.math.log(h / ha), sw * tf.math.log(w / wa)],
        axis=-1,
    )


def decode(codes: tf.Tensor, anchors: tf.Tensor, scales: tuple[float, ...] = DEFAULT_SCALES) -> tf.Tensor:
    """Decode box encodings the way TFLite_Detection_PostProcess does.

    Args:
        codes: [..., 4] (ty, tx, th, tw).
        anchors: [..., 4] (yc, xc, h, w), broadcastable to ``codes``.
        scales: (y, x, h, w) scales.

    Returns:
        float32 [..., 4] (ymin, xmin, ymax, xmax), not clipped.
    """
    ty, tx, th, tw = tf.unstack(tf.cast(codes, tf.float32), axis=-1)
    ya, xa, ha, wa = tf.unstack(tf.cast(anchors, tf.float32), axis=-1)
    sy, sx, sh, sw = scales
    yc = ty / sy * ha + ya
    xc = tx / sx * wa + xa
    half_h = 0.5 * tf.exp(th / sh) * ha
    half_w = 0.5 * tf.exp(tw / sw) * wa
    return tf.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], axis=-1)
