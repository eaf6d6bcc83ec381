"""perf/perf_rounds.py's report: spreads per artifact and of the int8 / fp32 ratio, and its PASS line."""

from __future__ import annotations

from perf import perf_rounds

NAMES = [f"{v}.{r}" for v in perf_rounds.VARIANTS for r in perf_rounds.RECIPES]


def _found(one_window: list[list[float]], interleaved: list[list[float]]) -> dict:
    return {
        "one window": {"medians": one_window, "seconds": [10.0] * len(one_window)},
        "interleaved": {"medians": interleaved, "seconds": [6.0] * len(interleaved)},
    }


def test_steadier_ratios_pass_and_noisier_ones_fail(capsys):
    noisy = [[1.0, 1.0, 2.0, 1.4], [1.0, 1.4, 2.0, 2.0]]  # int8/fp32 swings 1.0 <-> 1.4
    steady = [[1.0, 1.0, 2.0, 1.4], [1.1, 1.1, 2.2, 1.54]]  # the same ratio in both repetitions
    assert perf_rounds.report(NAMES, _found(noisy, steady)) is True
    out = capsys.readouterr().out
    assert "PASS" in out and "interleaved 0.0% vs one window" in out
    assert perf_rounds.report(NAMES, _found(steady, noisy)) is False
    assert "FAIL" in capsys.readouterr().out
