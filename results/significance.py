"""Statistics on raw latency samples: is the candidate really slower (or faster)?

Three tools: one-sided Mann-Whitney U p-values (a rank test: no distribution assumed, a few scheduler
spikes cannot decide it), a bootstrap interval of the ratio of a percentile (median, p90) between
candidate and baseline (both for ``compare``, once per target), and the same bootstrap's interval of
one record's median, its *noise band* (:func:`median_band`), which the summary's "faster than" claims and
every Pareto front use: one record is faster than another only when their bands do not overlap.

The bootstrap is computed exactly instead of by random resampling. A percentile taken as an order
statistic (the inverted-CDF definition) has a closed-form bootstrap distribution: the k-th smallest
of n draws with replacement is at most the j-th smallest sample exactly when at least k draws land at
or below it, a Binomial(n, j/n) event (the "exact bootstrap" of order statistics, Hutson & Ernst 2000).
Baseline and candidate are resampled independently, so the ratio's bootstrap distribution is the
product of the two, over the few dozen values each percentile can realistically take. Exact means
no seed, no Monte-Carlo error, and about a millisecond per target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_SAMPLES = 5  # below this per side a rank test cannot reach p < 0.01 (1/C(8,4) = 0.014 for 4 + 4)
NEGLIGIBLE = 1e-12  # bootstrap probability below which a value is dropped (keeps the product small)


@dataclass(frozen=True)
class Evidence:
    """Raw samples of one target in two runs, with the Mann-Whitney p-values."""

    baseline: np.ndarray
    candidate: np.ndarray
    p_slower: float  # one-sided: candidate latencies tend to be larger
    p_faster: float  # one-sided: candidate latencies tend to be smaller

    @classmethod
    def of(cls, baseline: list[float], candidate: list[float]) -> Evidence | None:
        """The evidence, or None when a side has fewer than MIN_SAMPLES samples (device summaries)."""
        if len(baseline) < MIN_SAMPLES or len(candidate) < MIN_SAMPLES:
            return None
        from scipy import stats  # imported on use: the store and the dashboard import this module

        b, c = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
        slower = stats.mannwhitneyu(c, b, alternative="greater").pvalue
        faster = stats.mannwhitneyu(c, b, alternative="less").pvalue
        return cls(b, c, float(slower), float(faster))

    def ratio_interval(self, q: float, alpha: float) -> tuple[float, float]:
        """Bootstrap (alpha, 1 - alpha) quantiles of percentile_q(candidate) / percentile_q(baseline).

        The lower one is a one-sided (1 - alpha) lower confidence bound of the ratio.
        """
        b_values, b_probs = percentile_distribution(self.baseline, q)
        c_values, c_probs = percentile_distribution(self.candidate, q)
        ratios = (c_values[:, None] / b_values[None, :]).ravel()
        probs = (c_probs[:, None] * b_probs[None, :]).ravel()
        return _quantiles(ratios, probs, alpha)


def _quantiles(values: np.ndarray, probs: np.ndarray, alpha: float) -> tuple[float, float]:
    """The (alpha, 1 - alpha) quantiles of a discrete distribution (values in any order)."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(probs[order])
    cumulative /= cumulative[-1]
    low, high = np.searchsorted(cumulative, [alpha, 1.0 - alpha])
    last = len(order) - 1
    return float(values[order[min(low, last)]]), float(values[order[min(high, last)]])


# The noise band of a record without raw samples (a device's summary): +-2.5% around its median, so
# two such records differ beyond noise only when their medians are more than about 5% apart.
SUMMARY_BAND = 0.025
BAND_ALPHA = 0.01  # the band is the (alpha, 1 - alpha) interval: compare's significance level


def median_band(
    samples: list[float], round_sizes: list[int] | None = None, alpha: float = BAND_ALPHA
) -> tuple[float, float] | None:
    """The noise band of a median latency: the exact-bootstrap (alpha, 1 - alpha) interval of the median.

    With interleaved rounds (two or more) the bootstrap resamples the rounds' medians, not the samples:
    a round is the unit a slow spell of the machine moves as a whole, while samples within one window
    are correlated and would make the band too narrow. With 5 rounds the band is the lowest to the
    highest round median. Two records whose bands do not overlap differ beyond noise.

    Args:
        samples: Raw samples in ms, round after round.
        round_sizes: Samples per round (``Timing.round_sizes``); empty or None: one window.
        alpha: One-sided level of each end.

    Returns:
        (low, high) in ms, or None without samples.
    """
    if not samples:
        return None
    values = np.asarray(samples, dtype=float)
    if round_sizes and len(round_sizes) >= 2:
        ends = np.cumsum([0, *round_sizes])
        pairs = zip(ends[:-1], ends[1:], strict=True)
        values = np.array([np.median(values[a:b]) for a, b in pairs if b > a])
    return _quantiles(*percentile_distribution(values, 50.0), alpha)


def timing_band(timing) -> tuple[float, float] | None:
    """:func:`median_band` of a ``results.schema.Timing``; a summary-only one gets +-SUMMARY_BAND."""
    if timing is None:
        return None
    if timing.samples_ms:
        return median_band(timing.samples_ms, timing.round_sizes)
    if timing.median_ms is None:
        return None
    return timing.median_ms * (1 - SUMMARY_BAND), timing.median_ms * (1 + SUMMARY_BAND)


def faster_beyond_noise(band: tuple[float, float], other: tuple[float, float]) -> bool:
    """Whether the record of ``band`` is faster than the one of ``other`` beyond noise (bands apart)."""
    return band[1] < other[0]


def percentile_distribution(samples: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap distribution of the q-th percentile (an order statistic) of ``samples``.

    Args:
        samples: The raw samples, any order.
        q: Percentile in (0, 100]; the k-th smallest with k = ceil(q n / 100) (inverted CDF).

    Returns:
        (values, probabilities): the values the percentile of a resample can take (sorted, ties kept
        apart) and how likely each is; values less likely than NEGLIGIBLE are left out.
    """
    from scipy import stats

    ordered = np.sort(samples)
    n = len(ordered)
    k = max(1, math.ceil(q * n / 100.0))
    # P(k-th smallest of a resample <= ordered[j-1]) = P(Binomial(n, j/n) >= k), j = 1..n.
    cdf = stats.binom.sf(k - 1, n, np.arange(1, n + 1) / n)
    probs = np.diff(cdf, prepend=0.0)
    keep = probs > NEGLIGIBLE
    return ordered[keep], probs[keep]
