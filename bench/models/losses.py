"""SSD losses: sigmoid focal, sigmoid with hard-negative mining, smooth L1; normalised by matches.

Configs followed (TF OD API): ssdlite_mobilenet_v2 (``weighted_sigmoid`` classification,
``weighted_smooth_l1`` localization, ``hard_example_miner`` with 3 negatives per positive and at
least 3 per image); ssdlite_mobilenet_v3 / ssdlite_mobiledet (``weighted_sigmoid_focal`` with alpha
0.75, gamma 2, ``weighted_smooth_l1``). Both sum the per-anchor losses and divide by the number of
positive anchors in the batch (``normalize_loss_by_num_matches``).

Inputs use the conventions of :mod:`bench.models.target_assigner`: class targets ``-1`` (ignored),
``0`` (background) or ``k + 1``; logits have ``num_classes + 1`` slots, slot 0 the background, and
the sigmoid losses run over every slot, background included (the OD API's ``add_background_class``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import tensorflow as tf


class LossKind(enum.StrEnum):
    """Classification loss family."""

    FOCAL = "focal"  # sigmoid focal loss on every non-ignored anchor
    HARD_NEGATIVE_MINING = "hard_negative_mining"  # sigmoid CE on positives + mined negatives


@dataclass(frozen=True)
class LossConfig:
    """Loss settings (the OD API's ``loss`` message)."""

    kind: LossKind = LossKind.FOCAL  # classification loss family
    focal_alpha: float = 0.75  # focal loss weight of positive entries (1 - alpha for negative ones)
    focal_gamma: float = 2.0  # focal loss focusing exponent
    negatives_per_positive: int = 3  # hard-negative mining ratio
    min_negatives_per_image: int = 3  # hard-negative mining floor per image
    smooth_l1_delta: float = 1.0  # Huber transition point
    localization_weight: float = 1.0  # weight of the box loss in the total
    classification_weight: float = 1.0  # weight of the class loss in the total


def sigmoid_focal_loss(targets: tf.Tensor, logits: tf.Tensor, alpha: float, gamma: float) -> tf.Tensor:
    """Element-wise sigmoid focal loss (Focal Loss paper, eq. 5).

    Args:
        targets: one-hot float [..., C].
        logits: [..., C].
        alpha: Weight of positive entries.
        gamma: Focusing exponent.

    Returns:
        [..., C] losses.
    """
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    probs = tf.sigmoid(logits)
    p_t = targets * probs + (1.0 - targets) * (1.0 - probs)
    alpha_t = targets * alpha + (1.0 - targets) * (1.0 - alpha)
    return tf.pow(1.0 - p_t, gamma) * alpha_t * cross_entropy


def smooth_l1_loss(targets: tf.Tensor, predictions: tf.Tensor, delta: float = 1.0) -> tf.Tensor:
    """Huber loss summed over the 4 box coordinates.

    Returns:
        [...] per-anchor losses for [..., 4] inputs.
    """
    error = tf.abs(predictions - targets)
    quadratic = tf.minimum(error, delta)
    return tf.reduce_sum(0.5 * quadratic**2 + delta * (error - quadratic), axis=-1)


def hard_negative_mask(
    losses: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, ratio: int, min_negatives: int
) -> tf.Tensor:
    """Select the highest-loss negatives: ``max(ratio * positives, min_negatives)`` per image.

    The OD API's miner also runs an NMS at IoU 0.99 over the candidates; that near no-op is left out.

    Args:
        losses: [B, A] per-anchor classification losses.
        positive: [B, A] bool.
        negative: [B, A] bool (background anchors).
        ratio: Negatives per positive.
        min_negatives: Floor per image.

    Returns:
        [B, A] bool mask of the selected negatives.
    """
    scores = tf.where(negative, losses, -float("inf"))
    rank = tf.argsort(tf.argsort(scores, axis=1, direction="DESCENDING"), axis=1)
    num_positive = tf.reduce_sum(tf.cast(positive, tf.int32), axis=1, keepdims=True)
    num_negative = tf.reduce_sum(tf.cast(negative, tf.int32), axis=1, keepdims=True)
    keep = tf.minimum(tf.maximum(ratio * num_positive, min_negatives), num_negative)
    return negative & (rank < keep)


def _classification(
    class_targets: tf.Tensor, class_logits: tf.Tensor, config: LossConfig
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-anchor classification losses [B, A] and the mask of anchors that count."""
    positive = class_targets > 0
    negative = tf.equal(class_targets, 0)
    one_hot = tf.one_hot(tf.maximum(class_targets, 0), tf.shape(class_logits)[-1], dtype=tf.float32)
    if config.kind == LossKind.FOCAL:
        losses = sigmoid_focal_loss(one_hot, class_logits, config.focal_alpha, config.focal_gamma)
        return tf.reduce_sum(losses, axis=-1), positive | negative
    losses = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=one_hot, logits=class_logits), -1)
    mined = hard_negative_mask(
        tf.stop_gradient(losses),
        positive,
        negative,
        config.negatives_per_positive,
        config.min_negatives_per_image,
    )
    return losses, positive | mined


def detection_loss(
    box_targets: tf.Tensor,
    class_targets: tf.Tensor,
    box_encodings: tf.Tensor,
    class_logits: tf.Tensor,
    config: LossConfig = LossConfig(),
) -> dict[str, tf.Tensor]:
    """The SSD training loss of a batch.

    Args:
        box_targets: [B, A, 4] encoded targets (from ``assign_targets``).
        class_targets: [B, A] int targets (-1 ignored, 0 background, k + 1 class k).
        box_encodings: [B, A, 4] the model's first output.
        class_logits: [B, A, C + 1] the model's second output.
        config: Loss settings.

    Returns:
        ``loss`` (weighted total), ``localization``, ``classification`` (each already divided by the
        number of positives, at least 1) and ``num_positives`` (float32 scalar).
    """
    class_targets = tf.cast(class_targets, tf.int32)
    positive = class_targets > 0
    per_anchor, selected = _classification(class_targets, tf.cast(class_logits, tf.float32), config)
    num_positives = tf.reduce_sum(tf.cast(positive, tf.float32))
    normaliser = tf.maximum(num_positives, 1.0)
    classification = tf.reduce_sum(tf.where(selected, per_anchor, 0.0)) / normaliser
    box_losses = smooth_l1_loss(
        tf.cast(box_targets, tf.float32), tf.cast(box_encodings, tf.float32), config.smooth_l1_delta
    )
    localization = tf.reduce_sum(tf.where(positive, box_losses, 0.0)) / normaliser
    total = config.localization_weight * localization + config.classification_weight * classification
    return {
        "loss": total,
        "localization": localization,
        "classification": classification,
        "num_positives": num_positives,
    }
