"""The work behind a user model's export and evaluate stages (see :mod:`bench.pipeline.user_models`).

A user's model enters the converters through the pipeline's own hand-over
(:func:`bench.pipeline.inputs.conversion_inputs` for a zoo-architecture Keras model; the calibration batches
of :func:`bench.pipeline.inputs.calibration_batches` for a SavedModel signature) and leaves as the same typed
entries as a zoo variant's (:mod:`bench.pipeline.entries`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.pipeline.context import Context, Data
from bench.pipeline.entries import Evaluated, Exported, Failure, NotEvaluated
from bench.user_model_spec import SourceKind, UserModelSpec
from common.errors import InputError


def conversion_inputs(ctx: Context, data: Data, spec: UserModelSpec, kind: SourceKind):
    """The model's ConversionInputs, loaded once per pass (kept in ``ctx.models`` under its label)."""
    from bench.pipeline import inputs as zoo
    from bench.pipeline import user_sources

    inputs = ctx.models.get(spec.label)
    if inputs is not None:
        return inputs
    names = user_sources.class_names(spec, kind)
    export = ctx.plan.export
    if spec.architecture is None:
        model = user_sources.SignatureModel(spec.path, spec.outputs)
        labels = _labels(names, data, None)
        batches = zoo.calibration_batches(data.train, model, export.calibration_samples)
        inputs = user_sources.signature_inputs(model, spec.name, labels, batches, data.train.dataset_id)
    else:
        model, config = user_sources.load_keras(spec.path, spec.architecture)
        labels = _labels(names, data, config.num_classes)
        name = f"user-{spec.name}"
        finetune, threads = ctx.plan.finetune, ctx.plan.threads
        inputs = zoo.conversion_inputs(config, model, data.train, export, finetune, name, threads=threads)
        # The artifact's metadata names the model's classes (its label map's), not the dataset's.
        inputs = dataclasses.replace(inputs, labels=labels)
    ctx.models[spec.label] = inputs
    return inputs


def _labels(names: list[tuple[str, ...]] | None, data: Data, count: int | None) -> list[str]:
    """Class names for the artifact (its metadata and sidecar): the label map's, else the dataset's."""
    labels = [n[0] if n else "???" for n in names] if names else list(data.train.class_names)
    if count is not None and len(labels) != count:
        raise InputError(
            f"the model predicts {count} classes but its labels name {len(labels)} "
            "(give a labelmap with one name per class)"
        )
    return labels


def convert_user_model(
    ctx: Context, data: Data, spec: UserModelSpec, kind: SourceKind, recipe, folder: Path
) -> Exported | Failure:
    """Convert with one recipe through :func:`converters.convert`; a typed failure becomes a cache entry."""
    import tensorflow as tf

    from converters import convert
    from converters.tflite import ConversionError

    metadata = ctx.plan.export.tflite_metadata
    try:
        inputs = conversion_inputs(ctx, data, spec, kind)
        artifact = convert(inputs, recipe, folder, tflite_metadata=metadata, create_mediapipe_env=metadata)
    except (ConversionError, InputError, ValueError, TypeError, tf.errors.OpError) as error:
        return Failure.of("export", error)
    return Exported(
        sidecar=str(artifact.sidecar_path),
        artifact=artifact.info.model_copy(update={"path": str(artifact.path)}),
        tools=artifact.sidecar.tools,
    )


def evaluate_user_artifact(
    ctx: Context, data: Data, spec: UserModelSpec, kind: SourceKind, path: Path, outputs: dict[str, str]
) -> Evaluated | NotEvaluated | Failure:
    """COCO metrics of one artifact through the model's label map."""
    from bench.evaluation import Unsupported, evaluate_artifact, evaluate_detector
    from bench.evaluation.labelmap import MappedDetector
    from bench.pipeline.user_sources import NamedOutputsTFLiteDetector, mapping_for

    max_images = ctx.plan.evaluation.max_images
    try:
        mapping = mapping_for(spec, kind, list(data.val.class_names))
        if mapping is not None:
            ctx.progress.note(f"{spec.label}: {mapping.describe()}")
        if outputs:
            detector = NamedOutputsTFLiteDetector(path, outputs)
            detector = MappedDetector(detector, mapping) if mapping is not None else detector
            metrics = evaluate_detector(detector, data.val, max_images=max_images)
        else:
            metrics = evaluate_artifact(path, data.val, max_images=max_images, labelmap=mapping)
    except (InputError, ValueError, RuntimeError) as error:
        return Failure.of("evaluate", error)
    if isinstance(metrics, Unsupported):
        return NotEvaluated(reason=metrics.reason)
    return Evaluated(accuracy=metrics.to_accuracy_info(), inference_s=metrics.inference_s)
