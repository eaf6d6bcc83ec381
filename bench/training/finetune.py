"""Fine-tuning an already built model with the training loop: the QAT and pruning recipes' ``finetune``.

The converters cannot import bench; the pipeline hands them :func:`finetune_callable`'s closure as
``ConversionInputs.finetune(model, steps) -> model``.
"""

from __future__ import annotations

from collections.abc import Callable

import tf_keras as keras

from bench.data.augment_config import AugmentConfig
from bench.data.coco import CocoDataset
from bench.models.config import ModelConfig
from bench.models.quantization import unwrap
from bench.training import checkpoints as ckpt
from bench.training.config import DEFAULT_BN_MOMENTUM, DEFAULT_MATCH_IOU, FLIP_ONLY, TrainConfig
from bench.training.progress import TrainProgress
from bench.training.schedule import warmup_cosine
from bench.training.steps import (
    check_classes,
    input_stream,
    make_deterministic,
    make_optimizer,
    make_train_step,
    set_bn_momentum,
)
from bench.training.tfmot_steps import finish_pruning, start_pruning
from bench.training.trainer import Loop, StepHook, run_loop
from common.errors import InputError


def finetune(
    model: keras.Model,
    model_config: ModelConfig,
    train_split: CocoDataset,
    steps: int,
    lr: float,
    *,
    batch_size: int = 32,
    seed: int = 0,
    augment: AugmentConfig = FLIP_ONLY,
    warmup_steps: int | None = None,
    match_iou: float | None = DEFAULT_MATCH_IOU,
    bn_momentum: float | None = DEFAULT_BN_MOMENTUM,
    progress: bool = False,
    on_step: StepHook | None = None,
) -> keras.Model:
    """Fine-tune an already built model in place with the training loop (QAT and pruning recipes).

    ``model`` may be wrapped by tfmot: ``quantize_model`` needs nothing more; ``prune_low_magnitude``
    gets what tfmot's ``UpdatePruningStep`` callback does (step counters started before the first step,
    weights multiplied by their masks after the last).

    Args:
        model: Float, QAT or pruning-wrapped Keras model of ``model_config``.
        model_config: The variant (anchors, matcher, loss).
        train_split: Training split.
        steps: Optimizer steps.
        lr: Peak learning rate (Adam, warmup then cosine to zero).
        batch_size: Images per step.
        seed: Shuffle and augmentation seed.
        augment: Augmentation (flip only by default).
        warmup_steps: Default ``min(steps // 10, 100)``: fake-quant ranges and masks start rough.
        match_iou: Anchor-matching IoU of the targets: the value the model was trained with (default
            the training default).
        bn_momentum: Set on every BatchNormalization layer first (None keeps the model's). A loaded model
            has the zoo's 0.99 / 0.999, with which 100 steps keep about 90% of the old statistics; after
            pruning half the weights those are wrong (50%-pruned MobileNetV2: 0.04 mAP instead of 0.20).
        progress: Show the progress display.
        on_step: See :func:`train`.

    Returns:
        ``model`` itself, fine-tuned.
    """
    check_classes(model_config, train_split)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        # Training allows 0 steps (a published checkpoint as it is); a fine-tune of nothing is a mistake.
        raise InputError(f"finetune steps: got {steps!r}; allowed: an integer >= 1")
    checked = {"steps": steps, "batch_size": batch_size, "peak_lr": lr, "seed": seed, "augment": augment}
    TrainConfig.from_dict({**checked, "match_iou": match_iou})  # InputError naming a bad argument
    warm = min(steps // 10, 100) if warmup_steps is None else warmup_steps
    make_deterministic()
    # Every random op's seed follows the global one (tf.data's shuffle too): set it here, so that the
    # fine-tune does not depend on what this process ran before it (a training, or nothing: a build
    # process of its own, bench.pipeline.builds).
    keras.utils.set_random_seed(seed)
    set_bn_momentum(model, bn_momentum)
    start_pruning(model)
    optimizer = make_optimizer("adam")
    optimizer.build(model.trainable_variables)
    loop = Loop(
        step_fn=make_train_step(model, model_config, optimizer, clip_norm=10.0),
        iterator=iter(input_stream(model_config, train_split, batch_size, seed, augment, match_iou)),
        end_step=steps,
        batch_size=batch_size,
        lr_at=lambda step: warmup_cosine(step, steps, lr, warm),
        log_every=max(steps // 20, 1),
        on_step=on_step,
    )
    with TrainProgress(f"finetune {model.name}", steps, enabled=progress) as display:
        run_loop(loop, ckpt.TrainState(), display)
    finish_pruning(model)
    return model


def finetune_callable(
    model_config: ModelConfig,
    train_split: CocoDataset,
    *,
    lr: float,
    batch_size: int = 32,
    seed: int = 0,
    match_iou: float | None = DEFAULT_MATCH_IOU,
) -> Callable[[keras.Model, int], keras.Model]:
    """``finetune(model, steps, lr=lr) -> model`` for ``converters.ConversionInputs.finetune``.

    Args:
        model_config: The variant of the models the converters will hand in.
        train_split: Training split.
        lr: Peak learning rate of a fine-tune whose recipe sets none (``Recipe.finetune_lr``: the pruned
            recipes set their own).
        batch_size: Images per step.
        seed: Shuffle and augmentation seed.
        match_iou: Anchor-matching IoU the model was trained with (``TrainConfig.match_iou``).
    """

    def run(model: keras.Model, steps: int, lr: float = lr) -> keras.Model:
        return finetune(
            model, model_config, train_split, steps, lr, batch_size=batch_size, seed=seed, match_iou=match_iou
        )

    return run


def recalibrate_batchnorm(model: keras.Model, images) -> None:
    """Set every BatchNormalization's moving statistics to those of ``images`` (preprocessed batch).

    An untrained model has moving mean 0 and variance 1, so in inference its activations shrink layer
    after layer and int8 calibration sees degenerate ranges (e.g. an ADD whose input and output scales
    differ by more than XNNPack accepts). One training-mode pass with momentum 0 gives every layer the
    statistics of its actual input, as a trained model has (zoo checks and tests of untrained models).
    """
    norms = [unwrap(layer) for layer in model.layers]
    norms = [layer for layer in norms if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(images, training=True)
    for layer, momentum in zip(norms, momenta, strict=True):
        layer.momentum = momentum
