"""``convert(model, recipe, out_dir) -> Artifact``: one recipe applied to one detector, written atomically.

The model file goes in first (temp + rename), the sidecar ``<name>.artifact.json`` last; an existing
sidecar of the same name is removed before anything else, so a crash leaves a model without a sidecar,
which readers treat as incomplete.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from common.process import CommandError, CommandTimeout, tail
from common.sidecar import Calibration, ConversionSettings, ModelFacts
from converters import artifact as store
from converters.inputs import ConversionInputs
from converters.mediapipe_env import MediapipeEnvError, run_script
from converters.recipes import Precision, Recipe, Training, get_recipe
from results.schema import ArtifactFormat

_LOG = logging.getLogger(__name__)
_METADATA_SCRIPT = Path(__file__).with_name("mp_write_metadata.py")


def convert(
    model: ConversionInputs,
    recipe: str | Recipe,
    out_dir: str | Path,
    *,
    tflite_metadata: bool = True,
    create_mediapipe_env: bool = True,
) -> store.Artifact:
    """Apply one recipe to a detector and write the artifact plus its sidecar.

    Args:
        model: The detector and what the recipes need (see :class:`ConversionInputs`).
        recipe: A registered recipe name or a :class:`Recipe`.
        out_dir: Folder for ``<model.name>.<recipe>.tflite|.mlpackage`` and its ``.artifact.json``.
        tflite_metadata: Write MediaPipe / TFLite metadata into TFLite artifacts (needs the MediaPipe env).
        create_mediapipe_env: Build ``.venv-mediapipe`` if it is missing (needs PyPI, about a minute).

    Returns:
        The finished artifact.

    Raises:
        InputError: unknown recipe, missing calibration data or fine-tuning loop, unwritable out_dir.
        ConversionError: the TFLite converter or coremltools failed.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    name = f"{model.name}.{recipe.name}"
    settings = conversion_settings(model, recipe)
    path, sidecar_path = store.start(out_dir, name, recipe.file_suffix)
    if recipe.format is ArtifactFormat.TFLITE:
        fields = _tflite(model, recipe, path, tflite_metadata, create_mediapipe_env)
    else:
        fields = _coreml(model, recipe, path)
    facts = ModelFacts(
        name=model.name,
        params=int(model.keras_model.count_params()),
        variant=model.variant,
        width_multiplier=model.width_multiplier,
    )
    return store.finish(path, sidecar_path, name, facts, settings, **fields)


def conversion_settings(model: ConversionInputs, recipe: Recipe) -> ConversionSettings:
    """Every setting of this conversion that changes the artifact's bytes (the sidecar's ``settings``).

    Calibration counts only for int8 (full-integer and qat / pruned, whose ranges it sets first),
    fine-tuning only for qat / pruned.
    """
    calibration = None
    if recipe.precision is Precision.INT8:
        used = len(model.calibration_batches(recipe.representative_samples))
        calibration = Calibration(source=model.calibration_source, samples=used)
    finetune = model.finetune_settings if recipe.training is not Training.NONE else None
    if finetune is not None and recipe.finetune_lr is not None:
        finetune = finetune.model_copy(update={"lr": recipe.finetune_lr})
    return ConversionSettings(
        recipe=recipe.model_dump(mode="json"),
        input_size=model.input_size,
        labels=tuple(model.labels),
        preprocessing=model.preprocessing,
        postprocess=model.postprocess,
        calibration=calibration,
        finetune=finetune,
    )


def _tflite(model: ConversionInputs, recipe: Recipe, path: Path, metadata: bool, create_env: bool) -> dict:
    from converters.tflite import convert_tflite, tflite_signature

    stats: dict[str, Any] = {}
    keras_model = None
    if recipe.training is Training.QAT:
        from converters.tfmot_wrap import quantization_aware

        keras_model = quantization_aware(model, recipe)
        stats["finetune_steps"] = recipe.finetune_steps
    elif recipe.training is Training.PRUNED:
        from converters.tfmot_wrap import magnitude_pruned

        keras_model, sparsity = magnitude_pruned(model, recipe)
        stats.update(finetune_steps=recipe.finetune_steps, **sparsity)
        stats["weight_encoding"] = "sparse" if recipe.sparse_encoding else "dense"
    data = convert_tflite(model, recipe, keras_model)
    written, error = (None, "skipped: tflite_metadata=False")
    if metadata:
        data, written, error = _with_metadata(data, model, create_env)
    store.write_bytes_atomic(path, data)
    return {
        "signature": tflite_signature(path),
        "recipe_stats": stats,
        "metadata": written,
        "metadata_error": error,
    }


def _with_metadata(
    data: bytes, model: ConversionInputs, create_env: bool
) -> tuple[bytes, dict | None, str | None]:
    """Add MediaPipe ObjectDetector metadata in the MediaPipe env; on failure keep the bare model."""
    with tempfile.TemporaryDirectory(prefix="edgebench-metadata-") as tmp:
        source, target, labels = Path(tmp, "in.tflite"), Path(tmp, "out.tflite"), Path(tmp, "labels.json")
        source.write_bytes(data)
        labels.write_text(json.dumps(list(model.labels)))
        args = [source, target, labels, model.preprocessing.mean, model.preprocessing.std]
        try:
            done = run_script(_METADATA_SCRIPT, args, timeout=300, create=create_env)
            summary = json.loads(done.stdout.strip().splitlines()[-1])
            return target.read_bytes(), summary, None
        except MediapipeEnvError as error:
            reason = str(error)
        except (CommandError, CommandTimeout) as error:
            reason = f"metadata writer failed: {tail(error.stderr, 3) or error}"
        except (OSError, ValueError, IndexError) as error:
            reason = f"metadata writer gave no usable result: {error}"
    _LOG.warning("TFLite artifact written without metadata: %s", reason)
    return data, None, reason


def _coreml(model: ConversionInputs, recipe: Recipe, path: Path) -> dict:
    from converters.coreml import convert_coreml

    stats: dict[str, Any] = {}
    keras_model = None
    if recipe.training is Training.PRUNED:
        from converters.tfmot_wrap import magnitude_pruned

        keras_model, sparsity = magnitude_pruned(model, recipe)
        stats.update(finetune_steps=recipe.finetune_steps, **sparsity, weight_encoding="sparse")
    tmp = store.temp_sibling(path)
    try:
        signature = convert_coreml(model, recipe, tmp, keras_model)
        store.move_into_place(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    metadata = {
        "kind": "coreml",
        "class_labels": len(model.labels),
        "nms": "NonMaximumSuppression pipeline stage",
        "iou_threshold": model.postprocess.iou_threshold,
        "confidence_threshold": model.postprocess.score_threshold,
    }
    return {"signature": signature, "recipe_stats": stats, "metadata": metadata, "metadata_error": None}
