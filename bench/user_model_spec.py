"""A plan's ``models:`` entries: the user's own detectors, benchmarked beside the zoo's variants.

    models:
      - name: my_ssd                       # display name; records say variant "user:my_ssd"
        path: exported/detect.tflite       # .tflite, .mlpackage, a SavedModel folder, .keras / .h5
        labelmap: exported/labelmap.txt    # optional: labelmap.txt, OD API .pbtxt, or a .tflite's metadata
        outputs: {boxes: StatefulPartitionedCall:3, ...}   # optional: the model's names of the 4 outputs
        architecture: ssdlite_mobilenet_v2 # a Keras model only: the zoo variant it was built as

Kept apart from ``bench.plans`` so the pipeline's module (``bench.pipeline.user_models``) and the plan
share one definition without an import cycle.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.errors import InputError

# TFLite_Detection_PostProcess' four outputs, which an `outputs:` mapping may rename.
OUTPUT_KEYS = ("boxes", "classes", "scores", "num_detections")


class SourceKind(StrEnum):
    """What a user's model file is; decides which recipes apply."""

    TFLITE = "tflite"  # benchmarked as given
    COREML = "coreml"  # an .mlpackage / .mlmodel, benchmarked as given
    SAVED_MODEL = "saved_model"  # a folder with saved_model.pb (OD API export or Keras)
    KERAS = "keras"  # a .keras / .h5 file


class UserModelSpec(BaseModel):
    """One user model of a plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")  # display name, file-name safe
    path: Path  # the model file or folder
    labelmap: Path | None = None  # class names; None: the .tflite's metadata, else the dataset's order
    outputs: dict[str, str] = {}  # TFLite_Detection_PostProcess output -> the model's output name
    architecture: str | None = None  # zoo variant a Keras model was built as (anchors, box coder)

    @field_validator("outputs")
    @classmethod
    def _known_outputs(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(OUTPUT_KEYS))
        if unknown:
            raise ValueError(f"unknown output {unknown[0]!r}; allowed: {', '.join(OUTPUT_KEYS)}")
        if value and set(value) != set(OUTPUT_KEYS):
            raise ValueError(f"name all four outputs ({', '.join(OUTPUT_KEYS)}) or none")
        return value

    @property
    def label(self) -> str:
        """``user:<name>``: the variant the records carry (ModelInfo.variant)."""
        return f"user:{self.name}"


def source_kind(path: Path) -> SourceKind:
    """The kind of model at ``path``.

    Raises:
        InputError: missing, or not one of the supported kinds.
    """
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(f"{path}: model not found")
    if suffix == ".tflite" and path.is_file():
        return SourceKind.TFLITE
    if suffix in (".mlpackage", ".mlmodel"):
        return SourceKind.COREML
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return SourceKind.SAVED_MODEL
    if suffix in (".keras", ".h5") and path.is_file():
        return SourceKind.KERAS
    raise InputError(
        f"{path}: not a supported model; allowed: a .tflite file, an .mlpackage, a SavedModel folder "
        "(with saved_model.pb), a .keras or .h5 file"
    )


def check_user_models(specs: list[UserModelSpec], zoo_names: list[str]) -> None:
    """Check what pydantic cannot: the files exist and are of a known kind, Keras models name their
    zoo architecture, names are unique.

    Raises:
        InputError: naming the entry (``models[1].path``) and the problem.
    """
    seen: set[str] = set()
    for index, spec in enumerate(specs):
        where = f"models[{index}]"
        try:
            kind = source_kind(spec.path)
        except InputError as error:
            raise InputError(f"{where}.path: {error}") from None
        if spec.architecture is not None and spec.architecture not in zoo_names:
            raise InputError(
                f"{where}.architecture: got {spec.architecture!r}; allowed: {', '.join(zoo_names)}"
            )
        if kind is SourceKind.KERAS and spec.architecture is None:
            raise InputError(
                f"{where}.architecture: a Keras file needs the zoo variant it was built as (its anchors and "
                "box coder make the TFLite and Core ML post-processing), e.g. ssdlite_mobilenet_v2"
            )
        if spec.labelmap is not None and not spec.labelmap.exists():
            raise InputError(f"{where}.labelmap: {spec.labelmap}: file not found")
        if spec.name in seen:
            raise InputError(f"{where}: {spec.name!r} appears twice; each name must be unique")
        seen.add(spec.name)
