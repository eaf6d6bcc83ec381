"""Calibrated training presets per variant and plan (``quick`` / ``paper``), for the pipeline's plans.

Measured with ``tools/calibrate_training.py`` on this 2-core machine (see the training report):
the quick preset reaches mAP@[.5:.95] >= 0.20 and AR@100 >= 0.55 on the synthetic val split, measured
on the exported fp32 TFLite file; the paper preset trains longer for >= 0.50 mAP.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.models.registry import TINY_PREFIX, get_config
from bench.training.config import TrainConfig
from common.errors import choice_error

PLANS = ("quick", "paper")


@dataclass(frozen=True)
class Preset:
    """How to train one variant for one plan."""

    input_size: int  # square input side
    width_multiplier: float  # backbone / extras width
    train: TrainConfig  # the from-scratch run
    qat_steps: int  # fine-tune steps of the tflite_int8_qat recipe
    pruning_steps: int  # fine-tune steps of the tflite_int8_pruned recipe
    finetune_lr: float  # peak learning rate of both fine-tunes


_QUICK_STEPS = {
    "ssdlite_mobilenet_v2": 1000,
    "ssdlite_mobilenet_v3_small": 1000,
    "ssdlite_mobiledet_cpu": 1000,
}
_PAPER_STEPS = 6000


def recommended(variant: str, plan: str = "quick") -> Preset:
    """The preset of ``variant`` for ``plan``; variants not calibrated get the MobileNetV2 numbers.

    Raises:
        InputError: Unknown plan.
    """
    if plan not in PLANS:
        raise choice_error("plan", plan, PLANS)
    if variant.startswith(TINY_PREFIX):
        # Test twins keep their own size and width; a few steps show the code path works.
        own = get_config(variant)
        return Preset(own.input_size, own.width_multiplier, TrainConfig(steps=20), 5, 5, 5e-4)
    base = variant
    if plan == "quick":
        steps = _QUICK_STEPS.get(base, _QUICK_STEPS["ssdlite_mobilenet_v2"])
        return Preset(256, 0.5, TrainConfig(steps=steps), qat_steps=150, pruning_steps=150, finetune_lr=5e-4)
    return Preset(
        256, 0.5, TrainConfig(steps=_PAPER_STEPS), qat_steps=1000, pruning_steps=1000, finetune_lr=5e-4
    )
