"""`edgebench compare` on sustained runs: energy per inference (tested on the power trace) and throttling."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError
from results.checks import parse_checks
from results.energy import EnergyInfo, EnergyStatus, PowerSource, PowerTrace, derive_figures
from results.regression import compare_runs
from results.schema import ArtifactInfo, RunRecord, SustainedTrace, TargetInfo, Timing

IDLE = PowerTrace(times_s=[0.0, 1.0, 2.0], power_mw=[1000.0, 1000.0, 1000.0])


def sustained_record(run_id: str, power_mw: list[float], latency_ms: list[float]) -> RunRecord:
    """A 30 FPS run: one power reading and one latency sample per second."""
    times = [float(t) for t in range(len(latency_ms))]
    trace = PowerTrace(times_s=[float(t) for t in range(len(power_mw))], power_mw=power_mw)
    figures = derive_figures(
        trace,
        IDLE,
        inferences=30 * len(latency_ms),
        duration_secs=float(len(latency_ms)),
        sample_times_s=times,
        samples_ms=latency_ms,
    )
    energy = EnergyInfo(
        status=EnergyStatus.MEASURED, source=PowerSource.RAPL, idle=IDLE, trace=trace, figures=figures
    )
    timing = Timing(
        samples_ms=latency_ms,
        sustained=SustainedTrace(target_fps=30, duration_secs=len(latency_ms), sample_times_s=times),
    )
    return RunRecord(
        run_id=run_id,
        artifact=ArtifactInfo(path="m.tflite", sha256="0" * 64, size_bytes=1000),
        target=TargetInfo(runner="ssh", device_id="pi5", delegate="xnnpack", threads=4),
        timing=timing,
        status="ok",
        energy=energy,
    )


def noisy(mean: float, n: int, seed: int) -> list[float]:
    return list(np.random.default_rng(seed).normal(mean, mean * 0.02, n))


def only(comparison, name):
    (target,) = comparison.targets
    return next(m for m in target.metrics if m.check.metric.name == name), target


def test_energy_regression_is_tested_on_the_power_trace():
    base = sustained_record("a", noisy(4000, 120, 1), [10.0] * 120)
    cand = sustained_record("b", noisy(4500, 120, 2), [10.0] * 120)  # 3000 -> 3500 mW above idle: +17 %
    result, target = only(compare_runs([base], [cand], parse_checks("energy:10%")), "energy")
    assert result.method == "mann-whitney" and result.p_value < 1e-6
    assert result.baseline == pytest.approx(base.energy.figures.energy_per_inference_mj)
    assert result.delta == pytest.approx(16.7, abs=1.0) and result.regressed and target.regressed


def test_energy_change_below_threshold_or_not_significant_passes():
    base = sustained_record("a", noisy(4000, 120, 1), [10.0] * 120)
    same = sustained_record("b", noisy(4000, 120, 3), [10.0] * 120)
    result, _ = only(compare_runs([base], [same], parse_checks("energy:10%")), "energy")
    assert not result.regressed and abs(result.delta) < 3


def test_few_power_readings_fall_back_to_the_threshold_with_a_note():
    base = sustained_record("a", [4000.0, 4000.0], [10.0] * 60)
    cand = sustained_record("b", [4600.0, 4600.0], [10.0] * 60)
    result, target = only(compare_runs([base], [cand], parse_checks("energy:10%")), "energy")
    assert result.method == "threshold" and result.regressed
    assert "energy: fewer than 5 readings on a side, threshold only" in target.notes


def test_earlier_throttling_fails_the_throttle_check():
    # Baseline never throttles in 300 s (counts as 300); the candidate slows down 12 % from 150 s.
    base = sustained_record("a", [4000.0] * 10, [10.0] * 300)
    cand = sustained_record("b", [4000.0] * 10, [10.0] * 150 + [11.2] * 150)
    assert cand.energy.figures.throttle_onset_s == 150.0
    result, _ = only(compare_runs([base], [cand], parse_checks("throttle:-20%")), "throttle")
    assert result.baseline == 300.0 and result.candidate == 150.0
    assert result.delta == pytest.approx(-50.0) and result.regressed
    later, _ = only(compare_runs([cand], [base], parse_checks("throttle:-20%")), "throttle")
    assert not later.regressed  # throttling later (or never) is better


def test_energy_check_tokens():
    checks = parse_checks("energy:10%,throttle:-60,drain:+2")
    assert [c.text for c in checks] == ["energy:10%", "throttle:-60", "drain:2"]
    with pytest.raises(InputError, match="must be '-' for throttle"):
        parse_checks("throttle:+10%")
    with pytest.raises(InputError, match="'pt' is for accuracy"):
        parse_checks("energy:1pt")
