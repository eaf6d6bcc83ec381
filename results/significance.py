"""Statistics on two runs' raw latency samples: is the candidate really slower (or faster)?

Two tools, computed once per target: one-sided Mann-Whitney U p-values (a rank test: no distribution
assumed, a few scheduler spikes cannot decide it), and a bootstrap interval of the ratio of a
percentile (median, p90) between candidate and baseline.

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
from scipy import stats

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
        order = np.argsort(ratios, kind="stable")
        cumulative = np.cumsum(probs[order])
        cumulative /= cumulative[-1]
        low, high = np.searchsorted(cumulative, [alpha, 1.0 - alpha])
        last = len(order) - 1
        return float(ratios[order[min(low, last)]]), float(ratios[order[min(high, last)]])


def percentile_distribution(samples: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap distribution of the q-th percentile (an order statistic) of ``samples``.

    Args:
        samples: The raw samples, any order.
        q: Percentile in (0, 100]; the k-th smallest with k = ceil(q n / 100) (inverted CDF).

    Returns:
        (values, probabilities): the values the percentile of a resample can take (sorted, ties kept
        apart) and how likely each is; values less likely than NEGLIGIBLE are left out.
    """
    ordered = np.sort(samples)
    n = len(ordered)
    k = max(1, math.ceil(q * n / 100.0))
    # P(k-th smallest of a resample <= ordered[j-1]) = P(Binomial(n, j/n) >= k), j = 1..n.
    cdf = stats.binom.sf(k - 1, n, np.arange(1, n + 1) / n)
    probs = np.diff(cdf, prepend=0.0)
    keep = probs > NEGLIGIBLE
    return ordered[keep], probs[keep]
