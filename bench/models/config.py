"""The configuration of one detector variant: a frozen dataclass, validated, cheap to copy with overrides."""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field

import numpy as np

from bench.models.anchors import AnchorConfig, feature_map_sizes, generate_anchors
from bench.models.losses import LossConfig
from bench.models.target_assigner import MatcherConfig
from common.detection import PostprocessSettings, Preprocessing
from common.errors import InputError


class HeadKind(enum.StrEnum):
    """Box predictor style."""

    SSD = "ssd"  # regular 3x3 conv with bias per branch
    SSDLITE = "ssdlite"  # 3x3 depthwise (BN, ReLU6) then 1x1 conv with bias per branch


@dataclass(frozen=True)
class ModelConfig:
    """One SSD variant; :meth:`replace` overrides ``input_size``, ``width_multiplier``, ``num_classes``."""

    name: str  # registry key
    backbone: str  # key of bench.models.backbones.BACKBONES
    input_size: int = 320  # square input side in pixels
    width_multiplier: float = 1.0  # backbone and extra-layer width multiplier
    num_classes: int = 90  # object classes, background excluded (the model has num_classes + 1 slots)
    head: HeadKind = HeadKind.SSDLITE  # box predictor style
    extra_depths: tuple[int, ...] = (512, 256, 256, 128)  # output depths of the extra feature layers
    min_depth: int = 16  # floor of the extra-layer depths under a width multiplier (OD API min_depth)
    # Extra layers: 3x3/2 depthwise + 1x1 (OD API feature extractor use_depthwise: true, as every TF1
    # seed config) or one regular 3x3/2 conv (use_depthwise unset, the TF2 zoo's ssd_mobilenet_v2_320x320).
    depthwise_extras: bool = True
    head_kernel: int = 3  # kernel of an SSD (non-lite) head's convs (OD API box predictor kernel_size)
    # Initial logit biases of the class head: every object class starts at a score of 0.01 (-4.6) and the
    # background slot at 0.99 (+4.6), since almost every anchor is background. The OD API starts the
    # background slot like the classes (-4.6 for V3 / MobileDet, 0 for MobileNetV2); its loss then runs
    # over every negative anchor at 0.01 and the first ~100 steps go to unlearning that (README, Data).
    class_bias_init: float = -4.6
    background_bias_init: float = 4.6
    weight_decay: float = 4e-5  # L2 weight on regular conv kernels (collected in model.losses)
    anchors: AnchorConfig = field(default_factory=AnchorConfig)  # anchor layout
    matcher: MatcherConfig = field(default_factory=MatcherConfig)  # matching thresholds and box scales
    loss: LossConfig = field(default_factory=LossConfig)  # training loss
    postprocess: PostprocessSettings = PostprocessSettings()  # NMS settings (the export's defaults)
    # Pixels -> model input, read by training, evaluation, calibration and every converter (one place).
    preprocessing: Preprocessing = Preprocessing()
    source: str = ""  # paper table or config the layout follows

    def __post_init__(self):
        _check(
            self.input_size, "input_size", isinstance(self.input_size, int) and self.input_size >= 32, ">= 32"
        )
        _check(
            self.num_classes,
            "num_classes",
            isinstance(self.num_classes, int) and self.num_classes >= 1,
            ">= 1",
        )
        ok = isinstance(self.width_multiplier, int | float) and 0 < self.width_multiplier <= 4
        _check(self.width_multiplier, "width_multiplier", ok, "in (0, 4]")
        _check(self.head_kernel, "head_kernel", self.head_kernel in (1, 3), "1 or 3")
        per_box = self.postprocess.max_classes_per_detection
        _check(
            per_box, "postprocess.max_classes_per_detection", per_box <= self.num_classes, "<= num_classes"
        )
        if len(self.extra_depths) + 2 != self.anchors.num_layers:
            raise ValueError(
                f"{self.name}: 2 backbone maps + {len(self.extra_depths)} extras != anchor layers"
            )

    @property
    def num_class_slots(self) -> int:
        """Class logits per anchor: the classes plus the background slot 0."""
        return self.num_classes + 1

    @property
    def feature_map_sizes(self) -> list[int]:
        """Side of each of the six feature maps (20, 10, 5, 3, 2, 1 at 320)."""
        return feature_map_sizes(self.input_size, self.anchors.num_layers)

    @property
    def num_anchors(self) -> int:
        """Total anchors A (2034 at 320, 1917 at 300)."""
        per_cell = self.anchors.boxes_per_cell()
        return sum(s * s * n for s, n in zip(self.feature_map_sizes, per_cell, strict=True))

    def generate_anchors(self) -> np.ndarray:
        """float32 [A, 4] anchors (yc, xc, h, w), in the order of the model's outputs."""
        return generate_anchors(self.anchors, self.feature_map_sizes)

    def extra_layer_depths(self) -> list[int]:
        """Extra-layer depths after the width multiplier: ``max(int(d * m), min_depth)`` (OD API)."""
        return [max(int(d * self.width_multiplier), self.min_depth) for d in self.extra_depths]

    def replace(self, **overrides) -> ModelConfig:
        """A copy with some fields replaced (``None`` values are ignored), validated."""
        known = {f.name for f in dataclasses.fields(self)}
        for key in overrides:
            if key not in known:
                raise InputError(f"{key}: unknown model config field; allowed: {', '.join(sorted(known))}")
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def with_postprocess(self, settings: PostprocessSettings) -> ModelConfig:
        """A copy whose export uses ``settings`` (classes per box capped at ``num_classes``).

        See :class:`~common.detection.PostprocessSettings` ``max_classes_per_detection``.
        """
        per_box = min(settings.max_classes_per_detection, self.num_classes)
        post = PostprocessSettings(**{**settings.model_dump(), "max_classes_per_detection": per_box})
        return dataclasses.replace(self, postprocess=post)


def _check(value: object, argument: str, ok: bool, allowed: str) -> None:
    if not ok or (isinstance(value, float) and not math.isfinite(value)):
        raise InputError(f"{argument}: got {value!r}; allowed: {allowed}")
