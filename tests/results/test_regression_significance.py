"""results.significance: the exact order-statistic bootstrap agrees with brute-force resampling."""

import numpy as np
import pytest

from results.significance import MIN_SAMPLES, Evidence, percentile_distribution


@pytest.mark.parametrize("q", [50.0, 90.0])
@pytest.mark.parametrize("n", [7, 60])
def test_exact_percentile_distribution_matches_brute_force_resampling(q, n):
    rng = np.random.default_rng(42)
    samples = np.round(rng.lognormal(1.0, 0.2, n), 1)  # rounding makes ties, as real timers do
    brute = np.percentile(samples[rng.integers(0, n, (20_000, n))], q, axis=1, method="inverted_cdf")
    values, probs = percentile_distribution(samples, q)
    assert probs.sum() == pytest.approx(1.0, abs=1e-9)
    # Same distribution: the CDFs agree at every sample value (Monte-Carlo error of the brute force ~0.005).
    grid = np.unique(samples)
    brute_cdf = np.searchsorted(np.sort(brute), grid, side="right") / len(brute)
    exact_cdf = np.array([probs[values <= x].sum() for x in grid])
    assert np.abs(brute_cdf - exact_cdf).max() < 0.02


def test_ratio_interval_matches_brute_force_and_brackets_a_known_shift():
    rng = np.random.default_rng(1)
    base = rng.lognormal(np.log(2.0), 0.05, 100)
    cand = rng.lognormal(np.log(2.0), 0.05, 100) * 1.2
    evidence = Evidence.of(list(base), list(cand))
    low, high = evidence.ratio_interval(50.0, 0.01)
    assert low < 1.2 < high and high - low < 0.1
    draws = 20_000
    b = np.percentile(base[rng.integers(0, 100, (draws, 100))], 50, axis=1, method="inverted_cdf")
    c = np.percentile(cand[rng.integers(0, 100, (draws, 100))], 50, axis=1, method="inverted_cdf")
    assert np.quantile(c / b, [0.01, 0.99]) == pytest.approx([low, high], rel=0.005)
    assert evidence.p_slower < 1e-10 and evidence.p_faster > 0.99


def test_too_few_samples_give_no_evidence():
    assert Evidence.of([1.0] * (MIN_SAMPLES - 1), [1.0] * 50) is None
    assert Evidence.of([1.0, 2.0, 3.0, 4.0, 5.0], [1.5, 2.5, 3.5, 4.5, 5.5]) is not None
