"""Anchors and the box coder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from bench.models import box_coder
from bench.models.anchors import AnchorConfig, anchor_count, feature_map_sizes, generate_anchors, to_corners


@pytest.mark.parametrize(
    ("size", "maps", "count"), [(320, [20, 10, 5, 3, 2, 1], 2034), (300, [19, 10, 5, 3, 2, 1], 1917)]
)
def test_counts_and_feature_maps(size, maps, count):
    config = AnchorConfig()
    assert feature_map_sizes(size) == maps
    assert anchor_count(config, size) == count
    assert generate_anchors(config, maps).shape == (count, 4)


def test_layout_of_the_reference():
    config = AnchorConfig()
    assert config.boxes_per_cell() == [3, 6, 6, 6, 6, 6]
    layers = config.layer_boxes()
    assert layers[0] == [(0.1, 1.0), (0.2, 2.0), (0.2, 0.5)]
    scale1, scale2 = 0.2 + 0.75 / 5, 0.2 + 0.75 * 2 / 5
    assert [r for _, r in layers[1]] == pytest.approx([1.0, 2.0, 0.5, 3.0, 1 / 3, 1.0])
    assert layers[1][-1][0] == pytest.approx(math.sqrt(scale1 * scale2))
    assert layers[5][-1][0] == pytest.approx(math.sqrt(0.95 * 1.0))


def test_anchor_order_is_row_column_box():
    anchors = generate_anchors(AnchorConfig(), [20, 10, 5, 3, 2, 1])
    # First cell of the 20x20 map: three boxes centred at (0.025, 0.025).
    np.testing.assert_allclose(anchors[:3, :2], 0.025, atol=1e-7)
    np.testing.assert_allclose(anchors[1, 2:], [0.2 / math.sqrt(2), 0.2 * math.sqrt(2)], atol=1e-6)
    # Second cell moves along x, the next row along y.
    np.testing.assert_allclose(anchors[3, :2], [0.025, 0.075], atol=1e-7)
    np.testing.assert_allclose(anchors[60, :2], [0.075, 0.025], atol=1e-7)
    # The last anchor is the 1x1 map's interpolated box.
    np.testing.assert_allclose(anchors[-1], [0.5, 0.5, math.sqrt(0.95), math.sqrt(0.95)], atol=1e-6)


def test_box_coder_round_trip_and_formula():
    anchors = generate_anchors(AnchorConfig(), [20, 10, 5, 3, 2, 1])
    boxes = to_corners(anchors) + np.float32(0.01)
    codes = box_coder.encode(boxes, anchors)
    np.testing.assert_allclose(box_coder.decode(codes, anchors).numpy(), boxes, atol=1e-5)
    one = box_coder.encode(tf.constant([[0.1, 0.2, 0.5, 0.4]]), tf.constant([[0.25, 0.25, 0.2, 0.1]]))
    expected = [10 * 0.05 / 0.2, 10 * 0.05 / 0.1, 5 * math.log(0.4 / 0.2), 5 * math.log(0.2 / 0.1)]
    np.testing.assert_allclose(one.numpy()[0], expected, rtol=1e-5)
