"""The training configuration: one frozen, validated dataclass, and the result of a run.

Defaults are the calibration of this machine (see the package docstring): Adam, peak lr 5e-3 with a
linear warmup and a cosine decay to zero, batch 32, flip-only augmentation, BatchNormalization momentum
0.97 so that the moving statistics follow the weights within a few hundred steps.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.augment import AugmentConfig
from bench.models.pretrained.spec import InitSpec, parse_init
from common.errors import InputError, choice_error

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


@dataclass(frozen=True)
class TrainConfig:
    """How to train one detector. Unknown keys are rejected by :meth:`from_dict`; every field is checked.

    Attributes are documented inline, one comment per field.
    """

    steps: int  # optimizer steps in total, over resumed runs too; 0 keeps the init as it is
    batch_size: int = 32  # images per step
    peak_lr: float = 5e-3  # learning rate at the end of the warmup
    warmup_steps: int = 200  # linear warmup from 0 to peak_lr (clipped to a tenth of `steps`)
    optimizer: str = "adam"  # adam | adamw (decoupled weight decay) | sgd (momentum 0.9, Nesterov)
    weight_decay: float = 0.0  # decoupled decay of adamw (the zoo's L2 terms in model.losses always apply)
    max_minutes: float | None = None  # wall-clock cap over all resumed runs; the schedule then follows time
    checkpoint_every: int = 200  # steps between checkpoints (one more is written at the end and on Ctrl-C)
    keep_checkpoints: int = 2  # newest checkpoints kept in the work folder
    seed: int = 0  # model initialisation, shuffling and augmentation seed
    augment: AugmentConfig = field(default_factory=lambda: FLIP_ONLY)  # training augmentation
    bn_momentum: float | None = DEFAULT_BN_MOMENTUM  # set on every BatchNormalization layer; None: the zoo's
    clip_norm: float | None = 10.0  # global gradient-norm clip, so one bad early batch cannot wreck Adam
    match_iou: float | None = DEFAULT_MATCH_IOU  # anchor-matching IoU of the targets; None: the variant's
    log_every: int = 20  # steps between loss read-backs for the progress display and the loss history
    init: InitSpec = (
        InitSpec()
    )  # starting weights at step 0 (scratch | imagenet | checkpoint; never on resume)
    freeze_backbone_steps: int = 0  # first steps that train only the extras and heads (warm-up after init)

    def __post_init__(self) -> None:
        object.__setattr__(self, "init", parse_init(self.init, "train config: init"))
        _nonnegative_int(self, "steps")  # 0: no training, the init as it is (a published checkpoint)
        _positive_int(self, "batch_size")
        _positive_int(self, "checkpoint_every")
        _positive_int(self, "keep_checkpoints")
        _positive_int(self, "log_every")
        _nonnegative_int(self, "warmup_steps")
        _nonnegative_int(self, "seed")
        _nonnegative_int(self, "freeze_backbone_steps")
        _finite(self, "peak_lr", lambda v: v > 0, "> 0")
        _finite(self, "weight_decay", lambda v: v >= 0, ">= 0")
        if self.optimizer not in OPTIMIZERS:
            raise choice_error("train optimizer", self.optimizer, OPTIMIZERS)
        if self.max_minutes is not None:
            _finite(self, "max_minutes", lambda v: v > 0, "> 0 or None")
        if self.bn_momentum is not None:
            _finite(self, "bn_momentum", lambda v: 0 <= v < 1, "in [0, 1) or None")
        if self.clip_norm is not None:
            _finite(self, "clip_norm", lambda v: v > 0, "> 0 or None")
        if self.match_iou is not None:
            _finite(self, "match_iou", lambda v: 0 < v < 1, "in (0, 1) or None")
        if not isinstance(self.augment, AugmentConfig):
            raise InputError(f"train augment: expected an AugmentConfig; got {type(self.augment).__name__}")

    @property
    def effective_warmup(self) -> int:
        """Warmup steps actually used: at most a tenth of the run, so short runs still decay."""
        return min(self.warmup_steps, self.steps // 10)

    def replace(self, **changes: object) -> TrainConfig:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build from plain values (a plan's YAML); ``augment`` may be a dict of AugmentConfig fields.

        Raises:
            InputError: An unknown key, a missing ``steps`` or an invalid value.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"train config: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(known))}")
        if "steps" not in values:
            raise InputError("train config: steps is required")
        values = dict(values)
        augment = values.get("augment")
        if isinstance(augment, dict):
            values["augment"] = _augment_from_dict(augment)
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain values (JSON-ready), the inverse of :meth:`from_dict`."""
        out = dataclasses.asdict(self)
        out["augment"] = {k: list(v) if isinstance(v, tuple) else v for k, v in out["augment"].items()}
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
    stopped_by: str = "steps"  # "steps" (done) or "time" (max_minutes reached first)
    loss_history: tuple[tuple[int, float], ...] = ()  # (step, mean loss) at every log point of the last run

    def to_dict(self) -> dict:
        """JSON-ready values."""
        out = dataclasses.asdict(self)
        out["weights_path"] = str(self.weights_path)
        out["loss_history"] = [list(p) for p in self.loss_history]
        return out


def _augment_from_dict(values: dict) -> AugmentConfig:
    known = {f.name for f in dataclasses.fields(AugmentConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"train augment: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(known))}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return dataclasses.replace(FLIP_ONLY, **values)


def _positive_int(config: TrainConfig, name: str) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"train {name}: expected a positive integer; got {value!r}")


def _nonnegative_int(config: TrainConfig, name: str) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"train {name}: expected an integer >= 0; got {value!r}")


def _finite(config: TrainConfig, name: str, ok: Callable[[float], bool], allowed: str) -> None:
    value = getattr(config, name)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not ok(value)
    ):
        raise InputError(f"train {name}: expected a number {allowed}; got {value!r}")
