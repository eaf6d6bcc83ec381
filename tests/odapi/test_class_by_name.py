"""The published 91-slot COCO class head mapped to a dataset's categories by name (90-id label map)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.coco_labels import slots_by_name
from bench.models.pretrained.od_api import import_od_api_checkpoint
from bench.models.pretrained.od_api_table import checkpoint_table
from bench.models.registry import build_model, get_config
from common.errors import InputError
from tests.odapi.test_od_api_import import _conv, _outputs

VARIANT = "ssdlite_mobilenet_v3_small"
# A permuted subset of COCO's categories, as a dataset may number them (COCO ids 18, 1, 90, 3, 84).
NAMES = ("dog", "person", "toothbrush", "car", "book")


def _imported(write_checkpoint, names):
    config = get_config(VARIANT, num_classes=len(names))
    model = build_model(config)
    fresh = {n: model.get_layer(f"head{n}_class").get_weights() for n in range(6)}
    prefix, tensors = write_checkpoint(checkpoint_table(config))
    report = import_od_api_checkpoint(model, config, prefix, class_names=names)
    return model, config, tensors, report, fresh


def test_class_logits_are_the_checkpoints_channels_of_the_same_names(write_checkpoint):
    model, config, tensors, report, _ = _imported(write_checkpoint, NAMES)
    assert report.class_head_loaded and report.labels == NAMES and report.fresh_classes == ()
    assert "by name: 5 of 5 classes (and the background)" in report.class_head_note
    assert "class head: 42 tensors, by name: 5 of 5 classes" in "\n".join(report.lines())
    columns = [0, 18, 1, 90, 3, 84]  # background first, then each name's COCO id
    assert slots_by_name(NAMES) == columns[1:]

    images = np.random.default_rng(3).uniform(-1, 1, (1, 320, 320, 3)).astype(np.float32)
    names = [f"head{n}_class_depthwise_relu6" for n in range(6)]
    *features, logits = _outputs(model, [*names, "class_logits"], images)
    sizes, per_cell = config.feature_map_sizes, config.anchors.boxes_per_cell()
    start = 0
    for index, feature in enumerate(features):  # every map: the final 1x1 conv from checkpoint tensors
        head = f"BoxPredictor_{index}/ClassPredictor"
        full = _conv(feature, tensors[f"{head}/weights"]) + tensors[f"{head}/biases"]
        count = sizes[index] ** 2 * per_cell[index]
        reference = full.reshape(1, count, 91)[:, :, columns]
        np.testing.assert_allclose(logits[:, start : start + count], reference, rtol=1e-4, atol=1e-4)
        start += count
    assert start == logits.shape[1]


def test_names_not_in_the_label_map_keep_the_prior_init(write_checkpoint):
    names = ("Dog", "widget", "person")  # case is ignored; "widget" has no COCO namesake
    model, _, tensors, report, fresh = _imported(write_checkpoint, names)
    assert report.fresh_classes == ("widget",) and "fresh prior init: widget" in report.class_head_note
    kernel, bias = model.get_layer("head0_class").get_weights()
    theirs = tensors["BoxPredictor_0/ClassPredictor/biases"].reshape(3, 91)
    ours, before = bias.reshape(3, 4), fresh[0][1].reshape(3, 4)
    np.testing.assert_array_equal(ours[:, [0, 1, 3]], theirs[:, [0, 18, 1]])
    np.testing.assert_array_equal(ours[:, 2], before[:, 2])  # the prior logit bias, untouched
    np.testing.assert_array_equal(kernel.reshape(-1, 3, 4)[..., 2], fresh[0][0].reshape(-1, 3, 4)[..., 2])


@pytest.mark.slow
def test_no_name_found_keeps_the_whole_fresh_head(write_checkpoint):
    model, _, _, report, fresh = _imported(write_checkpoint, ("widget", "gadget"))
    assert not report.class_head_loaded and report.labels == ()
    assert "none of the model's classes" in report.class_head_note
    for index in range(6):
        for got, want in zip(model.get_layer(f"head{index}_class").get_weights(), fresh[index], strict=True):
            np.testing.assert_array_equal(got, want)


def test_class_names_must_match_the_class_count():
    config = get_config(VARIANT, num_classes=2)
    with pytest.raises(InputError, match="3 class names for 2 classes"):
        import_od_api_checkpoint(None, config, "/nowhere", class_names=("a", "b", "c"))
