"""The training configuration: one frozen, validated pydantic model, and the result of a run.

Defaults are the calibration of this machine (see the package docstring): Adam, peak lr 5e-3 with a
linear warmup and a cosine decay to zero, batch 32, flip-only augmentation, BatchNormalization momentum
0.97 so that the moving statistics follow the weights within a few hundred steps. A plan's ``training:``
section is this model (``bench.plans``); a bad value ends in one line naming the key, what is allowed and
what was received (``InputError``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.data.augment_config import AugmentConfig
from bench.training.init_spec import InitSpec, parse_init
from bench.validation import validated
from common.errors import InputError

OPTIMIZERS = ("adam", "adamw", "sgd")
# Matching anchors at IoU 0.4 instead of the OD API's 0.5 gives small and medium objects several times more
# positive anchors; calibrated here: 0.20 mAP after 800 steps instead of 0.14 (MobileNetV2, 256 px).
DEFAULT_MATCH_IOU = 0.4
# The zoo's backbones use the reference momentum (0.99 / 0.999); their moving statistics then lag far
# behind the weights of a short run. 0.97 lets them settle within a few hundred steps.
DEFAULT_BN_MOMENTUM = 0.97

# Flip only: at a few minutes of training on the synthetic set, SSD's crop / zoom-out / colour jitter
# cost more accuracy (slower convergence, dearer input pipeline) than they win back in generalisation.
FLIP_ONLY = AugmentConfig(crop_prob=0.0, zoom_out_prob=0.0, photometric_prob=0.0)

# Counts are strict integers (no 2.5, no True, no "3"); rates are finite numbers.
PositiveInt = Annotated[int, Field(strict=True, ge=1)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class TrainConfig(BaseModel):
    """How to train one detector. Frozen; unknown keys are rejected; every field is checked.

    Build it with keywords in code (a bad value raises pydantic's ValidationError: a programming error),
    :meth:`from_dict` for user values (errors as one-line ``InputError``), or as a plan's ``training``
    section. A dict given for ``augment`` overrides fields of :data:`FLIP_ONLY`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: NonNegativeInt  # optimizer steps in total, over resumed runs too; 0 keeps the init as it is
    batch_size: PositiveInt = 32  # images per step
    peak_lr: Annotated[Number, Field(gt=0)] = 5e-3  # learning rate at the end of the warmup
    warmup_steps: NonNegativeInt = 200  # linear warmup from 0 to peak_lr (clipped to a tenth of `steps`)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"  # adamw: decoupled weight decay; sgd: momentum 0.9
    weight_decay: Annotated[Number, Field(ge=0)] = 0.0  # decoupled decay of adamw (model.losses always apply)
    # A safety cap on wall-clock training time over all resumed runs. It never shapes the schedule (that
    # follows `steps`); a run it stops ends with stopped_by="time" and weights that depend on the machine.
    max_minutes: Annotated[Number, Field(gt=0)] | None = None
    checkpoint_every: PositiveInt = 200  # steps between checkpoints (one more at the end and on Ctrl-C)
    keep_checkpoints: PositiveInt = 2  # newest checkpoints kept in the work folder
    seed: NonNegativeInt = 0  # model initialisation, shuffling and augmentation seed (op determinism is on)
    augment: AugmentConfig = FLIP_ONLY  # training augmentation
    bn_momentum: Annotated[Number, Field(ge=0, lt=1)] | None = DEFAULT_BN_MOMENTUM  # None: the zoo's own
    clip_norm: Annotated[Number, Field(gt=0)] | None = 10.0  # global gradient-norm clip (one bad early batch)
    match_iou: Annotated[Number, Field(gt=0, lt=1)] | None = DEFAULT_MATCH_IOU  # None: the variant's
    log_every: PositiveInt = 20  # steps between loss read-backs for the progress display and loss history
    init: InitSpec = InitSpec()  # weights at step 0: scratch | imagenet | checkpoint (never on resume)
    freeze_backbone_steps: NonNegativeInt = 0  # first steps that train only the extras and heads (after init)
    # TensorFlow's intra-op threads while training: the order of a kernel's float sums follows them, and so
    # do the weights' last bits (bench.training.steps.make_deterministic). Fixed here rather than taken
    # from the machine, so that a 2-core laptop and a 64-core server train the same weights; the benchmark
    # trains several variants at once instead (`edgebench benchmark --jobs`).
    threads: PositiveInt = 1

    @field_validator("augment", mode="before")
    @classmethod
    def _over_flip_only(cls, value: Any) -> Any:
        # A plan's `augment: {zoom_out_prob: 0.5}` changes FLIP_ONLY, not SSD's full augmentation.
        if isinstance(value, dict):
            return {**FLIP_ONLY.model_dump(), **value}
        return value

    @field_validator("init", mode="before")
    @classmethod
    def _plan_form(cls, value: Any) -> Any:
        # "imagenet", {"checkpoint": PATH}, "checkpoint:PATH": the plan's and the CLI's spellings.
        try:
            return parse_init(value, "init")
        except InputError as error:  # a ValueError, so pydantic names the key (training.init, variants[i]...)
            raise ValueError(str(error).removeprefix("init: ")) from None

    @property
    def effective_warmup(self) -> int:
        """Warmup steps actually used: at most a tenth of the run, so short runs still decay."""
        return min(self.warmup_steps, self.steps // 10)

    def replace(self, **changes: object) -> TrainConfig:
        """A validated copy with some fields changed."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build from plain values (a plan's YAML); ``augment`` may be a dict of AugmentConfig fields.

        Raises:
            InputError: An unknown key, a missing ``steps`` or an invalid value.
        """
        return validated(cls, values, "train")

    def to_dict(self) -> dict:
        """Plain values (JSON-ready), the inverse of :meth:`from_dict`."""
        out = self.model_dump(mode="json")
        out["init"] = self.init.to_plain()
        # Defaults left out: the run manifests and cache keys of runs made before these keys existed hold.
        for name, default in (("init", "scratch"), ("freeze_backbone_steps", 0)):
            if out[name] == default:
                del out[name]
        return out


@dataclass(frozen=True)
class TrainResult:
    """What :func:`bench.training.train` returns (and writes as ``train_result.json`` in the work folder)."""

    weights_path: Path  # the final Keras weights file (HDF5), written atomically
    steps: int  # optimizer steps done in total (== config.steps unless max_minutes stopped earlier)
    seconds: float  # training wall-clock time over all resumed runs (excludes start-up and tracing)
    images_per_s: float  # mean training throughput of the last run
    final_loss: float  # mean total loss over the last logged window of steps
    stopped_by: str = "steps"  # "steps" (done: reproducible) or "time" (max_minutes cut it short)
    threads: int = 1  # TensorFlow intra-op threads the steps ran on (TrainConfig.threads, unless overruled)
    loss_history: tuple[tuple[int, float], ...] = ()  # (step, mean loss) at every log point of the last run

    def to_dict(self) -> dict:
        """JSON-ready values."""
        out = dataclasses.asdict(self)
        out["weights_path"] = str(self.weights_path)
        out["loss_history"] = [list(p) for p in self.loss_history]
        return out
