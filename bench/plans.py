"""Plans: what ``edgebench benchmark`` runs, as YAML validated into frozen pydantic models.

A plan names the dataset, the variants (name, input size, width, training overrides), the user's own models
(``models:``, see :mod:`bench.user_model_spec`), the training and
fine-tuning budget, the recipes, the targets (``device_runners.targets.TargetConfig``) and the timing
settings. Unknown keys are rejected at every level; a bad plan ends in one line naming the key, what was
received and what is allowed (``InputError``, exit code 2). Built-in plans live in ``bench/plans/*.yaml``
(``quick``, ``paper``, ``smoke``); ``--plan`` takes one of their names or a path to a YAML file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench.training.config import TrainConfig
from bench.user_model_spec import UserModelSpec, check_user_models
from bench.validation import describe_error, validated
from common.detection import PostprocessSettings
from common.errors import InputError, choice_error
from device_runners.targets import TargetConfig
from results.schema import TimingSettings

PLANS_DIR = Path(__file__).with_name("plans")
DEFAULT_PLAN = "quick"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticData(_Strict):
    """The generated shapes dataset (``bench.data.synthetic.SynthConfig``)."""

    seed: int = Field(default=0, ge=0)  # master seed: the same config writes the same bytes
    train: int = Field(default=2000, ge=1)  # training images
    val: int = Field(default=500, ge=1)  # validation images (accuracy is measured on them)
    size: int = Field(default=256, ge=32)  # square image side in pixels
    image_format: Literal["jpeg", "png"] = "jpeg"
    max_objects: int = Field(default=10, ge=1)  # upper bound on shapes per image


class CocoData(_Strict):
    """A COCO-format dataset on disk: an instances JSON (or a split folder holding one) per split."""

    train: Path  # training split: instances JSON or folder with instances.json and images/
    val: Path  # validation split
    train_images: Path | None = None  # image folder when not images/ beside the JSON
    val_images: Path | None = None

    @field_validator("train", "val", "train_images", "val_images", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        # $VARS and ~ expand, so a shared plan names the user's folders (bench/plans/coco.yaml).
        return os.path.expanduser(os.path.expandvars(value)) if isinstance(value, str) else value


class DatasetSection(_Strict):
    """Exactly one of ``synthetic`` or ``coco``."""

    synthetic: SyntheticData | None = None
    coco: CocoData | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSection:
        if (self.synthetic is None) == (self.coco is None):
            raise ValueError("give exactly one of synthetic, coco")
        return self


class VariantSpec(_Strict):
    """One detector of the zoo, possibly resized, with optional training overrides."""

    name: str  # registry name, e.g. ssdlite_mobilenet_v2 (see `edgebench models`)
    input_size: int | None = Field(default=None, ge=32)  # square input side; None = the variant's
    width: float | None = Field(default=None, gt=0, le=4)  # width multiplier; None = the variant's
    train: dict[str, Any] = {}  # TrainConfig fields overriding the plan's `training` for this variant
    # Recipe fields for this variant only, over the plan's recipe list: {recipe name: {field: value}},
    # e.g. {tflite_int8_pruned: {finetune_steps: 600}} (a small model that needs a longer recovery).
    recipes: dict[str, dict[str, Any]] = {}

    @field_validator("train")
    @classmethod
    def _train_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(TrainConfig.model_fields))
        if unknown:
            raise ValueError(
                f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(TrainConfig.model_fields))}"
            )
        return value


class FinetuneSection(_Strict):
    """Fine-tuning of the qat and pruned recipes (bench's training loop).

    ``lr`` and ``steps`` are QAT's: a pruned recipe carries its own schedule, steps and learning rate
    (``converters.recipes.Recipe``: ``finetune_steps``, ``finetune_lr``, ``pruning_*``), changed in the
    plan's recipe list, e.g. ``{name: tflite_int8_pruned, finetune_steps: 400}``. ``batch_size`` is both's.
    """

    lr: float = Field(
        default=5e-4, gt=0
    )  # peak lr of recipes without finetune_lr, about a tenth of training's
    batch_size: int = Field(default=32, ge=1)
    steps: int | None = Field(default=None, ge=1)  # overrides every qat recipe's finetune_steps


class ExportSection(_Strict):
    """How artifacts are written; the post-processing keys hold for every format (TFLite op, Core ML NMS)."""

    calibration_samples: int = Field(default=64, ge=1)  # int8 representative images (training split)
    tflite_metadata: bool = False  # MediaPipe metadata in .tflite files (needs .venv-mediapipe)
    # Detections scoring below this are dropped. Near zero (the TFLite export's default) so that COCO
    # mAP / AR see the whole precision-recall curve; an app would raise it.
    score_threshold: float = Field(default=1e-8, ge=0.0, lt=1.0)
    iou_threshold: float = Field(default=0.6, gt=0.0, le=1.0)  # NMS: suppress overlaps above this IoU
    max_detections: int = Field(default=100, ge=1)  # boxes kept per image (10 would cap AR@100)
    # Entries the TFLite post-processing op writes per kept box, one per best class (capped at the
    # dataset's classes). 1 is what the TF exporters write; more lets COCO evaluation see runner-up classes.
    max_classes_per_detection: int = Field(default=1, ge=1)

    def postprocess(self) -> PostprocessSettings:
        """The post-processing every artifact of the plan gets."""
        return PostprocessSettings(
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            max_detections=self.max_detections,
            max_classes_per_detection=self.max_classes_per_detection,
        )


class EvaluationSection(_Strict):
    """Accuracy on the validation split, measured on each artifact file."""

    max_images: int | None = Field(default=None, ge=1)  # first N validation images; None = all
    # Paired bootstrap resamples of each file's share of its variant's fp32 mAP (its interval over the
    # images, ``bench.evaluation.share``); 0: no shares. Each resample scores each file once (the reference
    # once per variant and build job): 1.35 s per file at 300 for 200 images on this machine.
    share_resamples: int = Field(default=1000, ge=0)


class ClusterSection(_Strict):
    """Where and how to run on a Ray cluster (``cluster: auto`` is ``cluster: {address: auto}``)."""

    address: str = "auto"  # Ray address: "auto" (the local node's cluster) or HOST:PORT of the head
    train_cpus: float = Field(default=1, gt=0)  # CPUs each training / export task reserves
    train_gpus: float = Field(default=0, ge=0)  # GPUs each training / export task reserves (0: CPU only)
    # Seconds a target may be missing from the cluster (its lab node gone) before its jobs end `failed`.
    lost_target_secs: float = Field(default=120, gt=0)


class RecipeSpec(BaseModel):
    """A recipe by name, with optional field overrides (``{name: tflite_int8_qat, finetune_steps: 100}``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str

    @property
    def overrides(self) -> dict[str, Any]:
        """The fields given besides the name."""
        return dict(self.model_extra or {})


class Plan(_Strict):
    """A whole benchmark: dataset -> train -> export -> evaluate -> time."""

    name: str  # shown in records (RunRecord.plan) and run ids
    description: str = ""
    dataset: DatasetSection
    variants: list[VariantSpec] = []  # zoo detectors to train; may be empty when `models` is given
    models: list[UserModelSpec] = []  # the user's own detectors (bench.user_model_spec)
    training: TrainConfig | None = None  # how every variant trains (required with variants); overridable
    finetune: FinetuneSection = FinetuneSection()
    recipes: list[RecipeSpec] = Field(min_length=1)
    export: ExportSection = ExportSection()
    evaluation: EvaluationSection = EvaluationSection()
    targets: list[TargetConfig] = Field(min_length=1)
    timing: TimingSettings = TimingSettings(min_runs=20, min_secs=0.5, rounds=5)  # interleaved: rounds.py
    cluster: ClusterSection | None = None  # run on a Ray cluster (``--cluster`` overrides the address)

    @field_validator("cluster", mode="before")
    @classmethod
    def _address_to_section(cls, value: Any) -> Any:
        return {"address": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _something_to_benchmark(self) -> Plan:
        if not self.variants and not self.models:
            raise ValueError("give at least one of variants, models")
        if self.variants and self.training is None:
            raise ValueError("training: required key is missing (the variants are trained)")
        return self

    @field_validator("recipes", mode="before")
    @classmethod
    def _names_to_specs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    def train_config(self, variant: VariantSpec) -> TrainConfig:
        """The variant's training: its ``train:`` overrides merged over the plan's ``training:``.

        Raises:
            InputError: The merged values are invalid (``check_names`` has already refused such plans).
        """
        if self.training is None:
            raise InputError("training: required key is missing (the variants are trained)")
        if not variant.train:
            return self.training
        return validated(TrainConfig, {**self.training.to_dict(), **variant.train}, "train")

    def recipe(self, spec: RecipeSpec, variant: VariantSpec | None = None):
        """The registered recipe with the plan's overrides, then the variant's (``variant.recipes``).

        The plan's ``finetune.steps`` is QAT's budget (a QAT entry's own ``finetune_steps`` wins); pruned
        recipes keep their own, longer schedule.

        Raises:
            InputError: unknown recipe, or overrides that make an invalid recipe.
        """
        from converters.recipes import Training, get_recipe

        recipe = get_recipe(spec.name)
        overrides = dict(spec.overrides)
        if recipe.training is Training.QAT and self.finetune.steps is not None:
            overrides.setdefault("finetune_steps", self.finetune.steps)
        if variant is not None:
            overrides.update(variant.recipes.get(spec.name, {}))
        return recipe.with_overrides(**overrides) if overrides else recipe

    @property
    def threads(self) -> int:
        """TensorFlow threads of the plan's training and fine-tunes (1, the default, without a section)."""
        return self.training.threads if self.training is not None else 1

    def canonical(self) -> dict:
        """Plain JSON values of the whole plan (hashing and the run manifest).

        ``cluster`` is left out: where a plan runs does not change its records, so a run started on a
        cluster resumes (or is found current) without one and the other way round.
        """
        return self.model_dump(mode="json", exclude={"cluster"})


def plan_names() -> list[str]:
    """The built-in plans."""
    return sorted(path.stem for path in PLANS_DIR.glob("*.yaml"))


def load_plan(name_or_path: str | Path) -> Plan:
    """Load and fully validate a plan: a built-in name or a YAML file.

    Raises:
        InputError: One line naming the file, the key, what was received and what is allowed.
    """
    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        if text not in plan_names():
            raise choice_error("--plan", text, [*plan_names(), "a path to a .yaml file"])
        path = PLANS_DIR / f"{text}.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise InputError(f"--plan: cannot read {text!r}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise InputError(f"plan {path.name}: not valid YAML: {' '.join(str(error).split())}") from None
    return parse_plan(data, path.name)


def parse_plan(data: object, where: str = "plan") -> Plan:
    """Validate plan data (already parsed YAML); see :func:`load_plan`."""
    if not isinstance(data, dict):
        raise InputError(f"plan {where}: expected a mapping of sections; got {type(data).__name__}")
    try:
        plan = Plan.model_validate(data)
    except ValidationError as error:
        raise InputError(f"plan {where}: {describe_error(error, Plan)}") from None
    try:
        check_names(plan)
    except InputError as error:
        raise InputError(f"plan {where}: {error}") from None
    return plan


def check_names(plan: Plan) -> None:
    """Check what pydantic cannot: variant and recipe names, training configs, resized variants.

    Raises:
        InputError: naming the key (``variants[1].name``), what was received and what is allowed.
    """
    from bench.models.registry import get_config, list_models
    from bench.training.init_spec import check_applies
    from converters.recipes import recipe_names

    models = list_models()
    for index, variant in enumerate(plan.variants):
        where = f"variants[{index}]"
        if variant.name not in models:
            raise choice_error(f"{where}.name", variant.name, models)
        try:
            config = get_config(variant.name, input_size=variant.input_size, width_multiplier=variant.width)
        except InputError as error:
            raise InputError(f"{where}: {error}") from None
        try:
            plan.train_config(variant)
        except InputError as error:
            raise InputError(f"{where}.train.{str(error).removeprefix('train ')}") from None
        init = plan.train_config(variant).init
        check_applies(init, config.backbone, config.width_multiplier, f"{where}.train.init")
    _unique([variant_label(v) for v in plan.variants], "variants", "name (with input_size and width)")
    check_user_models(plan.models, models)
    for index, spec in enumerate(plan.recipes):
        if spec.name not in recipe_names():
            raise choice_error(f"recipes[{index}].name", spec.name, recipe_names())
        try:
            plan.recipe(spec)
        except InputError as error:
            raise InputError(f"recipes[{index}]: {error}") from None
    _unique([r.name for r in plan.recipes], "recipes", "name")
    listed = [spec.name for spec in plan.recipes]
    for index, variant in enumerate(plan.variants):
        for name in variant.recipes:
            if name not in listed:
                raise choice_error(f"variants[{index}].recipes", name, listed)
            try:
                plan.recipe(plan.recipes[listed.index(name)], variant)
            except InputError as error:
                raise InputError(f"variants[{index}].recipes.{name}: {error}") from None
    _unique([t.label for t in plan.targets], "targets", "name (or runner and device)")


def variant_label(variant: VariantSpec) -> str:
    """``name`` or ``name@SIZExWIDTH`` when resized: what names the variant in folders and output."""
    if variant.input_size is None and variant.width is None:
        return variant.name
    size = variant.input_size if variant.input_size is not None else "default"
    width = variant.width if variant.width is not None else "default"
    return f"{variant.name}@{size}x{width}"


def _unique(labels: list[str], section: str, what: str) -> None:
    seen: set[str] = set()
    for index, label in enumerate(labels):
        if label in seen:
            raise InputError(f"{section}[{index}]: {label!r} appears twice; each {what} must be unique")
        seen.add(label)
