"""The converters' input object for one trained variant (``converters`` cannot import ``bench``).

The one hand-over from bench to the converters, used by the pipeline's export stage and by
``edgebench export`` alike: the trained Keras model, the export-signature builder, the zoo's quantize
scope, calibration batches from the training split (preprocessed with the model config's own
``preprocessing``, as training and evaluation do), the plan's post-processing for every format, and
bench's training loop as the fine-tuning callable of the qat and pruned recipes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from bench.data.coco import CocoDataset
from bench.evaluation.detectors import resize_image
from bench.models.config import ModelConfig
from bench.plans import ExportSection, FinetuneSection

FINETUNE_SEED = 0  # shuffle and augmentation seed of every qat / pruned fine-tune


def calibration_batches(split: CocoDataset, model_config: ModelConfig, count: int) -> list[np.ndarray]:
    """The first ``count`` training images as float32 ``[1, S, S, 3]`` batches in the model's input range.

    Args:
        split: The training split (calibrating on validation images would leak into the accuracy).
        model_config: The variant (input size and preprocessing).
        count: How many images (fewer when the split is smaller).
    """
    size = model_config.input_size
    batches = []
    for record in split.records[:count]:
        with Image.open(record.path) as image:
            pixels = np.asarray(image.convert("RGB"))
        batches.append(model_config.preprocessing.apply(resize_image(pixels, size, size))[None])
    return batches


def conversion_inputs(
    model_config: ModelConfig,
    model,
    train: CocoDataset,
    export: ExportSection,
    finetune: FinetuneSection,
    name: str,
    *,
    threads: int = 1,
):
    """The :class:`converters.ConversionInputs` of a trained zoo model, from its training split and the plan.

    Used by the pipeline's export stage and by ``edgebench export``: the same arguments give the same
    artifacts.

    Args:
        model_config: The variant exactly as trained.
        model: Its float Keras model with the weights to export.
        train: The training split (labels, calibration images and fine-tuning data).
        export: The plan's export section (calibration count, post-processing).
        finetune: The plan's fine-tuning section (learning rate, batch size).
        name: Names the artifact files.
        threads: TensorFlow intra-op threads of the fine-tunes (the variant's ``TrainConfig.threads``);
            the sidecar records the count this process actually runs on.
    """
    from bench.training import finetune_callable
    from bench.training.config import DEFAULT_MATCH_IOU
    from bench.training.steps import make_deterministic
    from common.sidecar import FinetuneSettings

    model_config = model_config.with_postprocess(export.postprocess())
    tune = FinetuneSettings(
        data=train.dataset_id,
        lr=finetune.lr,
        batch_size=finetune.batch_size,
        seed=FINETUNE_SEED,
        match_iou=DEFAULT_MATCH_IOU,
        threads=make_deterministic(threads),
    )
    loop = finetune_callable(
        model_config, train, lr=tune.lr, batch_size=tune.batch_size, seed=tune.seed, match_iou=tune.match_iou
    )
    return zoo_inputs(
        model_config,
        model,
        labels=train.class_names,
        batches=calibration_batches(train, model_config, export.calibration_samples),
        name=name,
        calibration_source=train.dataset_id,
        finetune=loop,
        finetune_settings=tune,
    )


def zoo_inputs(
    model_config: ModelConfig,
    model,
    labels,
    batches: list[np.ndarray],
    name: str,
    *,
    calibration_source: str = "unspecified",
    finetune=None,
    finetune_settings=None,
):
    """The :class:`converters.ConversionInputs` of a zoo model: the one place that wires zoo to converters.

    Args:
        model_config: The variant's config; its ``postprocess`` and ``preprocessing`` go to every format.
        model: Its float Keras model with the weights to export.
        labels: Class names without background.
        batches: Preprocessed calibration batches.
        name: Names the artifact files.
        calibration_source: Which images ``batches`` are (a dataset id), for the sidecar.
        finetune: The qat / pruned fine-tuning callable (bench's loop), if any.
        finetune_settings: Its ``common.sidecar.FinetuneSettings``.
    """
    from bench.models.export import make_export_function
    from bench.models.layers import hard_swish_layout
    from bench.models.saving import custom_objects, quantize_scope
    from converters import ConversionInputs

    return ConversionInputs(
        name=name,
        keras_model=model,
        export_fn_builder=lambda keras_model, post: make_export_function(keras_model, model_config, post),
        anchors=model_config.generate_anchors(),
        labels=labels,
        input_size=model_config.input_size,
        preprocessing=model_config.preprocessing,
        postprocess=model_config.postprocess,
        representative_data=batches,
        calibration_source=calibration_source,
        finetune=finetune,
        finetune_settings=finetune_settings,
        custom_objects=custom_objects(),
        quantize_scope=quantize_scope,
        box_scales=tuple(model_config.matcher.box_scales),
        hard_swish_layout=hard_swish_layout,
        variant=model_config.name,
        width_multiplier=model_config.width_multiplier,
    )
