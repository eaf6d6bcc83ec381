"""tf.data input pipelines for SSD training and evaluation.

Training: shuffle -> decode -> SSD augmentation (:mod:`bench.data.augment`) -> resize to the model input ->
the model's preprocessing (``PipelineConfig.preprocessing``, the model config's) -> target encoding ->
batch -> prefetch, with the per-example work in a parallel map.
Evaluation: decode -> resize -> the model's preprocessing, in dataset order, no augmentation.

Target assignment belongs to the detector zoo (anchors, box coder, matcher), so the pipeline takes an
optional ``encode_fn`` and calls it on every example inside the parallel map::

    encode_fn(image, boxes, classes) -> (image, *targets)

    image:   float32 [H, W, 3] in [-1, 1] (already resized to ``PipelineConfig.image_size``)
    boxes:   float32 [N, 4] normalised ymin, xmin, ymax, xmax in the image above (N varies)
    classes: int32 [N], contiguous 0-based class indices (``CocoDataset.categories`` order)

It is traced once into the tf.data graph, so it must use TensorFlow ops only, and everything it returns
must have a fixed shape so the examples can be batched, e.g. ``(image, (class_targets, box_targets))`` for
``keras.Model.fit``. Without ``encode_fn`` the raw boxes are padded to ``max_boxes`` and each example is
``(image, {"boxes": [max_boxes, 4], "classes": [max_boxes] (-1 = padding), "num_boxes": []})``.
Crowd regions are dropped before augmentation: they are "ignore" regions, not objects to learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from bench.data.augment import augment
from bench.data.augment_config import AugmentConfig
from bench.data.coco import CocoDataset
from common.detection import Preprocessing
from common.errors import InputError

EncodeFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple]


@dataclass(frozen=True)
class PipelineConfig:
    """Input pipeline settings.

    Attributes:
        image_size: Model input side, or (height, width).
        batch_size: Examples per batch.
        max_boxes: Boxes per example after padding (extra boxes are dropped) when there is no encode_fn.
        shuffle_buffer: Shuffle buffer; the whole split is shuffled when it is smaller.
        seed: Seed of the shuffle and of every augmentation draw.
        augment: SSD augmentation settings (training only).
        deterministic: Keep element order fixed under parallelism (reproducible; a little slower).
        num_parallel_calls: Parallel decode/augment calls; None lets tf.data tune it.
        preprocessing: Pixels -> model input (``ModelConfig.preprocessing``; x * 2/255 - 1 by default).
    """

    image_size: int | tuple[int, int] = 320
    batch_size: int = 32
    max_boxes: int = 100
    shuffle_buffer: int = 4096
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    deterministic: bool = True
    num_parallel_calls: int | None = None
    preprocessing: Preprocessing = Preprocessing()

    def __post_init__(self) -> None:
        size = self.image_size
        sides = (size,) if isinstance(size, int) else tuple(size)
        if len(sides) not in (1, 2) or not all(isinstance(v, int) and v >= 8 for v in sides):
            raise InputError(f"pipeline image_size: expected a side or (height, width) >= 8; got {size!r}")
        for name in ("batch_size", "max_boxes", "shuffle_buffer"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise InputError(f"pipeline {name}: expected a positive integer; got {getattr(self, name)!r}")

    @property
    def out_hw(self) -> tuple[int, int]:
        """Model input (height, width)."""
        size = self.image_size
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _source(dataset: CocoDataset, drop_crowd: bool) -> tf.data.Dataset:
    """One element per image: path, image id and its (ragged) boxes and classes."""
    if not dataset.records:
        raise InputError(f"{dataset.annotations_path}: the split has no images; nothing to feed")
    keep = [~r.iscrowd if drop_crowd else np.ones(len(r.classes), bool) for r in dataset.records]
    boxes = [r.boxes[k] for r, k in zip(dataset.records, keep, strict=True)]
    classes = [r.classes[k] for r, k in zip(dataset.records, keep, strict=True)]
    lengths = np.array([len(c) for c in classes], np.int64)
    return tf.data.Dataset.from_tensor_slices(
        {
            "path": [str(r.path) for r in dataset.records],
            "image_id": np.array([r.image_id for r in dataset.records], np.int64),
            "boxes": tf.RaggedTensor.from_row_lengths(np.concatenate(boxes).reshape(-1, 4), lengths),
            "classes": tf.RaggedTensor.from_row_lengths(np.concatenate(classes).astype(np.int32), lengths),
        }
    )


def _decode(path: tf.Tensor) -> tf.Tensor:
    return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)


def _pad(boxes: tf.Tensor, classes: tf.Tensor, max_boxes: int) -> dict[str, tf.Tensor]:
    boxes, classes = boxes[:max_boxes], classes[:max_boxes]
    count = tf.shape(classes)[0]
    return {
        "boxes": tf.ensure_shape(tf.pad(boxes, [[0, max_boxes - count], [0, 0]]), [max_boxes, 4]),
        "classes": tf.ensure_shape(
            tf.pad(classes, [[0, max_boxes - count]], constant_values=-1), [max_boxes]
        ),
        "num_boxes": count,
    }


def _finish(image, boxes, classes, config: PipelineConfig, encode_fn: EncodeFn | None):
    """``image`` in [0, 1] -> model range, then targets (encode_fn) or padded raw boxes."""
    pre = config.preprocessing
    image = tf.ensure_shape(image * pre.unit_scale + pre.bias, [*config.out_hw, 3])
    if encode_fn is not None:
        return encode_fn(image, boxes, classes)
    return image, _pad(boxes, classes, config.max_boxes)


def train_dataset(
    dataset: CocoDataset,
    config: PipelineConfig | None = None,
    encode_fn: EncodeFn | None = None,
    *,
    repeat: bool = True,
    skip: int = 0,
) -> tf.data.Dataset:
    """The augmented, shuffled, batched training stream.

    Args:
        dataset: The training split.
        config: Pipeline settings (defaults: 320 px, batch 32).
        encode_fn: Target assigner, see the module docstring; None yields padded raw boxes.
        repeat: Repeat forever (reshuffling and re-augmenting each epoch); False gives one epoch.
        skip: Examples of the stream to leave out first, before any image is decoded (cheap): the
            stream then continues exactly where one that had yielded them would (resuming training).

    Returns:
        Batches of ``encode_fn``'s outputs, or ``(images [B, H, W, 3], {"boxes", "classes", "num_boxes"})``.
        Incomplete final batches are dropped so every batch has a static shape.
    """
    config = config or PipelineConfig()
    source = _source(dataset, drop_crowd=True)
    source = source.shuffle(min(config.shuffle_buffer, len(dataset.records)), seed=config.seed)
    if repeat:
        source = source.repeat()
    # One seed pair per element, drawn in order, so augmentation does not depend on parallelism.
    seeds = tf.data.Dataset.random(seed=config.seed, rerandomize_each_iteration=True).batch(2)

    def load(example, seed):
        image, boxes, classes = augment(
            _decode(example["path"]),
            example["boxes"],
            example["classes"],
            seed,
            config.out_hw,
            config.augment,
        )
        return _finish(image, boxes, classes, config, encode_fn)

    stream = tf.data.Dataset.zip(source, seeds)
    if skip:
        stream = stream.skip(skip)
    return _batch(stream.map(load, **_map_args(config)), config, True)


def eval_dataset(
    dataset: CocoDataset,
    config: PipelineConfig | None = None,
    encode_fn: EncodeFn | None = None,
    *,
    max_images: int | None = None,
) -> tf.data.Dataset:
    """The evaluation stream: every image once, in dataset order, resized and normalised.

    Without ``encode_fn`` each example is ``(image, {"image_id", "boxes", "classes", "num_boxes"})`` (crowd
    boxes kept, as COCOeval sees them); with it, whatever ``encode_fn`` returns (e.g. for a validation
    loss). The last batch may be smaller than ``batch_size``.
    """
    config = config or PipelineConfig()
    source = _source(dataset, drop_crowd=encode_fn is not None)
    if max_images is not None:
        source = source.take(max_images)

    def load(example):
        image = resize(_decode(example["path"]), config.out_hw) / 255.0
        out = _finish(image, example["boxes"], example["classes"], config, encode_fn)
        if encode_fn is None:
            out[1]["image_id"] = example["image_id"]
        return out

    return _batch(source.map(load, **_map_args(config)), config, False)


def resize(image: tf.Tensor, out_hw: tuple[int, int]) -> tf.Tensor:
    """Bilinear resize, anti-aliased when shrinking (as Pillow's, which the TFLite evaluation uses).

    The anti-aliasing kernel costs about 5x plain bilinear and changes nothing when enlarging, so it
    only runs when some side shrinks.
    """
    image = tf.cast(image, tf.float32)
    shrinks = tf.reduce_any(tf.shape(image)[:2] > tf.constant(out_hw))
    return tf.cond(
        shrinks,
        lambda: tf.image.resize(image, out_hw, antialias=True),
        lambda: tf.image.resize(image, out_hw),
    )


def _map_args(config: PipelineConfig) -> dict:
    calls = config.num_parallel_calls or tf.data.AUTOTUNE
    return {"num_parallel_calls": calls, "deterministic": config.deterministic}


def _batch(ds: tf.data.Dataset, config: PipelineConfig, drop_remainder: bool) -> tf.data.Dataset:
    return ds.batch(config.batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
