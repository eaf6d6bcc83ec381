"""Named compression recipes: validated configs in a registry keyed by name.

Naming grammar (every registered name must parse, and its parts must agree with the config)::

    tflite_<precision>[_<training>][_xnnpack]      coreml_<precision>      coreml_pruned[_palettized<bits>]

    precision  fp32 | fp16 | dynamic_int8 | int8              (tflite)
               fp16 | w8 | palettized<bits>                   (coreml; bits 1, 2, 3, 4, 6 or 8)
    training   qat | pruned                                   (tflite int8 only; absent = post-training)
    _xnnpack   hard-swish split into ADD, MUL, MUL            (tflite int8 only; absent = one HARD_SWISH op)

``tflite_int8`` is full-integer post-training quantization (uint8 input, float outputs), ``tflite_int8_qat``
fine-tunes with quantization-aware training first, ``tflite_int8_pruned`` prunes by magnitude while
fine-tuning, then quantizes as ``tflite_int8``. Core ML recipes produce an ML Program whose weights are fp16,
8-bit linear (``w8``) or k-means palettized; ``coreml_pruned`` takes the same pruning fine-tune and stores
its zeros in Core ML's sparse format (fp16 values), ``coreml_pruned_palettized<bits>`` also palettizes the
non-zero values (joint compression, iOS18).

Hard-swish (MobileNetV3, MobileDet-CPU): every recipe exports it as one HARD_SWISH op, the more accurate
form in int8. LiteRT's XNNPack delegate runs HARD_SWISH in float only, so in int8 files it leaves every one
to the builtin kernels. ``tflite_int8_xnnpack`` and ``tflite_int8_qat_xnnpack`` split it into ADD, MUL,
MUL, which XNNPack runs in int8, at some accuracy (``hard_swish``; the trade-off in numbers:
:mod:`bench.models.layers`). Models without hard-swish (MobileNetV2) give the same file either way.

Fine-tuning: a qat or pruned recipe trains ``finetune_steps`` steps in bench's loop at peak learning rate
``finetune_lr`` (None: the plan's ``finetune.lr``). A plan's ``finetune.steps`` overrides the qat recipes'
steps only: pruning needs a longer schedule of its own (``pruning_schedule``, ``pruning_ramp``,
``pruning_frequency``), which a plan changes per recipe, e.g.
``{name: tflite_int8_pruned, finetune_steps: 400}`` (docs/pruning.md).
"""

from __future__ import annotations

import json
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from common.errors import InputError, choice_error
from results.schema import ArtifactFormat

NAME_PATTERN = re.compile(
    r"^(tflite|coreml)_(fp32|fp16|dynamic_int8|int8|w8|palettized[1-8])(?:_(qat|pruned))?(_xnnpack)?$"
)
XNNPACK_SUFFIX = "_xnnpack"
# Core ML's pruned recipes: the compression comes first in the name (coreml_pruned = fp16 values).
COREML_PRUNED_PATTERN = re.compile(r"^(coreml)_(pruned)(?:_(palettized[1-8]))?$")


class Precision(StrEnum):
    """What the weights (and, for int8, activations) are stored and computed in."""

    FP32 = "fp32"
    FP16 = "fp16"  # TFLite: fp16 weights dequantized at load; Core ML: fp16 compute precision
    DYNAMIC_INT8 = "dynamic_int8"  # TFLite: int8 weights, float activations (no calibration data)
    INT8 = "int8"  # TFLite: int8 weights and activations, uint8 input, float outputs
    W8 = "w8"  # Core ML: 8-bit linear weight quantization
    PALETTIZED = "palettized"  # Core ML: k-means lookup-table weights of `palette_bits` bits


class Training(StrEnum):
    """Fine-tuning applied to the float model before conversion."""

    NONE = "none"
    QAT = "qat"  # tfmot quantization-aware training
    PRUNED = "pruned"  # tfmot magnitude pruning


class HardSwishOps(StrEnum):
    """The TFLite ops a hard-swish activation becomes (:func:`bench.models.layers.hard_swish_layout`)."""

    FUSED = "fused"  # one HARD_SWISH op: closer to float in int8; XNNPack runs it in float only
    SPLIT = "split"  # ADD (fused ReLU6), MUL, MUL: XNNPack runs them in int8 too; less accurate in int8


class PruningSchedule(StrEnum):
    """How the sparsity of a pruned recipe's fine-tune grows (tfmot pruning schedules)."""

    # 0 -> target_sparsity over the first `pruning_ramp` of the fine-tune steps, cubic (tfmot
    # PolynomialDecay, power 3: fast early, gentle near the target), then held while the weights recover.
    POLYNOMIAL = "polynomial"
    CONSTANT = "constant"  # target_sparsity from the first step (tfmot ConstantSparsity)


_ALLOWED_PRECISIONS = {
    ArtifactFormat.TFLITE: (Precision.FP32, Precision.FP16, Precision.DYNAMIC_INT8, Precision.INT8),
    ArtifactFormat.COREML: (Precision.FP16, Precision.W8, Precision.PALETTIZED),
}
_PALETTE_BITS = (1, 2, 3, 4, 6, 8)  # what coremltools' OpPalettizerConfig accepts
_COREML_TARGETS = ("iOS16", "iOS17", "iOS18")


# The recipe fields that decide a pruning fine-tune's result (the format and encoding do not).
PRUNING_FIELDS = (
    "finetune_steps",
    "finetune_lr",
    "target_sparsity",
    "pruning_schedule",
    "pruning_ramp",
    "pruning_frequency",
)


class Recipe(BaseModel):
    """One compression recipe. Immutable; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # registry key, following the naming grammar of this module
    format: ArtifactFormat  # tflite or coreml
    precision: Precision
    training: Training = Training.NONE
    description: str = ""  # one line for `edgebench export --help` and the sidecar
    representative_samples: int = Field(default=100, ge=1)  # int8 calibration batches (TFLite int8 only)
    finetune_steps: int = Field(default=0, ge=0)  # steps of `finetune` for qat / pruned
    finetune_lr: float | None = Field(default=None, gt=0)  # qat / pruned peak lr; None = the plan's
    target_sparsity: float | None = Field(default=None, gt=0.0, lt=1.0)  # pruned: fraction of zero weights
    pruning_schedule: PruningSchedule = PruningSchedule.POLYNOMIAL  # pruned: how sparsity grows
    pruning_ramp: float = Field(default=0.5, gt=0.0, le=1.0)  # pruned, polynomial: share of steps to target
    pruning_frequency: int = Field(default=100, ge=1)  # pruned: steps between mask updates (tfmot default)
    # TFLite pruned: write the converter's sparse weight encoding (Optimize.EXPERIMENTAL_SPARSITY).
    sparse_encoding: bool = False
    hard_swish: HardSwishOps = HardSwishOps.FUSED  # split for the _xnnpack recipes (module docstring)
    palette_bits: int | None = None  # palettized: bits per weight index
    minimum_deployment_target: str = "iOS16"  # Core ML: oldest OS the ML Program must load on
    # Core ML: weights with fewer elements stay fp16 (coremltools' default threshold).
    weight_threshold: int = Field(default=2048, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        problems = _problems(self)
        if problems:
            raise ValueError(f"recipe {self.name!r}: " + "; ".join(problems))
        return self

    @property
    def file_suffix(self) -> str:
        """The artifact's file extension."""
        return ".tflite" if self.format is ArtifactFormat.TFLITE else ".mlpackage"

    def shared_finetune(self) -> str:
        """Names the fine-tuned model this recipe's artifact is made from; "" for none. Recipes of the same
        name share one fine-tune of a model (the pruned TFLite and Core ML files, ``converters.tfmot_wrap``);
        a QAT model is its own recipe's."""
        if self.training is Training.NONE:
            return ""
        if self.training is Training.QAT:
            return f"qat:{self.name}"
        settings = self.model_dump(mode="json", include=set(PRUNING_FIELDS))
        return "pruned:" + json.dumps(settings, sort_keys=True)

    def with_overrides(self, **changes: object) -> Recipe:
        """A validated copy with some fields changed (e.g. fewer fine-tuning steps in tests)."""
        return parse_recipe({**self.model_dump(), **changes})


def _problems(recipe: Recipe) -> list[str]:
    """Everything that makes a recipe inconsistent with its name or with itself."""
    problems = []
    parts = name_parts(recipe.name)
    if parts is None:
        return [
            "name does not follow <format>_<precision>[_<training>][_xnnpack] or "
            "coreml_pruned[_palettized<bits>] "
            f"({NAME_PATTERN.pattern})"
        ]
    fmt, precision, training = parts
    split = recipe.name.endswith(XNNPACK_SUFFIX)
    if split != (recipe.hard_swish is HardSwishOps.SPLIT):
        problems.append(f"hard_swish must be {'split' if split else 'fused'} for this name")
    if split and (recipe.format is not ArtifactFormat.TFLITE or recipe.precision is not Precision.INT8):
        problems.append(
            "the _xnnpack layout is for int8 TFLite recipes (XNNPack runs float HARD_SWISH itself)"
        )
    bits = None
    if precision.startswith("palettized"):
        precision, bits = "palettized", int(precision.removeprefix("palettized"))
    if fmt != recipe.format.value:
        problems.append(f"name says format {fmt!r}, config says {recipe.format.value!r}")
    if precision != recipe.precision.value:
        problems.append(f"name says precision {precision!r}, config says {recipe.precision.value!r}")
    if training != recipe.training.value:
        problems.append(f"name says training {training!r}, config says {recipe.training.value!r}")
    if bits != recipe.palette_bits:
        problems.append(f"palette_bits must be {bits} for this name; got {recipe.palette_bits}")
    if recipe.palette_bits is not None and recipe.palette_bits not in _PALETTE_BITS:
        problems.append(f"palette_bits: allowed {_PALETTE_BITS}; got {recipe.palette_bits}")
    if recipe.precision not in _ALLOWED_PRECISIONS[recipe.format]:
        allowed = [p.value for p in _ALLOWED_PRECISIONS[recipe.format]]
        problems.append(
            f"precision {recipe.precision.value!r} is not one of {allowed} for {recipe.format.value}"
        )
    if recipe.training is Training.QAT and recipe.precision is not Precision.INT8:
        problems.append("qat fine-tuning only makes sense before int8 conversion")
    tflite_pruned = recipe.training is Training.PRUNED and recipe.format is ArtifactFormat.TFLITE
    if tflite_pruned and recipe.precision is not Precision.INT8:
        problems.append("TFLite pruning is only offered before int8 conversion (tflite_int8_pruned)")
    if recipe.sparse_encoding and (
        recipe.training is not Training.PRUNED or recipe.format is not ArtifactFormat.TFLITE
    ):
        problems.append("sparse_encoding is for TFLite pruned recipes only (Core ML pruned is always sparse)")
    if (
        recipe.format is ArtifactFormat.COREML
        and recipe.training is Training.PRUNED
        and recipe.precision is Precision.PALETTIZED
        and recipe.minimum_deployment_target != "iOS18"
    ):
        problems.append(
            "joint pruning + palettization (constexpr_lut_to_sparse) needs minimum_deployment_target iOS18"
        )
    if recipe.training is not Training.NONE and recipe.finetune_steps < 1:
        problems.append(
            "finetune_steps must be >= 1 for qat and pruned recipes (ranges and masks are learnt)"
        )
    if (recipe.training is Training.PRUNED) != (recipe.target_sparsity is not None):
        problems.append("target_sparsity is required for pruned recipes and only for them")
    if recipe.minimum_deployment_target not in _COREML_TARGETS:
        problems.append(
            f"minimum_deployment_target: allowed {_COREML_TARGETS}; got {recipe.minimum_deployment_target!r}"
        )
    return problems


def name_parts(name: str) -> tuple[str, str, str] | None:
    """``(format, precision, training)`` a recipe name says, or None if it follows no grammar."""
    match = NAME_PATTERN.match(name)
    if match and not (match.group(1) == "coreml" and match.group(3)):  # Core ML: coreml_pruned...
        return match.group(1), match.group(2), match.group(3) or "none"
    match = COREML_PRUNED_PATTERN.match(name)
    if match:
        return match.group(1), match.group(3) or "fp16", "pruned"
    return None


def parse_recipe(config: dict) -> Recipe:
    """Validate a recipe config (e.g. from a plan file).

    Args:
        config: The recipe's fields; unknown keys are rejected.

    Returns:
        The recipe.

    Raises:
        InputError: a key is unknown, a value is out of range, or the name disagrees with the fields.
    """
    try:
        return Recipe.model_validate(config)
    except ValidationError as error:
        lines = [f"{'.'.join(map(str, e['loc'])) or 'recipe'}: {e['msg']}" for e in error.errors()]
        raise InputError(f"recipe {config.get('name', '?')!r}: " + "; ".join(lines)) from None


_REGISTRY: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    """Add a recipe to the registry.

    Raises:
        ValueError: a recipe of that name is already registered (a programming error, not user input).
    """
    if recipe.name in _REGISTRY:
        raise ValueError(f"recipe {recipe.name!r} is already registered")
    _REGISTRY[recipe.name] = recipe
    return recipe


def recipe_names() -> list[str]:
    """Every registered recipe name, in registration order."""
    return list(_REGISTRY)


def get_recipe(name: str) -> Recipe:
    """The registered recipe of that name.

    Raises:
        InputError: no such recipe (the message lists the allowed names).
    """
    if name not in _REGISTRY:
        raise choice_error("--recipe", name, recipe_names())
    return _REGISTRY[name]


def parse_recipe_list(text: str) -> list[Recipe]:
    """``"tflite_fp32,tflite_int8"`` -> recipes, in order, without duplicates.

    Raises:
        InputError: empty list or an unknown name.
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise InputError(f"--recipe: expected one or more names separated by commas; got {text!r}")
    return [get_recipe(name) for name in dict.fromkeys(names)]


def _builtin(name: str, description: str, **fields: object) -> None:
    parts = name_parts(name)
    assert parts is not None, name
    fmt, precision, training = parts
    if name.endswith(XNNPACK_SUFFIX):
        fields["hard_swish"] = HardSwishOps.SPLIT
    if precision.startswith("palettized"):
        fields["palette_bits"] = int(precision.removeprefix("palettized"))
        precision = "palettized"
    register(
        parse_recipe(
            {"name": name, "format": fmt, "precision": precision, "training": training}
            | {"description": description, **fields}
        )
    )


_builtin("tflite_fp32", "TFLite float32, the reference every other recipe is compared to")
_builtin("tflite_fp16", "TFLite with float16 weights (dequantized to float32 at load)")
_builtin("tflite_dynamic_int8", "TFLite with int8 weights and float activations (dynamic range)")
_builtin("tflite_int8", "TFLite full-integer post-training quantization: uint8 input, float outputs")
_builtin(
    "tflite_int8_xnnpack",
    "tflite_int8 with hard-swish split into ADD, MUL, MUL: XNNPack runs the whole int8 graph, at some "
    'accuracy (README "Compression"); the same file as tflite_int8 without hard-swish',
)
_builtin(
    "tflite_int8_qat", "tfmot quantization-aware fine-tuning, then full-integer TFLite", finetune_steps=2000
)
_builtin(
    "tflite_int8_qat_xnnpack",
    "tflite_int8_qat with hard-swish split into ADD, MUL, MUL for XNNPack (as tflite_int8_xnnpack)",
    finetune_steps=2000,
)
# The pruning fine-tune shared by the pruned recipes (docs/pruning.md): from the trained model, sparsity
# 0 -> 50% over the first half of the steps, a mask update every 10 steps, then the final mask held for
# the other half, at a peak lr of 1e-3 (a fifth of training's; QAT's 1e-4 cannot recover what pruning
# removes). A ramp over 70% of the steps left too little recovery: on the quick plan's weights V3-Small's
# 600 steps kept 94.0% of the fp32 mAP in a whole run, 97.3% with half (docs/pruning.md has every variant,
# each figure labelled whole run or one process). ConstantSparsity for 30 steps at 1e-4 kept 25%.
PRUNING_FINETUNE: dict[str, object] = {
    "finetune_steps": 200,
    "finetune_lr": 1e-3,
    "target_sparsity": 0.5,
    "pruning_schedule": "polynomial",
    "pruning_ramp": 0.5,
    "pruning_frequency": 10,
}
_builtin(
    "tflite_int8_pruned",
    "50% magnitude pruning (its own fine-tune), then full-integer TFLite: buys a smaller gzip download "
    "only; file size and host latency are tflite_int8's (docs/pruning.md)",
    **PRUNING_FINETUNE,
)
_builtin("coreml_fp16", "Core ML ML Program, fp16 weights and compute, decoding and NMS in the model")
_builtin("coreml_w8", "Core ML ML Program with 8-bit linear (symmetric, per-channel) weights")
_builtin("coreml_palettized4", "Core ML ML Program with 4-bit k-means palettized weights")
_builtin(
    "coreml_pruned",
    "Core ML ML Program, 50%-pruned weights stored sparse (fp16 values): 0.66-0.78x the coreml_fp16 "
    "file; speed measurable on a Mac only",
    **PRUNING_FINETUNE,
)
_builtin(
    "coreml_pruned_palettized4",
    "Core ML ML Program, 50%-pruned weights stored sparse with 4-bit palettized values (iOS18): the "
    "smallest Core ML file, 0.36-0.58x coreml_fp16",
    minimum_deployment_target="iOS18",
    **PRUNING_FINETUNE,
)
