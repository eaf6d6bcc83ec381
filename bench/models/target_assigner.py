"""IoU matcher and target assigner, pure TF ops, usable inside a ``tf.data`` map.

Follows the SSD configs of the TF OD API (``argmax_matcher``: matched_threshold 0.5,
unmatched_threshold 0.5, force_match_for_each_row true; ``iou_similarity``).

Conventions of the class targets ``[A]`` (int32):
  * ``k + 1`` for an anchor matched to a ground truth of 0-based class ``k`` (slot 0 is background,
    matching the model's ``num_classes + 1`` logits);
  * ``0`` for background (best IoU below ``negative_threshold``);
  * ``-1`` for ignored (best IoU in [negative, positive) threshold; never with the default 0.5 / 0.5).
Box targets ``[A, 4]`` are encoded with :mod:`bench.models.box_coder` for matched anchors and 0 elsewhere.
Ground-truth rows whose class id is negative are padding (as in a padded batch) and are skipped, as
are empty boxes (ymax <= ymin or xmax <= xmin); zero ground truths give all-background targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from bench.models.box_coder import DEFAULT_SCALES, encode

BACKGROUND = 0
IGNORE = -1


@dataclass(frozen=True)
class MatcherConfig:
    """Matching thresholds (the OD API's ``argmax_matcher`` message)."""

    positive_threshold: float = 0.5  # best IoU >= this: positive
    negative_threshold: float = 0.5  # best IoU < this: background; in between: ignored
    force_match: bool = True  # every ground truth also takes its best anchor, whatever the IoU
    box_scales: tuple[float, float, float, float] = DEFAULT_SCALES  # box coder (y, x, h, w) scales


def pairwise_iou(boxes_a: tf.Tensor, boxes_b: tf.Tensor) -> tf.Tensor:
    """IoU of every pair of (ymin, xmin, ymax, xmax) boxes.

    Args:
        boxes_a: [N, 4].
        boxes_b: [M, 4].

    Returns:
        float32 [N, M]; 0 where the union is empty.
    """
    a = tf.cast(boxes_a, tf.float32)[:, None, :]
    b = tf.cast(boxes_b, tf.float32)[None, :, :]
    inter_h = tf.maximum(tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]), 0.0)
    inter_w = tf.maximum(tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]), 0.0)
    intersection = inter_h * inter_w
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - intersection
    return tf.math.divide_no_nan(intersection, union)


def match(iou: tf.Tensor, valid: tf.Tensor, config: MatcherConfig) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Argmax matching with forced matches.

    Args:
        iou: [N, A] IoU of ground truths and anchor boxes; N may be 0.
        valid: [N] bool, False for padding rows.
        config: Thresholds.

    Returns:
        (gt index [A] int32, positive [A] bool, ignored [A] bool). The index is meaningful where positive.
    """
    num_anchors = tf.shape(iou)[1]
    # A sentinel row of -1 keeps the argmax defined when there is no (valid) ground truth.
    iou = tf.concat([tf.where(valid[:, None], iou, -1.0), -tf.ones([1, num_anchors])], axis=0)
    best_gt = tf.argmax(iou, axis=0, output_type=tf.int32)
    best_iou = tf.reduce_max(iou, axis=0)
    positive = best_iou >= config.positive_threshold
    ignored = (best_iou >= config.negative_threshold) & ~positive
    if config.force_match:
        # As the OD API: each valid row claims its best anchor; if rows tie on one anchor the first wins.
        claims = tf.one_hot(tf.argmax(iou[:-1], axis=1, output_type=tf.int32), num_anchors)
        claims = tf.concat([claims * tf.cast(valid, tf.float32)[:, None], tf.zeros([1, num_anchors])], 0)
        forced = tf.reduce_max(claims, axis=0) > 0
        forced_gt = tf.argmax(claims, axis=0, output_type=tf.int32)
        best_gt = tf.where(forced, forced_gt, best_gt)
        positive |= forced
        ignored &= ~forced
    return best_gt, positive, ignored


def assign_targets(
    gt_boxes: tf.Tensor, gt_classes: tf.Tensor, anchors: tf.Tensor, config: MatcherConfig = MatcherConfig()
) -> tuple[tf.Tensor, tf.Tensor]:
    """Box and class targets of one image.

    Args:
        gt_boxes: [N, 4] normalised (ymin, xmin, ymax, xmax).
        gt_classes: [N] 0-based class ids; negative ids mark padding rows.
        anchors: [A, 4] (yc, xc, h, w), as :func:`bench.models.anchors.generate_anchors` returns.
        config: Matcher settings.

    Returns:
        (box targets float32 [A, 4], class targets int32 [A]) with the conventions of this module.
    """
    gt_boxes = tf.reshape(tf.cast(gt_boxes, tf.float32), [-1, 4])
    gt_classes = tf.reshape(tf.cast(gt_classes, tf.int32), [-1])
    anchors = tf.cast(anchors, tf.float32)
    ya, xa, ha, wa = tf.unstack(anchors, axis=-1)
    anchor_corners = tf.stack([ya - ha / 2, xa - wa / 2, ya + ha / 2, xa + wa / 2], axis=-1)
    # Empty boxes match nothing: a forced match on one would give infinite log-size targets.
    valid = (gt_classes >= 0) & (gt_boxes[:, 2] > gt_boxes[:, 0]) & (gt_boxes[:, 3] > gt_boxes[:, 1])
    gt_index, positive, ignored = match(pairwise_iou(gt_boxes, anchor_corners), valid, config)
    # Gather from padded copies so the sentinel index N stays in range.
    boxes = tf.gather(tf.concat([gt_boxes, tf.zeros([1, 4])], 0), gt_index)
    classes = tf.gather(tf.concat([gt_classes, [0]], 0), gt_index)
    box_targets = tf.where(positive[:, None], encode(boxes, anchors, config.box_scales), 0.0)
    class_targets = tf.where(positive, classes + 1, tf.where(ignored, IGNORE, BACKGROUND))
    return box_targets, class_targets
