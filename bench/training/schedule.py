"""Learning-rate schedule: linear warmup, then a cosine decay to zero over the budget (steps or time).

The schedule is a plain function evaluated in Python before every step (the value is fed to the step
function), which lets it follow whichever budget runs out first: with a wall-clock cap the cosine is
driven by ``max(step / steps, elapsed / max_seconds)``, so a run stopped by time still ends at a small
learning rate instead of being cut off at the top of the curve (SGDR, Loshchilov & Hutter 2017, for the
cosine; Goyal et al. 2017 for the warmup).
"""

from __future__ import annotations

import math


def warmup_cosine(
    step: int,
    total_steps: int,
    peak_lr: float,
    warmup_steps: int,
    *,
    time_fraction: float = 0.0,
    floor: float = 0.0,
) -> float:
    """The learning rate of step ``step`` (0-based).

    Args:
        step: Steps done before this one.
        total_steps: Length of the run in steps.
        peak_lr: Rate at the end of the warmup.
        warmup_steps: Linear warmup length; rate ``peak_lr * (step + 1) / warmup_steps`` during it.
        time_fraction: Fraction of a wall-clock budget already used (0 without one); the decay follows
            the larger of it and ``step / total_steps``.
        floor: Rate at the end of the decay, as a fraction of ``peak_lr``.

    Returns:
        The learning rate, in ``[floor * peak_lr, peak_lr]`` after the warmup.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    progress = max(step / max(total_steps, 1), time_fraction)
    start = warmup_steps / max(total_steps, 1)
    if start >= 1.0:
        return peak_lr
    fraction = min(max((progress - start) / (1.0 - start), 0.0), 1.0)
    cosine = 0.5 * (1.0 + math.cos(math.pi * fraction))
    return peak_lr * (floor + (1.0 - floor) * cosine)
