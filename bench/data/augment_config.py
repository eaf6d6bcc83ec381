"""SSD augmentation settings (Liu et al., "SSD", ECCV 2016, Sec. 2.2 and 3.6), free of TensorFlow.

The ops live in :mod:`bench.data.augment`; this module holds only the frozen, validated settings so that
plans (``training.augment``) can be checked without importing TensorFlow.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class AugmentConfig(BaseModel):
    """SSD augmentation settings (defaults follow the SSD paper and its Caffe release)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flip_prob: Probability = 0.5  # probability of a horizontal flip
    crop_prob: Probability = (
        6 / 7
    )  # probability of a random crop (SSD keeps the whole image 1 time in 6 or 7)
    # choices for the fraction of some box the crop must cover (SSD: 0.1 ... 0.9)
    min_object_covered: tuple[Probability, ...] = Field(default=(0.1, 0.3, 0.5, 0.7, 0.9), min_length=1)
    crop_aspect_range: tuple[Positive, Positive] = (0.5, 2.0)  # allowed crop aspect ratios (width / height)
    crop_area_range: tuple[Probability, Probability] = (0.1, 1.0)  # crop area, fraction of the (zoomed) image
    zoom_out_prob: Probability = 0.5  # probability of zoom-out, which makes objects small (SSD Sec. 3.6)
    zoom_out_max: float = Field(default=3.0, ge=1, allow_inf_nan=False)  # largest canvas side / image side
    brightness: Probability = 32 / 255  # max brightness shift, fraction of the full range (Caffe SSD: 32/255)
    contrast: tuple[NonNegative, NonNegative] = (0.5, 1.5)  # contrast factor range
    saturation: tuple[NonNegative, NonNegative] = (0.5, 1.5)  # saturation factor range
    hue: float = Field(default=0.05, ge=0, le=0.5)  # max hue shift, fraction of the circle (Caffe SSD: 0.05)
    photometric_prob: Probability = 0.8  # probability of applying the photometric jitter at all
    min_box_pixels: NonNegative = 1.0  # boxes thinner than this many output pixels after cropping are dropped
