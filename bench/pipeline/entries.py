"""What each stage hands the next: typed, frozen results, cached as JSON by content hash.

A stage item ends in one of these (pydantic, ``extra="forbid"``, told apart by ``kind``): ``Trained``
(or ``Loaded``, a user's own model file in the train stage's place), ``Exported``, ``Evaluated`` /
``NotEvaluated``, or a ``Failure`` naming the stage that failed. A typed failure of one item is cached like
a result: it becomes ``failed`` records for that variant / recipe while the rest of the plan continues. A
cache file that no longer parses (written by an older layout) is a
miss, so the item is computed again rather than misread.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from results.schema import AccuracyInfo, ArtifactInfo, ErrorInfo, ModelInfo


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Failure(_Entry):
    """A typed failure of one stage item (a diverging training, a refused recipe, an unreadable artifact)."""

    kind: Literal["failed"] = "failed"
    stage: Literal["load", "train", "export", "evaluate"]  # where it failed; records say "export failed: ..."
    type: str  # the exception's class name, e.g. ConversionError
    message: str  # the error's message on one line, at most 2000 characters

    @classmethod
    def of(cls, stage: str, error: BaseException) -> Failure:
        """The failure of ``stage`` from a caught exception."""
        message = " ".join(str(error).split()) or type(error).__name__
        return cls(stage=stage, type=type(error).__name__, message=message[:2000])

    def error(self) -> ErrorInfo:
        """What a record whose artifact was never made says: ``export failed: ...``."""
        return ErrorInfo(type=self.type, message=f"{self.stage} failed: {self.message}")


class Trained(_Entry):
    """The train stage's result: the weights file and what the model is."""

    kind: Literal["trained"] = "trained"
    weights: str  # the final Keras weights file (HDF5) in the stage's output folder
    weights_sha256: str  # content hash of the weights: part of every downstream cache key
    steps: int  # optimizer steps done
    seconds: float  # training wall-clock time over resumed runs
    final_loss: float  # mean loss over the last logged window
    stopped_by: str  # "steps" or "time" (max_minutes reached first)
    model: ModelInfo  # the record's model fields (params BN-folded, MAdds)


class Loaded(_Entry):
    """A user's own model file (a plan's ``models:`` entry) in the train stage's place: hashed, described."""

    kind: Literal["loaded"] = "loaded"
    artifact: ArtifactInfo  # the file as given (recipe None): what its as-given records measure
    model: ModelInfo  # the record's model fields (variant ``user:<name>``; what the file tells)


class Exported(_Entry):
    """The export stage's result: the artifact file and its sidecar."""

    kind: Literal["exported"] = "exported"
    sidecar: str | None  # path of <artifact>.artifact.json (re-verified); None: a user's file timed as given
    artifact: ArtifactInfo  # the record's artifact fields, path included
    tools: dict[str, str | None]  # tool versions that wrote the artifact (merged into the records)


class Evaluated(_Entry):
    """The evaluate stage's result: COCO metrics of the artifact file on the validation split."""

    kind: Literal["evaluated"] = "evaluated"
    accuracy: AccuracyInfo  # merged into every record of the artifact
    inference_s: float  # wall-clock seconds the evaluation's inference took
    detections: str | None = None  # its COCO results JSON, for the share of the fp32 file's mAP


class NotEvaluated(_Entry):
    """No accuracy for this artifact, and why (Core ML prediction off macOS; no artifact was written)."""

    kind: Literal["not_evaluated"] = "not_evaluated"
    reason: str  # shown nowhere as an error: the records are still timed


TrainEntry = Annotated[Trained | Loaded | Failure, Field(discriminator="kind")]
ExportEntry = Annotated[Exported | Failure, Field(discriminator="kind")]
EvaluateEntry = Annotated[Evaluated | NotEvaluated | Failure, Field(discriminator="kind")]

# The cached entry type of each stage.
ENTRY_TYPES: dict[str, TypeAdapter] = {
    "train": TypeAdapter(TrainEntry),
    "export": TypeAdapter(ExportEntry),
    "evaluate": TypeAdapter(EvaluateEntry),
}


def parse_entry(stage: str, value: dict) -> BaseModel | None:
    """A cached entry of ``stage`` as its typed result; None when it does not parse (an older layout)."""
    try:
        return ENTRY_TYPES[stage].validate_python(value)
    except ValidationError:
        return None
