"""The user's own detectors (a plan's ``models:``): loaded, converted where a recipe applies, evaluated with
their label map on the plan's dataset, timed on every target, stored as ``user:<name>`` records.

Per model, the same cached stages as a zoo variant, with "load" in the place of "train":

* load (stage ``train``): hash the file, read its ModelInfo (``variant = user:<name>``);
* the model *as given* (a ``.tflite`` or ``.mlpackage``): evaluated and timed unchanged, its records carry
  no recipe (``ArtifactInfo.recipe = None``, as the schema documents for a user's own file);
* each plan recipe: converted when it applies to the model's kind (SavedModel / Keras: the post-training
  TFLite recipes; Core ML too for a zoo-architecture Keras model), else one ``unsupported`` record per
  timing slot with the reason: never silently skipped;
* evaluate and time exactly as the zoo's artifacts (:func:`bench.pipeline.timing.time_stage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.cache import file_sha256, stage_key
from bench.pipeline.context import Context, Data
from bench.pipeline.context import ItemStatus as S
from bench.pipeline.entries import Evaluated, Exported, Failure, Loaded, NotEvaluated
from bench.pipeline.jobs import Slot, VariantWork, identity, slots
from bench.pipeline.runs import record_id
from bench.pipeline.stages import artifact_unchanged, release_inputs
from bench.pipeline.timing import failed_record, time_stage, timing_job
from bench.plans import VariantSpec
from bench.user_model_spec import SourceKind, UserModelSpec, source_kind
from common.errors import InputError
from device_runners.base import unsupported_record
from results.schema import ArtifactFormat, ArtifactInfo, ModelInfo

AS_GIVEN = "as_given"  # the pseudo-recipe of a user's file benchmarked unchanged (labels and ids only)

Loading = Loaded | Failure | None  # the load stage's result (None: pending in a planning pass)
Exporting = Exported | Failure | None


@dataclass(frozen=True)
class AsGiven:
    """Stands in for a recipe where the model file is measured as the user gave it."""

    format: ArtifactFormat
    name: str = AS_GIVEN


def walk_user_models(ctx: Context, data: Data) -> None:
    """Every stage of every user model of the plan (after the zoo's variants)."""
    for spec in ctx.plan.models:
        kind = source_kind(spec.path)
        work = VariantWork(VariantSpec(name=spec.label), spec.label, ())
        loaded = load_stage(ctx, spec, kind)
        if kind in (SourceKind.TFLITE, SourceKind.COREML):
            _walk_as_given(ctx, data, spec, kind, work, loaded)
        for recipe in plan_recipes(ctx):
            reason = recipe_reason(kind, recipe, spec)
            if reason is not None:
                artifact = ArtifactInfo(
                    recipe=recipe.name, format=recipe.format, path="(not converted)", sha256="", size_bytes=0
                )
                for slot in slots(ctx.plan, recipe.format):
                    untimed_stage(ctx, work, recipe, artifact, loaded, slot, S.UNSUPPORTED, reason)
                continue
            exported = user_export_stage(ctx, data, spec, kind, loaded, recipe)
            evaluated = user_evaluate_stage(ctx, data, spec, kind, exported, f"{spec.label} {recipe.name}")
            for slot in slots(ctx.plan, recipe.format):
                time_stage(ctx, work, recipe, (loaded, exported, evaluated), slot)
        release_inputs(ctx)


def _walk_as_given(ctx: Context, data: Data, spec, kind, work: VariantWork, loaded: Loading) -> None:
    """Evaluate and time the user's .tflite / .mlpackage unchanged (its records carry no recipe)."""
    given = AsGiven(ArtifactFormat.TFLITE if kind is SourceKind.TFLITE else ArtifactFormat.COREML)
    exported = _as_given(spec, loaded)
    evaluated = user_evaluate_stage(ctx, data, spec, kind, exported, f"{spec.label} {AS_GIVEN}")
    for slot in slots(ctx.plan, given.format):
        if isinstance(loaded, Failure):  # a failed record, still about the file rather than a recipe
            artifact = ArtifactInfo(format=given.format, path=str(spec.path), sha256="", size_bytes=0)
            untimed_stage(ctx, work, given, artifact, loaded, slot, S.FAILED, loaded)
        else:
            time_stage(ctx, work, given, (loaded, exported, evaluated), slot)


def plan_recipes(ctx: Context) -> list:
    """The plan's recipes with their overrides (``--only`` selects among the zoo's variants only)."""
    return [ctx.plan.recipe(spec) for spec in ctx.plan.recipes]


def recipe_reason(kind: SourceKind, recipe, spec: UserModelSpec) -> str | None:
    """Why ``recipe`` cannot apply to this model (None: it applies)."""
    if kind in (SourceKind.TFLITE, SourceKind.COREML):
        return (
            f"a {kind.value} file is benchmarked as given; {recipe.name} converts from a float TensorFlow "
            "model (give a SavedModel or Keras file to apply recipes)"
        )
    if recipe.training.value != "none":
        return f"{recipe.name} fine-tunes in the zoo's training loop, which a user's model does not enter"
    if recipe.format is ArtifactFormat.COREML and spec.architecture is None:
        return (
            "Core ML recipes rebuild box decoding and NMS from the raw detector and its anchors; "
            "a SavedModel ending in TFLite_Detection_PostProcess does not expose them "
            "(a Keras model with its zoo `architecture` does)"
        )
    return None


def load_stage(ctx: Context, spec: UserModelSpec, kind: SourceKind) -> Loaded | Failure | None:
    """Hash the model and read its ModelInfo (cached by content); a ``load`` Failure when it cannot load."""
    from results.sidecar import file_artifact_info

    label = f"{spec.label} (load)"
    artifact = file_artifact_info(spec.path)
    key = stage_key("user_load", artifact.sha256, kind.value, spec.architecture, spec.outputs)
    hit, compute = ctx.lookup("train", label, key, True)
    if not compute:
        return hit
    with ctx.progress.item("train", label):
        try:
            entry = Loaded(artifact=artifact, model=_model_info(spec, kind))
        except InputError as error:
            entry = Failure.of("load", error)
            ctx.progress.note(f"load {spec.label}: FAILED: {entry.message}")
    ctx.report("train", label, S.FAILED if isinstance(entry, Failure) else S.RUN, key)
    return ctx.keep("train", key, entry)


def _model_info(spec: UserModelSpec, kind: SourceKind) -> ModelInfo:
    from bench.pipeline import user_sources

    if kind is SourceKind.TFLITE:
        return user_sources.tflite_model_info(spec.path, spec.label)
    if kind is SourceKind.COREML:
        return ModelInfo(variant=spec.label)
    if spec.architecture is None:
        model = user_sources.SignatureModel(spec.path, spec.outputs)
        return ModelInfo(variant=spec.label, input_size=model.input_size, params=model.count_params())
    from bench.models.complexity import count_complexity

    model, config = user_sources.load_keras(spec.path, spec.architecture)
    counts = count_complexity(model)
    return ModelInfo(
        variant=spec.label,
        input_size=config.input_size,
        num_classes=config.num_classes,
        params=counts.params_bn_folded,
        madds=counts.madds,
    )


def _as_given(spec: UserModelSpec, loaded: Loading) -> Exporting:
    """The export result of the unchanged file (recipe None, no sidecar: no converter wrote it)."""
    if not isinstance(loaded, Loaded):
        return loaded  # pending, or the load's failure (its records say "load failed: ...")
    artifact = loaded.artifact.model_copy(update={"path": str(spec.path)})  # the cache is by content
    return Exported(sidecar=None, artifact=artifact, tools={})


def user_export_stage(ctx: Context, data: Data, spec, kind, loaded: Loading, recipe) -> Exporting:
    """Convert the user's model with one recipe, or return the cached artifact (re-verified)."""
    from bench.pipeline import user_convert

    label = f"{spec.label} {recipe.name}"
    if loaded is None:
        ctx.report("export", label, S.PENDING)
        return None
    if isinstance(loaded, Failure):
        return loaded
    labels = _labelmap_digest(spec)
    parts = (loaded.artifact.sha256, recipe.model_dump(mode="json"), ctx.plan.export.model_dump(), labels)
    key = stage_key("user_export", data.key, *parts)
    hit, compute = ctx.lookup("export", label, key, data.ready, valid=artifact_unchanged)
    if not compute:
        return hit
    folder = ctx.cache.output_dir("export", f"user-{spec.name}.{recipe.name}", key)
    with ctx.progress.item("export", label):
        entry = user_convert.convert_user_model(ctx, data, spec, kind, recipe, folder)
    failed = isinstance(entry, Failure)
    ctx.report("export", label, S.FAILED if failed else S.RUN, key)
    if failed:
        ctx.progress.note(f"export {label}: FAILED: {entry.message}")
    return ctx.keep("export", key, entry)


def _labelmap_digest(spec: UserModelSpec) -> str | None:
    return file_sha256(spec.labelmap) if spec.labelmap is not None else None


def user_evaluate_stage(
    ctx: Context, data: Data, spec, kind, exported: Exporting, label: str
) -> Evaluated | NotEvaluated | Failure | None:
    """COCO metrics of one of the user's artifacts, its classes mapped through the label map."""
    from bench.pipeline import user_convert

    if exported is None:
        ctx.report("evaluate", label, S.PENDING)
        return None
    if isinstance(exported, Failure):
        return NotEvaluated(reason="no artifact")
    evaluation = ctx.plan.evaluation.model_dump()
    artifact = exported.artifact
    outputs = spec.outputs if artifact.recipe is None else {}  # a conversion names its outputs itself
    parts = (artifact.sha256, artifact.format.value, data.key, evaluation, _labelmap_digest(spec), outputs)
    key = stage_key("user_evaluate", *parts)
    hit, compute = ctx.lookup("evaluate", label, key, data.ready)
    if not compute:
        return hit
    with ctx.progress.item("evaluate", label):
        entry = user_convert.evaluate_user_artifact(ctx, data, spec, kind, Path(artifact.path), outputs)
    failed = isinstance(entry, Failure)
    if failed:
        ctx.progress.note(f"evaluate {label}: FAILED: {entry.message}")
    ctx.report("evaluate", label, S.FAILED if failed else S.RUN, key)
    return ctx.keep("evaluate", key, entry)


def untimed_stage(
    ctx: Context,
    work: VariantWork,
    recipe,
    artifact: ArtifactInfo,
    loaded: Loading,
    slot: Slot,
    status: S,
    why: str | Failure,
):
    """Store the record of an artifact that is not timed, on one slot: ``unsupported`` (a recipe that
    cannot apply to the user's model; ``why`` is the reason) or ``failed`` (``why`` is the load's Failure)."""
    label = f"{work.label} {recipe.name} on {slot.describe()}"
    rid = record_id(ctx.run_id, identity(work, recipe.name, slot))
    if ctx.store is not None and ctx.store.has(rid):
        ctx.report("time", label, S.STORED)
        return None
    # The same job the timing stage builds; the model falls back to the label when the file did not load.
    job = timing_job(
        ctx, work, recipe, loaded, Exported(sidecar=None, artifact=artifact, tools={}), slot, rid
    )
    if status is S.FAILED:
        record = failed_record(job, slot, why.error())
    else:
        record = unsupported_record(job, slot.target.runner, why, slot.target.device_id)
    record = ctx.provenance.stamp(record)
    if not ctx.execute:
        ctx.report("time", label, S.TO_STORE)
        return record
    ctx.store.add(record)
    ctx.report("time", label, status)
    return record
