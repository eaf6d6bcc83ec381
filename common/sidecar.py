"""The ``<name>.artifact.json`` sidecar: one pydantic model that the converters write and every reader parses.

A sidecar says what an artifact file is (hash, sizes, tools), what it was made from (the detector) and
every converter setting that changes its bytes (:class:`ConversionSettings`: the recipe and its fields,
input size, labels, preprocessing, post-processing, calibration data, fine-tuning), with a
``settings_hash`` over them, so two ``tflite_int8_qat`` files made differently can be told apart
(DESIGN.md, Identity). A model file without a sidecar, or whose sha256 differs, is not a finished artifact.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from common.detection import PostprocessSettings, Preprocessing
from common.errors import InputError
from common.fileinfo import FileInfo, file_info

SIDECAR_SUFFIX = ".artifact.json"
SIDECAR_VERSION = 2  # 1: an untyped dict without settings (edgebench before issue 18)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Calibration(_Strict):
    """The representative images of an int8 conversion (activation ranges depend on them)."""

    source: str  # which images: a dataset id (training split), or a folder
    samples: int = Field(ge=1)  # how many images the converter used


class FinetuneSettings(_Strict):
    """bench's training loop as the qat and pruned recipes run it (the step count is the recipe's)."""

    data: str  # the training split's dataset id
    lr: float = Field(gt=0)  # peak learning rate (warmup, then cosine to zero)
    batch_size: int = Field(ge=1)  # images per step
    seed: int = Field(ge=0)  # shuffle and augmentation seed
    match_iou: float | None = None  # anchor-matching IoU of the targets (None: the model's default)
    # TensorFlow intra-op threads of the fine-tune: its weights' last bits follow them
    # (bench.training.steps.make_deterministic). None: not recorded (files made before it was).
    threads: int | None = Field(default=None, ge=1)


class ConversionSettings(_Strict):
    """Every converter setting that changes an artifact's bytes (the weights aside)."""

    recipe: dict[str, Any]  # the recipe's fields as converters.recipes.Recipe dumps them
    input_size: int = Field(ge=1)  # square input side in pixels
    labels: tuple[str, ...]  # class names without background
    preprocessing: Preprocessing  # pixels -> model input
    postprocess: PostprocessSettings  # decoding + NMS thresholds and caps
    calibration: Calibration | None = None  # int8 recipes only
    finetune: FinetuneSettings | None = None  # qat and pruned recipes only

    def settings_hash(self) -> str:
        """sha256 of the settings as canonical JSON (sorted keys): equal settings, equal hash."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class ModelFacts(_Strict):
    """The detector the artifact was made from."""

    name: str  # the model name in the artifact's file name
    params: int = Field(ge=0)  # Keras parameter count of the float model
    variant: str | None = None  # zoo variant, e.g. ssdlite_mobilenet_v2
    width_multiplier: float | None = None  # the variant's width multiplier


class Sidecar(_Strict):
    """``<name>.artifact.json``: what the artifact is, what made it, and how."""

    sidecar_version: Literal[2] = SIDECAR_VERSION  # bumped when a field changes meaning
    name: str  # ``<model name>.<recipe>``, the stem of both files
    file: str  # the model file's name, beside the sidecar
    format: Literal["tflite", "coreml"]
    sha256: str  # of the model file (a directory's files in sorted order)
    size_bytes: int = Field(ge=0)
    gzip_bytes: int = Field(ge=0)  # size after gzip -9
    created_at: str  # ISO 8601, UTC
    tools: dict[str, str | None]  # converting toolchain versions (results.schema.ToolVersions fields)
    platform: str  # where it was converted, e.g. "linux x86_64"
    model: ModelFacts
    settings: ConversionSettings
    settings_hash: str  # ConversionSettings.settings_hash(), checked on read
    signature: dict[str, Any]  # input and output names, shapes, dtypes (quantization for TFLite)
    recipe_stats: dict[str, Any] = {}  # what the recipe measured (fine-tune steps, sparsity)
    metadata: dict[str, Any] | None = None  # what the TFLite / Core ML metadata says, if written
    metadata_error: str | None = None  # why no metadata was written

    @model_validator(mode="after")
    def _hash_matches(self) -> Sidecar:
        if self.settings_hash != self.settings.settings_hash():
            raise ValueError("settings_hash does not match the settings (edited or stale sidecar)")
        return self

    @property
    def recipe(self) -> str:
        """The recipe name."""
        return str(self.settings.recipe.get("name", ""))

    def to_json(self) -> str:
        """The sidecar as written: indented JSON with a final newline."""
        return self.model_dump_json(indent=2) + "\n"


def sidecar_of(model_path: str | Path) -> Path:
    """Where the sidecar of a model file (or .mlpackage) is: ``<name>.artifact.json`` beside it."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(path.suffix) + SIDECAR_SUFFIX)


def parse_sidecar(sidecar_path: str | Path) -> Sidecar:
    """Read and validate a sidecar (not its model file).

    Raises:
        InputError: unreadable, not JSON, written by another sidecar version, or not a valid sidecar.
    """
    where = f"artifact sidecar {str(sidecar_path)!r}"
    try:
        data = json.loads(Path(sidecar_path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{where}: cannot read it ({error})") from None
    version = data.get("sidecar_version") if isinstance(data, dict) else None
    if version != SIDECAR_VERSION:
        raise InputError(
            f"{where}: sidecar_version {version!r}, expected {SIDECAR_VERSION}; re-export the artifact"
        )
    try:
        return Sidecar.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(map(str, first["loc"])) or "(top level)"
        raise InputError(f"{where}: {key}: {first['msg']}") from None


def read_sidecar(sidecar_path: str | Path) -> tuple[Sidecar, FileInfo]:
    """The sidecar and its model file's info, checking the file still matches.

    Raises:
        InputError: the sidecar is unreadable or invalid, or the model file is missing or has changed.
    """
    sidecar = parse_sidecar(sidecar_path)
    path = Path(sidecar_path).with_name(sidecar.file)
    if not path.exists():
        raise InputError(f"artifact {str(path)!r}: the model file named by its sidecar is missing")
    info = file_info(path)
    if info.sha256 != sidecar.sha256:
        raise InputError(
            f"artifact {str(path)!r}: sha256 differs from its sidecar (file changed or incomplete)"
        )
    return sidecar, info
