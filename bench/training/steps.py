"""The pieces of one training step: target encoding, the input stream, the optimizer, the step function.

The step is a ``tf.function`` without ``jit_compile``: XLA compiled the SSD step 14x slower on this CPU
(calibration, see the package docstring). The learning rate is an argument of the step, computed in
Python by :func:`bench.training.schedule.warmup_cosine` from the step number alone.

Reproducibility: :func:`make_deterministic` turns TensorFlow's op determinism on, and the input stream
keeps its element order (``deterministic=True``) and can start at any step (``skip_batches``), so a run
resumed from a checkpoint sees exactly the batches an uninterrupted run sees.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator

import tensorflow as tf
import tf_keras as keras

from bench.data.augment_config import AugmentConfig
from bench.data.coco import CocoDataset
from bench.data.input_pipeline import PipelineConfig, train_dataset
from bench.models.config import ModelConfig
from bench.models.losses import detection_loss
from bench.models.quantization import unwrap
from bench.models.target_assigner import MatcherConfig, assign_targets
from common.errors import InputError

StepFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], dict[str, tf.Tensor]]


def check_classes(model_config: ModelConfig, split: CocoDataset) -> None:
    """The model must have one class slot per dataset class (besides background).

    Raises:
        InputError: They differ (the message gives both numbers).
    """
    if model_config.num_classes != split.num_classes:
        raise InputError(
            f"num_classes: the model {model_config.name} has {model_config.num_classes} classes but the "
            f"dataset {split.dataset_id} has {split.num_classes}; "
            f"build it with num_classes={split.num_classes}"
        )


def training_matcher(model_config: ModelConfig, match_iou: float | None) -> MatcherConfig:
    """The variant's matcher, with both IoU thresholds set to ``match_iou`` when given.

    Matching only shapes the training targets (inference reads the box scales alone), so a lower threshold
    is a training choice: at 0.5 only 30% of the synthetic set's small objects (< 32 px at 256) have any
    anchor to match, at 0.4 57% do, and medium objects get 11 positives instead of 3.
    """
    if match_iou is None:
        return model_config.matcher
    return dataclasses.replace(
        model_config.matcher, positive_threshold=float(match_iou), negative_threshold=float(match_iou)
    )


def encode_fn(model_config: ModelConfig, match_iou: float | None = None) -> Callable:
    """The pipeline's ``encode_fn``: (image, boxes, classes) -> (image, box targets, class targets)."""
    anchors = tf.constant(model_config.generate_anchors())
    matcher = training_matcher(model_config, match_iou)

    def encode(image, boxes, classes):
        box_targets, class_targets = assign_targets(boxes, classes, anchors, matcher)
        return image, box_targets, class_targets

    return encode


def input_stream(
    model_config: ModelConfig,
    split: CocoDataset,
    batch_size: int,
    seed: int,
    augment: AugmentConfig,
    match_iou: float | None = None,
    skip_batches: int = 0,
) -> tf.data.Dataset:
    """The endless, augmented, target-encoded training batches ``(images, box targets, class targets)``.

    The same ``seed`` gives the same batches in the same order (``deterministic=True``: the parallel map
    keeps its order; measured on this machine it costs nothing measurable, the step dominates).
    ``skip_batches`` starts the stream at that batch: the skipped images are shuffled and seeded but
    never decoded, so a run resumed at step N draws batch N of the uninterrupted run (milliseconds).
    """
    config = PipelineConfig(
        image_size=model_config.input_size,
        batch_size=batch_size,
        seed=seed,
        augment=augment,
        deterministic=True,
        preprocessing=model_config.preprocessing,
    )
    return train_dataset(split, config, encode_fn(model_config, match_iou), skip=skip_batches * batch_size)


def make_deterministic(threads: int | None = None) -> int:
    """Turn on TensorFlow's op determinism (``tf.config.experimental.enable_op_determinism``), once, and run
    TensorFlow's ops on ``threads`` intra-op threads (and one inter-op thread) when given.

    Process-wide and irreversible, like the settings themselves: every op then runs its deterministic kernel
    (or raises when it has none) and tf.data keeps element order. With the seeds of the run, the same
    plan and commit give the same weights bit for bit on the same kind of CPU. Measured on this 2-core CPU:
    no cost per step beyond the noise (README "Reproducible training").

    The thread count is part of what the weights are: a kernel splits its sums by thread, so their order,
    and the last bits of the result, follow it (MobileDet-CPU after 50 steps: 1 and 2 threads give
    different weights; 2 threads and this 2-core machine's default the same). Pinning it makes the weights
    independent of how many cores the machine has. TensorFlow takes it only before its runtime starts; a
    process that already ran ops keeps its own (a notebook, a test session): the returned count says so.

    Returns:
        The intra-op threads this process's ops run on (the machine's cores when TensorFlow chose).
    """
    if threads is not None:
        with contextlib.suppress(RuntimeError):  # the runtime already started: keep its setting
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
    if not _DETERMINISM:
        tf.config.experimental.enable_op_determinism()
        _DETERMINISM.append(True)
    return tf.config.threading.get_intra_op_parallelism_threads() or machine_cores()


def machine_cores() -> int:
    """The cores this process may run on (TensorFlow's default thread count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_DETERMINISM: list[bool] = []


def set_bn_momentum(model: keras.Model, momentum: float | None) -> int:
    """Set the momentum of every BatchNormalization layer (also inside tfmot wrappers).

    The zoo builds its backbones with the reference momentum (0.99 / 0.999); with those, the moving
    statistics of a from-scratch run still lag far behind the weights after a few thousand steps, and an
    exported model evaluates much worse than it trains. 0.97 settles within a few hundred steps.

    Returns:
        The number of layers changed (0 when ``momentum`` is None).
    """
    if momentum is None:
        return 0
    count = 0
    for layer in model.submodules:
        if isinstance(unwrap(layer), keras.layers.BatchNormalization):
            unwrap(layer).momentum = float(momentum)
            count += 1
    return count


def make_optimizer(name: str, weight_decay: float = 0.0) -> keras.optimizers.Optimizer:
    """A tf_keras optimizer whose learning rate the step function sets (initial value irrelevant)."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=0.0)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=0.0, weight_decay=weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=0.0, momentum=0.9, nesterov=True)
    raise InputError(f"optimizer: got {name!r}; allowed: adam, adamw, sgd")


def make_train_step(
    model: keras.Model,
    model_config: ModelConfig,
    optimizer: keras.optimizers.Optimizer,
    clip_norm: float | None,
    variables: list | None = None,
) -> StepFn:
    """The compiled training step ``step(images, box_targets, class_targets, lr) -> losses``.

    The total loss is the SSD detection loss plus the model's own regularization losses (the zoo's L2
    kernel terms). Returns a dict with ``loss`` (total), ``localization``, ``classification``.
    ``variables`` (default: all trainable ones) are the ones updated: a frozen-backbone warm-up passes
    the others only.
    """
    loss_config = model_config.loss
    variables = model.trainable_variables if variables is None else variables

    @tf.function
    def step(images, box_targets, class_targets, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            box_encodings, class_logits = model(images, training=True)
            losses = detection_loss(box_targets, class_targets, box_encodings, class_logits, loss_config)
            total = losses["loss"]
            if model.losses:
                total = total + tf.add_n(model.losses)
        gradients = tape.gradient(total, variables)
        if clip_norm is not None:
            gradients, _ = tf.clip_by_global_norm(gradients, clip_norm)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return {
            "loss": total,
            "localization": losses["localization"],
            "classification": losses["classification"],
        }

    def without_grappler(images, box_targets, class_targets, lr):
        # Every call, not only the first: TensorFlow instantiated the step again after the first call,
        # with Grappler then, so steps 2.. ran another graph than step 1 (other rounding). A run resumed
        # at step N ran step N on the first graph and ended with other weights than an uninterrupted run.
        with _grappler_off():
            return step(images, box_targets, class_targets, lr)

    return without_grappler


@contextlib.contextmanager
def _grappler_off() -> Iterator[None]:
    """Instantiate functions without Grappler's graph optimizations, then restore the options.

    Measured on the SSDLite-MobileNetV2 step (256 px, batch 16): the first call costs 7.9 instead of
    14.0 CPU seconds, and the steady-state CPU time per step is unchanged (README "Reproducible
    training"). Every step runs the same graph, which a resumed run needs to reproduce the weights.
    """
    previous = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options(
            {"disable_meta_optimizer": previous.get("disable_meta_optimizer", False)}
        )
