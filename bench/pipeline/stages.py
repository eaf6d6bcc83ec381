"""The stages before timing: dataset -> train -> export -> evaluate, each cached by content hash.

Each stage returns its typed result (:mod:`bench.pipeline.entries`) or None when, in a planning pass, it
would have to run (downstream items are then PENDING). A typed failure of one item (a diverging training, a
converter that refuses a recipe, an artifact LiteRT cannot run) is cached as a ``Failure``: it becomes
``failed`` records for that variant / recipe while the rest of the plan continues. Bad input (a broken
dataset) raises InputError before anything is written.
"""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

from bench.cache import digest, file_sha256, stage_key
from bench.pipeline.context import Context, Data
from bench.pipeline.context import ItemStatus as S
from bench.pipeline.entries import Evaluated, Exported, Failure, NotEvaluated, Trained
from bench.pipeline.jobs import VariantWork
from common.errors import InputError
from results.schema import ModelInfo, ShareInfo, TrainingInfo

# The file every other recipe of a variant is compared with: its accuracy share here, its speed in the
# summary's "vs fp32" column.
REFERENCE_RECIPE = "tflite_fp32"


def dataset_stage(ctx: Context) -> Data:
    """Generate (synthetic) or load and validate (COCO) the splits.

    Raises:
        InputError: the COCO files are missing or malformed (before anything else is written).
    """
    from bench.data.coco import load_coco
    from bench.data.synthetic import SynthConfig, synthetic_cached

    section = ctx.plan.dataset
    if section.coco is not None:
        coco = section.coco
        train = load_coco(coco.train, coco.train_images)
        val = load_coco(coco.val, coco.val_images)
        key = digest("coco", train.dataset_id, val.dataset_id)
        ctx.report("dataset", "coco", S.CACHED, key)
        return Data(key, train, val)
    config = SynthConfig(**section.synthetic.model_dump())
    root = ctx.workdir / "data" / f"synth-{config.cache_key()}"
    key = digest("synthetic", config.cache_key())
    exists = (root / "synth.json").is_file()
    ctx.report("dataset", f"synthetic {config.cache_key()}", S.CACHED if exists else S.RUN, key)
    if not exists and not ctx.execute:
        return Data(key)
    if not exists:
        with ctx.progress.item("dataset", f"synthetic: {config.train} train + {config.val} val images"):
            synthetic_cached(ctx.workdir / "data", config)
    return Data(key, load_coco(root / "train"), load_coco(root / "val"))


def model_config(ctx: Context, work: VariantWork, data: Data):
    """The variant's ModelConfig, resized, with the dataset's classes and its init checkpoint's layout
    (the same config trains, exports and is recorded)."""
    return variant_config(ctx.plan, work.spec, data.train.num_classes)


def variant_config(plan, spec, num_classes: int):
    """:func:`model_config` from the plan, the variant's spec and the training split's class count (for
    scripts that read a finished run's work folder without a pipeline context)."""
    from bench.models.pretrained.initialize import config_for_init
    from bench.models.registry import get_config

    cfg = get_config(
        spec.name, input_size=spec.input_size, width_multiplier=spec.width, num_classes=num_classes
    )
    return config_for_init(cfg, plan.train_config(spec).init)


def train_stage(ctx: Context, data: Data, work: VariantWork) -> Trained | Failure | None:
    """Train the variant (resuming from checkpoints in its work folder) or return the cached result."""
    from bench.training import TrainingError, train

    config = ctx.plan.train_config(work.spec)
    # The variant's recipe overrides change its artifacts, not its training.
    spec = work.spec.model_dump(mode="json", exclude={"train", "recipes"})
    # A checkpoint or weights file replaced under the same path must retrain: its bytes are in the key.
    files = [config.init.cache_token()] if config.init.path is not None else []
    key = stage_key("train", data.key, spec, config.to_dict(), *files)
    hit, compute = ctx.lookup("train", work.label, key, data.ready, valid=_weights_present)
    if not compute:
        return hit
    cfg = model_config(ctx, work, data)  # a checkpoint of another variant stops here, nothing written
    folder = ctx.cache.output_dir("train", work.label.replace("@", "-"), key)
    with ctx.progress.item("train", work.label, spinner=False):
        try:
            result = train(cfg, data.train, config, folder, progress=ctx.progress.enabled)
        except TrainingError as error:
            ctx.report("train", work.label, S.FAILED, key)
            ctx.progress.note(f"train {work.label}: FAILED: {error}")
            return ctx.keep("train", key, Failure.of("train", error))
    weights_sha256 = file_sha256(result.weights_path)
    training = TrainingInfo(
        steps=result.steps,
        planned_steps=config.steps,
        seconds=result.seconds,
        stopped_by=result.stopped_by,
        seed=config.seed,
        weights_sha256=weights_sha256,
        threads=result.threads,
    )
    entry = Trained(
        weights=str(result.weights_path),
        weights_sha256=weights_sha256,
        steps=result.steps,
        seconds=result.seconds,
        final_loss=result.final_loss,
        stopped_by=result.stopped_by,
        model=model_info(cfg).model_copy(update={"training": training}),
    )
    if result.stopped_by == "time":
        ctx.progress.note(
            f"train {work.label}: max_minutes stopped it at step {result.steps} of {config.steps}: "
            "its weights depend on this machine's speed (raise max_minutes or lower steps)"
        )
    ctx.report("train", work.label, S.RUN, key)
    return ctx.keep("train", key, entry)


def model_info(cfg) -> ModelInfo:
    """ModelInfo fields of a variant config (params BN-folded, MAdds), from a freshly built model."""
    import tf_keras as keras

    from bench.models.complexity import count_complexity
    from bench.models.registry import build_model

    counts = count_complexity(build_model(cfg))
    keras.backend.clear_session()
    return ModelInfo(
        variant=cfg.name,
        input_size=cfg.input_size,
        width_multiplier=cfg.width_multiplier,
        num_classes=cfg.num_classes,
        params=counts.params_bn_folded,
        madds=counts.madds,
    )


def export_stage(
    ctx: Context, data: Data, work: VariantWork, trained: Trained | Failure | None, recipe
) -> Exported | Failure | None:
    """Convert the trained variant with one recipe, or return the cached artifact (re-verified)."""
    label = f"{work.label} {recipe.name}"
    if trained is None:
        ctx.report("export", label, S.PENDING)
        return None
    if isinstance(trained, Failure):
        return trained  # no weights: the records say the training failed
    extra = ctx.plan.finetune.model_dump() if recipe.training.value != "none" else None
    parts = (trained.weights_sha256, recipe.model_dump(mode="json"), ctx.plan.export.model_dump(), extra)
    key = stage_key("export", data.key, *parts)
    hit, compute = ctx.lookup("export", label, key, data.ready, valid=artifact_unchanged)
    if not compute:
        return hit
    folder = ctx.cache.output_dir("export", f"{work.label.replace('@', '-')}.{recipe.name}", key)
    with ctx.progress.item("export", label, spinner=recipe.finetune_steps == 0):
        entry = _convert(ctx, data, work, trained, recipe, folder)
    failed = isinstance(entry, Failure)
    ctx.report("export", label, S.FAILED if failed else S.RUN, key)
    if failed:
        ctx.progress.note(f"export {label}: FAILED: {entry.message}")
    return ctx.keep("export", key, entry)


def _weights_present(entry: Trained | Failure) -> bool:
    """A cached training result still holds: it failed, or its weights file is still there."""
    return isinstance(entry, Failure) or Path(entry.weights).is_file()


def artifact_unchanged(entry: Exported | Failure) -> bool:
    """A cached export still holds: it failed, or its artifact matches its sidecar (re-hashed)."""
    from converters.artifact import load_artifact

    if isinstance(entry, Failure):
        return True
    try:
        load_artifact(entry.sidecar)  # the file may have been deleted or changed since
    except (InputError, KeyError):
        return False
    return True


def _convert(
    ctx: Context, data: Data, work: VariantWork, trained: Trained, recipe, folder: Path
) -> Exported | Failure:
    import tensorflow as tf

    from bench.training import TrainingError
    from converters import convert
    from converters.tflite import ConversionError

    inputs = conversion_inputs_for(ctx, data, work, trained)
    metadata = ctx.plan.export.tflite_metadata
    try:
        artifact = convert(inputs, recipe, folder, tflite_metadata=metadata, create_mediapipe_env=metadata)
    except (ConversionError, InputError, TrainingError, ValueError, TypeError, tf.errors.OpError) as error:
        return Failure.of("export", error)
    info = artifact.info
    return Exported(
        sidecar=str(artifact.sidecar_path),
        artifact=info.model_copy(update={"path": str(artifact.path)}),
        tools=artifact.sidecar.tools,
    )


def conversion_inputs_for(ctx: Context, data: Data, work: VariantWork, trained: Trained):
    """The variant's ConversionInputs, built once per variant per pass (loading the trained model)."""
    from bench.pipeline.inputs import conversion_inputs
    from bench.training import load_trained

    inputs = ctx.models.get(work.label)
    if inputs is None:
        release_inputs(ctx)
        cfg = model_config(ctx, work, data)
        model = load_trained(cfg, Path(trained.weights))
        plan = ctx.plan
        threads = plan.train_config(work.spec).threads
        name = work.label.replace("@", "-")
        inputs = conversion_inputs(cfg, model, data.train, plan.export, plan.finetune, name, threads=threads)
        ctx.models[work.label] = inputs
    return inputs


def build_variant(ctx: Context, data: Data, work: VariantWork, on_trained=None) -> list[tuple]:
    """Train the variant, then export and evaluate each of its recipes (each step cached).

    Args:
        on_trained: Called once the training is cached (or failed), before the first export.

    Returns:
        ``(recipe, (trained, exported, evaluated))`` per recipe: what its timings need.
    """
    trained = train_stage(ctx, data, work)
    if on_trained is not None:
        on_trained()
    built = []
    for recipe in work.recipes:
        exported = export_stage(ctx, data, work, trained, recipe)
        evaluated = evaluate_stage(ctx, data, exported, f"{work.label} {recipe.name}")
        built.append((recipe, (trained, exported, evaluated)))
    release_inputs(ctx)
    return with_shares(ctx, data, work, trained, built)


def release_inputs(ctx: Context) -> None:
    """Drop the loaded Keras models of earlier variants (memory on a small machine)."""
    if not ctx.models:
        return
    import tf_keras as keras

    ctx.models.clear()
    keras.backend.clear_session()
    gc.collect()


def evaluate_stage(
    ctx: Context, data: Data, exported: Exported | Failure | None, label: str
) -> Evaluated | NotEvaluated | Failure | None:
    """COCO metrics of the artifact file on the validation split (``unsupported`` for Core ML off macOS);
    its detections are kept beside the cached entry, for the shares of :func:`with_shares`."""
    from bench.evaluation import Unsupported, evaluate_artifact

    if exported is None:
        ctx.report("evaluate", label, S.PENDING)
        return None
    if isinstance(exported, Failure):
        return NotEvaluated(reason="no artifact")
    evaluation = ctx.plan.evaluation.model_dump(exclude={"share_resamples"})  # the share stage's alone
    artifact = exported.artifact
    key = stage_key("evaluate", artifact.sha256, artifact.format.value, data.key, evaluation)
    hit, compute = ctx.lookup("evaluate", label, key, data.ready, valid=_detections_present)
    if not compute:
        return hit
    detections = ctx.cache.output_dir("evaluate", label.replace(" ", ".").replace("@", "-"), key) / DETECTIONS
    with ctx.progress.item("evaluate", label):
        try:
            metrics = evaluate_artifact(
                artifact.path, data.val, max_images=evaluation["max_images"], detections_out=detections
            )
        except (InputError, ValueError, RuntimeError) as error:
            metrics = error
    if isinstance(metrics, Unsupported):
        entry = NotEvaluated(reason=metrics.reason)
    elif isinstance(metrics, Exception):
        entry = Failure.of("evaluate", metrics)
        ctx.progress.note(f"evaluate {label}: FAILED: {entry.message}")
    else:
        accuracy = metrics.to_accuracy_info()
        entry = Evaluated(accuracy=accuracy, inference_s=metrics.inference_s, detections=str(detections))
    ctx.report("evaluate", label, S.FAILED if isinstance(entry, Failure) else S.RUN, key)
    return ctx.keep("evaluate", key, entry)


DETECTIONS = "detections.json"  # an evaluated artifact's COCO results, beside its cached entry


def _detections_present(entry: Evaluated | NotEvaluated | Failure) -> bool:
    """A cached evaluation still holds: it found no accuracy, or its detections file is still there (an
    entry from before they were kept is evaluated again: a few seconds)."""
    return not isinstance(entry, Evaluated) or (
        entry.detections is not None and Path(entry.detections).is_file()
    )


def with_shares(ctx: Context, data: Data, work: VariantWork, trained, built: list[tuple]) -> list[tuple]:
    """``built`` with each evaluated recipe's share of its variant's fp32 mAP in its accuracy.

    The reference is the variant's ``REFERENCE_RECIPE`` among ``built``; a build job without it (a
    variant's fine-tune, :func:`bench.pipeline.builds.split`) looks it up in the cache, and where it is not
    there yet, the parent's walk, which has every recipe, takes the share later.
    """
    if not ctx.plan.evaluation.share_resamples:
        return built
    reference = next((up[1:] for recipe, up in built if recipe.name == REFERENCE_RECIPE), None)
    if reference is None:
        reference = _cached_reference(ctx, data, work, trained)
    if reference is None:
        return built
    shares = _Shares(ctx, data, reference)
    shared = []
    for recipe, (trained_, exported, evaluated) in built:
        share = None
        if recipe.name != REFERENCE_RECIPE:
            share = shares.of(exported, evaluated, f"{work.label} {recipe.name}")
        if share is not None:
            accuracy = evaluated.accuracy.model_copy(update={"share": share})
            evaluated = evaluated.model_copy(update={"accuracy": accuracy})
        shared.append((recipe, (trained_, exported, evaluated)))
    return shared


def _cached_reference(ctx: Context, data: Data, work: VariantWork, trained) -> tuple | None:
    """The variant's reference file and its evaluation if both are cached (a lookup, nothing runs)."""
    spec = next((spec for spec in ctx.plan.recipes if spec.name == REFERENCE_RECIPE), None)
    if spec is None or trained is None:
        return None
    probe = dataclasses.replace(ctx, execute=False, progress=None, items=[], models={}, fresh={})
    recipe = ctx.plan.recipe(spec, work.spec)
    exported = export_stage(probe, data, work, trained, recipe)
    evaluated = evaluate_stage(probe, data, exported, f"{work.label} {recipe.name}")
    return (exported, evaluated) if isinstance(evaluated, Evaluated) else None


class _Shares:
    """The share stage of one variant: each file's share of the reference's mAP on the same images, with
    its paired bootstrap interval (``bench.evaluation.share``), cached by the two files, the images and
    the resamples. The reference is scored on the resamples once, when the first share is computed."""

    def __init__(self, ctx: Context, data: Data, reference: tuple) -> None:
        self.ctx, self.data = ctx, data
        self.reference_exported, self.reference_evaluated = reference
        self.bootstrap = None  # bench.evaluation.share.PairedBootstrap once needed (or why there is none)

    def of(self, exported, evaluated, label: str) -> ShareInfo | None:
        """The share of one evaluated file; None where either file has no evaluation (or, in a planning
        pass, when it is not cached)."""
        from bench.evaluation.metrics import load_results

        ctx, evaluation = self.ctx, self.ctx.plan.evaluation
        if not isinstance(evaluated, Evaluated) or not isinstance(self.reference_evaluated, Evaluated):
            return None
        if evaluated.detections is None or self.reference_evaluated.detections is None:
            return None
        shas = (self.reference_exported.artifact.sha256, exported.artifact.sha256)
        key = stage_key("share", *shas, self.data.key, evaluation.model_dump())
        cached = ctx.cache.get("share", key)
        if cached is not None:
            return ShareInfo.model_validate(cached["share"]) if cached.get("share") else None
        if not ctx.execute or not self.data.ready:
            return None
        try:
            bootstrap = self._bootstrap()
            interval = bootstrap.share(load_results(evaluated.detections, bootstrap.gt))
        except InputError as error:  # e.g. a reference that found nothing: no share to take
            ctx.progress.note(f"share of {label}: none ({error})")
            ctx.cache.put("share", key, {"share": None, "reason": str(error)})
            return None
        figures = {k: v for k, v in interval.to_dict().items() if k in ShareInfo.model_fields}
        share = ShareInfo(
            reference_recipe=REFERENCE_RECIPE,
            reference_sha256=self.reference_exported.artifact.sha256,
            **figures,
        )
        ctx.cache.put("share", key, {"share": share.model_dump(mode="json")})
        return share

    def _bootstrap(self):
        from bench.evaluation.metrics import ground_truth, load_results
        from bench.evaluation.share import PairedBootstrap

        if self.bootstrap is None:
            gt = ground_truth(self.data.val.annotations_path)
            evaluation = self.ctx.plan.evaluation
            ids = [r.image_id for r in self.data.val.records][: evaluation.max_images]
            reference = load_results(self.reference_evaluated.detections, gt)
            try:
                self.bootstrap = PairedBootstrap(gt, reference, ids, resamples=evaluation.share_resamples)
            except InputError as error:  # kept: the variant's other files meet the same reference
                self.bootstrap = error
        if isinstance(self.bootstrap, InputError):
            raise self.bootstrap
        return self.bootstrap
