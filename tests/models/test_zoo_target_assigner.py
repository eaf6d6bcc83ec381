"""The matcher / target assigner, in eager mode and inside tf.data."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bench.models import box_coder
from bench.models.registry import get_config
from bench.models.target_assigner import BACKGROUND, IGNORE, MatcherConfig, assign_targets


def _anchors():
    return get_config("ssdlite_mobilenet_v2").generate_anchors()


def test_matched_anchors_get_encoded_boxes_and_shifted_classes():
    anchors = _anchors()
    gt = np.array([[0.1, 0.1, 0.5, 0.4], [0.6, 0.5, 0.95, 0.9]], np.float32)
    boxes, classes = assign_targets(gt, np.array([0, 41]), anchors)
    classes = classes.numpy()
    assert boxes.shape == (2034, 4) and classes.shape == (2034,)
    assert set(np.unique(classes)) == {BACKGROUND, 1, 42}
    # A matched anchor's target decodes back to its ground truth.
    index = int(np.flatnonzero(classes == 42)[0])
    np.testing.assert_allclose(box_coder.decode(boxes[index], anchors[index]).numpy(), gt[1], atol=1e-5)
    np.testing.assert_array_equal(boxes.numpy()[classes == BACKGROUND], 0.0)


def test_every_ground_truth_is_force_matched():
    # A box too small to reach IoU 0.5 with any anchor still gets its best anchor.
    gt = np.array([[0.5, 0.5, 0.51, 0.51]], np.float32)
    _, classes = assign_targets(gt, np.array([3]), _anchors())
    assert int(np.sum(classes.numpy() == 4)) == 1
    _, classes = assign_targets(gt, np.array([3]), _anchors(), MatcherConfig(force_match=False))
    assert int(np.sum(classes.numpy() > 0)) == 0


def test_empty_and_padded_ground_truth():
    anchors = _anchors()
    boxes, classes = assign_targets(np.zeros([0, 4], np.float32), np.zeros([0], np.int32), anchors)
    assert np.all(classes.numpy() == BACKGROUND) and np.all(boxes.numpy() == 0)
    # A padding row (class -1) and an empty box are skipped, the real box still matches.
    gt = np.array([[0.1, 0.1, 0.5, 0.4], [0.0, 0.0, 0.0, 0.0], [0.2, 0.2, 0.6, 0.6]], np.float32)
    _, classes = assign_targets(gt, np.array([5, 7, -1]), anchors)
    assert set(np.unique(classes.numpy())) == {BACKGROUND, 6}


def test_ignore_band_between_thresholds():
    gt = np.array([[0.1, 0.1, 0.5, 0.4]], np.float32)
    config = MatcherConfig(positive_threshold=0.6, negative_threshold=0.3)
    _, classes = assign_targets(gt, np.array([0]), _anchors(), config)
    assert {BACKGROUND, IGNORE, 1} <= set(np.unique(classes.numpy()))


def test_runs_inside_a_tf_data_map():
    anchors = _anchors()
    gt = tf.ragged.constant(
        [[[0.1, 0.1, 0.5, 0.4]], [[0.2, 0.3, 0.4, 0.9], [0.5, 0.5, 0.9, 0.7]]], ragged_rank=1
    )
    labels = tf.ragged.constant([[2], [0, 1]])
    dataset = tf.data.Dataset.from_tensor_slices((gt, labels)).map(lambda b, c: assign_targets(b, c, anchors))
    shapes = [
        (boxes.shape, classes.shape, int(tf.reduce_sum(tf.cast(classes > 0, tf.int32))))
        for boxes, classes in dataset
    ]
    assert [s[:2] for s in shapes] == [((2034, 4), (2034,))] * 2
    assert all(s[2] >= 1 for s in shapes)
