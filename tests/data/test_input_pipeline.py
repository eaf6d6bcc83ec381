"""The tf.data pipelines: shapes and ranges, boxes that follow the pixels through every augmentation,
determinism by seed, the encode_fn hook, crowd handling, and evaluation input matching LiteRT's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import bench  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from bench.data.augment import AugmentConfig
from bench.data.coco import load_coco
from bench.evaluation.detectors import resize_image, to_model_range
from common.errors import InputError

tf = pytest.importorskip("tensorflow")
from bench.data.input_pipeline import PipelineConfig, eval_dataset, train_dataset  # noqa: E402

BOXES = {1: (10, 12, 30, 20), 2: (40, 5, 16, 40), 3: (2, 30, 70, 28)}  # image id -> x, y, w, h


@pytest.fixture
def squares(make_split):
    """Black 80x60 images, each with one white rectangle: its box is where the white pixels are."""
    document = {
        "images": [],
        "annotations": [],
        "categories": [{"id": 4, "name": "a"}, {"id": 8, "name": "b"}],
    }
    for image_id, (x, y, w, h) in BOXES.items():
        document["images"].append({"id": image_id, "file_name": f"{image_id}.png", "width": 80, "height": 60})
        document["annotations"].append(
            {"id": image_id, "image_id": image_id, "category_id": 8, "bbox": [x, y, w, h], "iscrowd": 0}
        )
    path = make_split(document, write_images=False)
    for image_id, (x, y, w, h) in BOXES.items():
        pixels = np.zeros((60, 80, 3), np.uint8)
        pixels[y : y + h, x : x + w] = 255
        Image.fromarray(pixels).save(path.parent / "images" / f"{image_id}.png")
    return load_coco(path)


def test_train_batches_have_fixed_shapes_and_model_range(squares):
    config = PipelineConfig(image_size=(48, 64), batch_size=4, max_boxes=5)
    images, targets = next(iter(train_dataset(squares, config)))

    assert images.shape == (4, 48, 64, 3) and images.dtype == tf.float32
    assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
    assert targets["boxes"].shape == (4, 5, 4) and targets["classes"].shape == (4, 5)
    for boxes, classes, count in zip(targets["boxes"], targets["classes"], targets["num_boxes"], strict=True):
        assert np.all(classes[:count] == 1) and np.all(classes[count:] == -1)
        assert np.all(boxes[count:] == 0) and np.all((boxes >= 0) & (boxes <= 1))


def test_boxes_follow_the_pixels_through_zoom_crop_and_flip(squares):
    augment = AugmentConfig(photometric_prob=0.0, zoom_out_prob=0.5, crop_prob=0.8)
    config = PipelineConfig(image_size=(48, 64), batch_size=8, seed=7, augment=augment)
    seen = 0
    for images, targets in train_dataset(squares, config).take(6):
        for image, boxes, count in zip(images, targets["boxes"], targets["num_boxes"], strict=True):
            if count == 0:
                continue  # the crop left the square's centre out
            seen += 1
            white = np.argwhere(image.numpy().min(axis=-1) > 0.0)  # above the grey fill and the black
            found = np.array([*white.min(axis=0), *(white.max(axis=0) + 1)], np.float32) / [48, 64, 48, 64]
            # The box may be clipped to the crop; the white pixels then are too. 1.5 px of resampling slack.
            np.testing.assert_allclose(found, boxes[0].numpy(), atol=1.5 / 48)
    assert seen >= 30


def test_same_seed_same_stream_other_seed_other_stream(squares):
    config = PipelineConfig(image_size=32, batch_size=3, seed=1)
    a = next(iter(train_dataset(squares, config)))
    b = next(iter(train_dataset(squares, config)))
    c = next(iter(train_dataset(squares, PipelineConfig(image_size=32, batch_size=3, seed=2))))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1]["boxes"], b[1]["boxes"])
    assert not np.array_equal(a[0], c[0])


def test_encode_fn_receives_example_and_its_outputs_are_batched(squares):
    seen_shapes = []

    def encode_fn(image, boxes, classes):
        seen_shapes.append((image.shape.as_list(), boxes.shape.as_list(), classes.dtype))
        histogram = tf.math.bincount(classes, minlength=2, maxlength=2, dtype=tf.int32)
        return image, (histogram, tf.shape(boxes)[0])

    config = PipelineConfig(image_size=32, batch_size=3)
    images, (histograms, counts) = next(iter(train_dataset(squares, config, encode_fn)))

    assert seen_shapes == [([32, 32, 3], [None, 4], tf.int32)]
    assert images.shape == (3, 32, 32, 3) and histograms.shape == (3, 2)
    np.testing.assert_array_equal(histograms[:, 1], counts)


def test_crowd_is_dropped_for_training_and_kept_for_evaluation(valid_split):
    dataset = load_coco(valid_split)  # image 7: star + crowd circle; image 3: square; image 11: empty
    config = PipelineConfig(
        image_size=16, batch_size=3, augment=AugmentConfig(crop_prob=0.0, zoom_out_prob=0)
    )
    _, targets = next(iter(train_dataset(dataset, config)))
    train_classes = sorted(int(c) for c in tf.reshape(targets["classes"], [-1]) if c >= 0)
    assert train_classes == [1, 2]

    _, eval_targets = next(iter(eval_dataset(dataset, config)))
    assert eval_targets["image_id"].numpy().tolist() == [7, 3, 11]
    assert eval_targets["num_boxes"].numpy().tolist() == [2, 1, 0]
    assert eval_targets["classes"][0, :2].numpy().tolist() == [2, 0]


def test_eval_input_matches_the_litert_preprocessing(valid_split):
    dataset = load_coco(valid_split)
    batches = list(eval_dataset(dataset, PipelineConfig(image_size=(24, 40), batch_size=2)))
    assert [b[0].shape[0] for b in batches] == [2, 1]  # the last batch may be short
    first = batches[0][0][0].numpy()
    pixels = np.asarray(Image.open(dataset.records[0].path).convert("RGB"))
    litert_input = to_model_range(resize_image(pixels, 24, 40))
    # Both are anti-aliased bilinear resizes; they differ only by rounding to uint8 on the LiteRT side.
    assert np.abs(first - litert_input).mean() < 0.02


def test_config_rejects_bad_values():
    with pytest.raises(InputError, match=r"image_size: expected a side or \(height, width\) >= 8; got 0"):
        PipelineConfig(image_size=0)
    with pytest.raises(InputError, match="batch_size: expected a positive integer; got 0"):
        PipelineConfig(batch_size=0)
    assert PipelineConfig(image_size=(48, 64)).out_hw == (48, 64)
