"""Learning-rate schedule: linear warmup, then a cosine decay to zero over the run's steps.

The schedule is a plain function of the step, evaluated in Python before every step (the value is fed to
the step function). It never reads the clock: a run's rates, and so its weights, do not depend on how
fast the machine is (SGDR, Loshchilov & Hutter 2017, for the cosine; Goyal et al. 2017 for the warmup).
"""

from __future__ import annotations

import math


def warmup_cosine(
    step: int,
    total_steps: int,
    peak_lr: float,
    warmup_steps: int,
    *,
    floor: float = 0.0,
) -> float:
    """The learning rate of step ``step`` (0-based).

    Args:
        step: Steps done before this one.
        total_steps: Length of the run in steps.
        peak_lr: Rate at the end of the warmup.
        warmup_steps: Linear warmup length; rate ``peak_lr * (step + 1) / warmup_steps`` during it.
        floor: Rate at the end of the decay, as a fraction of ``peak_lr``.

    Returns:
        The learning rate, in ``[floor * peak_lr, peak_lr]`` after the warmup.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    progress = step / max(total_steps, 1)
    start = warmup_steps / max(total_steps, 1)
    if start >= 1.0:
        return peak_lr
    fraction = min(max((progress - start) / (1.0 - start), 0.0), 1.0)
    cosine = 0.5 * (1.0 + math.cos(math.pi * fraction))
    return peak_lr * (floor + (1.0 - floor) * cosine)
