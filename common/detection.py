"""Settings every format of one detector shares: input preprocessing and detection post-processing.

Both travel from the plan (or the ``edgebench export`` flags) through the zoo's model config into every
converter and into the artifact's sidecar, so a TFLite file and a Core ML package of one model read
their pixels the same way and keep the same detections (issue 18: Core ML once kept scores >= 0.3 while
TFLite kept >= 1e-8, and both landed on one Pareto chart).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Preprocessing(BaseModel):
    """``model_input = pixel * scale + bias`` on RGB pixels in [0, 255], i.e. ``(pixel - mean) / std``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The OD API's MobileNet feature extractors map pixels to [-1, 1]: x * 2/255 - 1 (mean = std = 127.5).
    mean: float = 127.5  # subtracted from every pixel value (all three channels)
    std: float = Field(default=127.5, gt=0)  # the difference is divided by this

    @property
    def scale(self) -> float:
        """Multiplier of the pixel values (``1 / std``; 2/255 by default)."""
        return 1.0 / self.std

    @property
    def bias(self) -> float:
        """Added after scaling (``-mean / std``; -1 by default)."""
        return -self.mean / self.std

    @property
    def unit_scale(self) -> float:
        """Multiplier of pixel values already divided by 255 (``255 / std``; exactly 2 by default)."""
        return 255.0 / self.std

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (or float) pixels -> float32 model input, computed as ``x * scale + bias``.

        Args:
            pixels: Any array of pixel values in [0, 255].

        Returns:
            float32 array of the same shape.
        """
        return np.asarray(pixels).astype(np.float32) * self.scale + self.bias


class PostprocessSettings(BaseModel):
    """Decoding + non-maximum suppression settings, the same for the TFLite op and Core ML's NMS.

    The defaults are those of the TFLite export (``TFLite_Detection_PostProcess``): a near-zero score
    threshold so that COCO mAP / AR see the whole precision-recall curve, the OD API's IoU 0.6, and 100
    boxes (the TF exporters default to 10, which caps AR@100).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_threshold: float = Field(default=1e-8, ge=0.0)  # keep detections scoring at least this (>= 1: none)
    iou_threshold: float = Field(default=0.6, gt=0.0, le=1.0)  # suppress overlaps above this IoU
    max_detections: int = Field(default=100, ge=1)  # boxes kept per image
    # Entries written per kept box, one per best class (K). 1 is what the TF exporters write; more lets
    # COCO evaluation see a box's runner-up classes. Core ML's NMS always returns every class's score.
    max_classes_per_detection: int = Field(default=1, ge=1)

    @property
    def max_entries(self) -> int:
        """Length of the TFLite op's padded outputs: ``max_detections * max_classes_per_detection``."""
        return self.max_detections * self.max_classes_per_detection
