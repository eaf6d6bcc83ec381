"""The converters' input object for one trained variant (``converters`` cannot import ``bench``).

Everything model-specific is handed in: the trained Keras model, the export-signature builder, the
zoo's quantize scope, calibration batches from the training split (preprocessed exactly as the
evaluation and the export do), and bench's training loop as the fine-tuning callable of the qat and
pruned recipes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.coco import CocoDataset
from bench.evaluation.detectors import resize_image, to_model_range
from bench.models.config import ModelConfig
from bench.plans import Plan


def calibration_batches(split: CocoDataset, input_size: int, count: int) -> list[np.ndarray]:
    """The first ``count`` training images as float32 ``[1, S, S, 3]`` batches in the model's input range.

    Args:
        split: The training split (calibrating on validation images would leak into the accuracy).
        input_size: The model's square input side.
        count: How many images (fewer when the split is smaller).
    """
    batches = []
    for record in split.records[:count]:
        with Image.open(record.path) as image:
            pixels = np.asarray(image.convert("RGB"))
        batches.append(to_model_range(resize_image(pixels, input_size, input_size))[None])
    return batches


def conversion_inputs(
    model_config: ModelConfig, weights_path: Path, train: CocoDataset, plan: Plan, label: str
):
    """Build ``converters.ConversionInputs`` for a trained variant.

    Args:
        model_config: The variant exactly as trained.
        weights_path: The trained weights (``TrainResult.weights_path``).
        train: The training split (calibration images and fine-tuning data).
        plan: The plan (calibration count, fine-tuning settings, classes per detection).
        label: The variant's label in the plan (names the artifact files).

    Returns:
        The inputs for :func:`converters.convert`.
    """
    from bench.training import finetune_callable, load_trained

    tune = plan.finetune
    model_config = model_config.with_classes_per_detection(plan.export.max_classes_per_detection)
    return zoo_inputs(
        model_config,
        load_trained(model_config, weights_path),
        labels=train.class_names,
        batches=calibration_batches(train, model_config.input_size, plan.export.calibration_samples),
        finetune=finetune_callable(model_config, train, lr=tune.lr, batch_size=tune.batch_size, seed=0),
        name=label.replace("@", "-"),
    )


def zoo_inputs(
    model_config: ModelConfig, model, labels: list[str], batches: list[np.ndarray], finetune, name: str
):
    """The :class:`converters.ConversionInputs` of a zoo model: the one place that wires zoo to converters.

    Args:
        model_config: The variant's config.
        model: Its float Keras model with the weights to export.
        labels: Class names without background.
        batches: Preprocessed calibration batches from the training split.
        finetune: The fine-tuning callable of the qat and pruned recipes.
        name: Names the artifact files.
    """
    from bench.models.export import make_export_function
    from bench.models.saving import custom_objects, quantize_scope
    from converters import ConversionInputs

    return ConversionInputs(
        name=name,
        keras_model=model,
        export_fn_builder=lambda keras_model: make_export_function(keras_model, model_config),
        anchors=model_config.generate_anchors(),
        labels=labels,
        input_size=model_config.input_size,
        representative_data=batches,
        finetune=finetune,
        custom_objects=custom_objects(),
        quantize_scope=quantize_scope,
        box_scales=tuple(model_config.matcher.box_scales),
        iou_threshold=model_config.postprocess.iou_threshold,
        max_detections=model_config.postprocess.max_detections,
        model_info={"variant": model_config.name, "width_multiplier": model_config.width_multiplier},
    )
