"""Focal, hard-negative-mining and smooth L1 losses."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from bench.models.losses import (
    LossConfig,
    LossKind,
    detection_loss,
    hard_negative_mask,
    sigmoid_focal_loss,
    smooth_l1_loss,
)


def test_smooth_l1_is_huber_summed_over_coordinates():
    loss = smooth_l1_loss(tf.zeros([1, 4]), tf.constant([[0.5, -2.0, 0.0, 1.0]]))
    assert loss.numpy()[0] == pytest.approx(0.125 + 1.5 + 0.0 + 0.5)


def test_focal_loss_formula():
    logits = tf.constant([[2.0, -1.0]])
    targets = tf.constant([[1.0, 0.0]])
    p = 1 / (1 + np.exp(-2.0))
    q = 1 / (1 + np.exp(1.0))
    expected = [0.75 * (1 - p) ** 2 * -np.log(p), 0.25 * q**2 * -np.log(1 - q)]
    np.testing.assert_allclose(sigmoid_focal_loss(targets, logits, 0.75, 2.0).numpy()[0], expected, rtol=1e-5)


def test_hard_negative_mining_keeps_three_per_positive():
    losses = tf.constant([[9.0, 1.0, 5.0, 4.0, 3.0, 2.0, 8.0, 0.5]])
    positive = tf.constant([[True, False, False, False, False, False, False, False]])
    negative = ~positive
    mask = hard_negative_mask(losses, positive, negative, 3, 0).numpy()[0]
    assert np.flatnonzero(mask).tolist() == [2, 3, 6]
    floor = hard_negative_mask(losses, tf.zeros_like(positive), tf.ones_like(positive), 3, 2).numpy()[0]
    assert np.flatnonzero(floor).tolist() == [0, 6]


@pytest.mark.parametrize("kind", list(LossKind))
def test_detection_loss_normalises_by_matches_and_skips_ignored(kind, rng):
    anchors, slots = 50, 4
    class_targets = rng.integers(-1, slots, (2, anchors)).astype(np.int32)
    box_targets = rng.normal(size=(2, anchors, 4)).astype(np.float32)
    logits = rng.normal(size=(2, anchors, slots)).astype(np.float32)
    codes = rng.normal(size=(2, anchors, 4)).astype(np.float32)
    out = detection_loss(box_targets, class_targets, codes, logits, LossConfig(kind=kind))
    positives = (class_targets > 0).sum()
    assert out["num_positives"].numpy() == positives
    expected_loc = smooth_l1_loss(box_targets, codes).numpy()[class_targets > 0].sum() / positives
    assert out["localization"].numpy() == pytest.approx(expected_loc, rel=1e-5)
    assert out["loss"].numpy() == pytest.approx(out["localization"].numpy() + out["classification"].numpy())
    # Ignored anchors contribute nothing, whatever their logits.
    logits[class_targets == -1] = 50.0
    again = detection_loss(box_targets, class_targets, codes, logits, LossConfig(kind=kind))
    assert again["classification"].numpy() == pytest.approx(out["classification"].numpy(), rel=1e-5)


def test_loss_has_gradients(rng):
    logits = tf.Variable(rng.normal(size=(1, 10, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        out = detection_loss(
            tf.zeros([1, 10, 4]), tf.constant([[1, 0, 0, 2, 0, 0, 0, 0, 0, 0]]), tf.zeros([1, 10, 4]), logits
        )
    assert np.all(np.isfinite(tape.gradient(out["loss"], logits).numpy()))
