"""SSD data augmentation as stateless TensorFlow ops (Liu et al., "SSD", ECCV 2016, Sec. 2.2 and 3.6).

Geometry is folded into one crop window: zoom-out (placing the image on a larger grey canvas) and the
random crop (a patch that covers at least a sampled fraction of some object) each only move the window,
and a single ``tf.image.crop_and_resize`` then cuts, pads and resizes in one pass. The canvas is never
materialised, which keeps a 3x zoom-out as cheap as no zoom-out. Every random draw takes a seed derived
from the element's own seed, so an augmented example is a pure function of (image, seed).

Photometric jitter comes first, on the decoded image (smaller than the model input here, and the
zoom-out fill stays neutral grey, as in SSD's Caffe pipeline). Images are float32 in [0, 1] after
decoding; boxes are float32 [N, 4] normalised ``ymin, xmin, ymax, xmax``. The settings are
:class:`bench.data.augment_config.AugmentConfig`.
"""

from __future__ import annotations

import tensorflow as tf

from bench.data.augment_config import AugmentConfig

# Zoom-out fills with mid-grey: after the model's x * 2 - 1 (on [0, 1]) it is exactly 0, "nothing".
FILL_VALUE = 0.5


def _uniform(seed: tf.Tensor, low: float = 0.0, high: float = 1.0) -> tf.Tensor:
    return tf.random.stateless_uniform([], seed, low, high)


def _zoom_out(
    boxes: tf.Tensor, seed: tf.Tensor, cfg: AugmentConfig
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Place the image on a canvas ``r`` times larger at a random offset.

    Returns:
        The canvas window in image coordinates [4], the boxes in canvas coordinates, and ``r``.
    """
    seeds = tf.random.experimental.stateless_split(seed, 4)
    apply = _uniform(seeds[0]) < cfg.zoom_out_prob
    ratio = tf.where(apply, _uniform(seeds[1], 1.0, cfg.zoom_out_max), 1.0)
    off_y = _uniform(seeds[2]) * (ratio - 1.0)
    off_x = _uniform(seeds[3]) * (ratio - 1.0)
    window = tf.stack([-off_y, -off_x, ratio - off_y, ratio - off_x])
    canvas_boxes = (boxes + tf.stack([off_y, off_x, off_y, off_x])) / ratio
    return window, canvas_boxes, ratio


def _sample_crop(image_hw: tf.Tensor, boxes: tf.Tensor, seed: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """An SSD crop of the canvas, as a normalised window [4] in canvas coordinates."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    choices = tf.constant(cfg.min_object_covered, tf.float32)
    pick = tf.random.stateless_uniform([], seeds[0], 0, len(cfg.min_object_covered), tf.int32)
    _, _, window = tf.image.stateless_sample_distorted_bounding_box(
        tf.concat([image_hw, [3]], 0),
        boxes[None],
        seed=seeds[1],
        min_object_covered=tf.gather(choices, pick),
        aspect_ratio_range=cfg.crop_aspect_range,
        area_range=cfg.crop_area_range,
        max_attempts=50,
        use_image_if_no_bounding_boxes=True,
    )
    full = tf.constant([0.0, 0.0, 1.0, 1.0])
    return tf.where(_uniform(seeds[2]) < cfg.crop_prob, tf.reshape(window, [4]), full)


def _into_window(boxes: tf.Tensor, window: tf.Tensor) -> tf.Tensor:
    """Express boxes in the coordinates of ``window`` (both normalised ymin, xmin, ymax, xmax)."""
    size = tf.stack([window[2] - window[0], window[3] - window[1]])
    size = tf.tile(size, [2])
    return (boxes - tf.tile(window[:2], [2])) / size


def _keep_centred(boxes: tf.Tensor, classes: tf.Tensor, min_hw: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """SSD keeps a box if its centre lies in the crop, clipped to the crop; drop slivers too."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    inside = tf.reduce_all((centre >= 0.0) & (centre <= 1.0), axis=1)
    clipped = tf.clip_by_value(boxes, 0.0, 1.0)
    big = tf.reduce_all(clipped[:, 2:] - clipped[:, :2] >= min_hw, axis=1)
    keep = inside & big
    return tf.boolean_mask(clipped, keep), tf.boolean_mask(classes, keep)


def _photometric(image: tf.Tensor, seed: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Brightness, contrast, saturation and hue jitter on an image in [0, 1]."""
    seeds = tf.random.experimental.stateless_split(seed, 5)

    def jitter():
        out = tf.image.stateless_random_brightness(image, cfg.brightness, seeds[0])
        out = tf.image.stateless_random_contrast(out, *cfg.contrast, seeds[1])
        out = tf.image.stateless_random_saturation(tf.clip_by_value(out, 0.0, 1.0), *cfg.saturation, seeds[2])
        return tf.clip_by_value(tf.image.stateless_random_hue(out, cfg.hue, seeds[3]), 0.0, 1.0)

    # tf.cond, not tf.where: the skipped branch then costs nothing (the jitter is the dearest step).
    return tf.cond(_uniform(seeds[4]) < cfg.photometric_prob, jitter, lambda: image)


def augment(
    image: tf.Tensor,
    boxes: tf.Tensor,
    classes: tf.Tensor,
    seed: tf.Tensor,
    out_hw: tuple[int, int],
    cfg: AugmentConfig,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Zoom-out, crop, resize, photometric jitter and flip one example.

    Args:
        image: uint8 (or float32 in [0, 255]) [H, W, 3], as decoded.
        boxes: float32 [N, 4] normalised ymin, xmin, ymax, xmax.
        classes: int32 [N].
        seed: int [2], the example's stateless seed.
        out_hw: Output (height, width).
        cfg: Augmentation settings.

    Returns:
        float32 [out_h, out_w, 3] in [0, 1], the surviving boxes in output coordinates, their classes.
    """
    seeds = tf.random.experimental.stateless_split(seed, 4)
    image = _photometric(tf.cast(image, tf.float32) / 255.0, seeds[2], cfg)
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    canvas_window, canvas_boxes, ratio = _zoom_out(boxes, seeds[0], cfg)
    crop = _sample_crop(tf.cast(tf.round(hw * ratio), tf.int32), canvas_boxes, seeds[1], cfg)
    # The crop in image coordinates: canvas origin + crop position scaled by the canvas size.
    window = tf.tile(canvas_window[:2], [2]) + crop * ratio
    out = tf.image.crop_and_resize(image[None], window[None], [0], out_hw, extrapolation_value=FILL_VALUE)[0]
    min_hw = tf.constant([cfg.min_box_pixels / out_hw[0], cfg.min_box_pixels / out_hw[1]])
    boxes, classes = _keep_centred(_into_window(canvas_boxes, crop), classes, min_hw)
    flip = _uniform(seeds[3]) < cfg.flip_prob
    out = tf.cond(flip, lambda: tf.reverse(out, axis=[1]), lambda: out)
    flipped = tf.stack([boxes[:, 0], 1.0 - boxes[:, 3], boxes[:, 2], 1.0 - boxes[:, 1]], axis=1)
    boxes = tf.where(flip, flipped, boxes)
    return out, boxes, classes
