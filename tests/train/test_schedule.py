"""The learning-rate schedule: linear warmup, then a cosine to the floor, driven by the step alone."""

from __future__ import annotations

import inspect
import math

import pytest

from bench.training.schedule import warmup_cosine


def test_warmup_is_linear_up_to_the_peak():
    rates = [warmup_cosine(s, 1000, 1e-2, 100) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4)
    assert rates[49] == pytest.approx(5e-3)
    assert rates[99] == pytest.approx(1e-2)
    assert all(b > a for a, b in zip(rates, rates[1:], strict=False))


def test_cosine_decays_monotonically_to_the_floor():
    rates = [warmup_cosine(s, 1000, 1e-2, 100, floor=0.1) for s in range(100, 1001)]
    assert rates[0] == pytest.approx(1e-2)
    assert all(b <= a for a, b in zip(rates, rates[1:], strict=False))
    # Half-way through the decay the cosine is at its midpoint.
    assert warmup_cosine(550, 1000, 1e-2, 100) == pytest.approx(5e-3)
    assert rates[-1] == pytest.approx(1e-3)


def test_no_warmup_starts_at_the_peak():
    assert warmup_cosine(0, 10, 0.5, 0) == pytest.approx(0.5)
    assert warmup_cosine(10, 10, 0.5, 0) == pytest.approx(0.0, abs=1e-12)


def test_the_rate_is_a_function_of_the_step_alone():
    # No clock: a run's rates, hence its weights, do not depend on the machine's speed (issue 19).
    assert "time_fraction" not in inspect.signature(warmup_cosine).parameters
    assert warmup_cosine(500, 1000, 1.0, 0) == pytest.approx(0.5)


def test_all_values_finite_for_degenerate_runs():
    for total, warm in ((1, 0), (1, 1), (2, 5)):
        for step in range(3):
            assert math.isfinite(warmup_cosine(step, total, 1e-3, warm))
