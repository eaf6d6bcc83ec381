"""The regression-check grammar of ``edgebench compare --checks``: ``metric:threshold`` tokens.

``mAP:-0.5pt,median:5%,size:0`` reads "fail if mAP drops by more than 0.5 points, if the median
latency grows by more than 5 %, or if the file grows at all". A threshold is the worsening tolerated:
``pt`` is absolute accuracy points (accuracy metrics only), ``%`` is relative to the baseline, and a
plain number is absolute in the metric's own unit (ms, bytes, MB, mJ, %/h, s; not accuracy, where
``0.5`` would be ambiguous between a fraction and points). A sign is optional; when written it must
point the way that is worse (``-`` for accuracy and throttling onset, ``+`` for latency, size, memory,
energy and drain). ``energy:10%`` (energy per inference above idle) and ``throttle:-20%`` (seconds
until latency rose 10 % above its first minute; a run that never throttled counts as its length)
read sustained runs' ``energy`` part.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from common.errors import InputError, choice_error
from results.schema import RunRecord

DEFAULT_CHECKS = "mAP:-0.5pt,median:5%,size:0"


def _accuracy(field: str) -> Callable[[RunRecord], float | None]:
    return lambda r: getattr(r.accuracy, field) if r.accuracy is not None else None


def _timing(field: str) -> Callable[[RunRecord], float | None]:
    return lambda r: getattr(r.timing, field) if r.timing is not None else None


def _energy(field: str) -> Callable[[RunRecord], float | None]:
    def value(r: RunRecord) -> float | None:
        figures = r.energy.figures if r.energy is not None else None
        return getattr(figures, field) if figures is not None else None

    return value


def _throttle_onset(r: RunRecord) -> float | None:
    """Seconds until throttling; a run that never throttled counts as its whole length (censored)."""
    figures = r.energy.figures if r.energy is not None else None
    if figures is None:
        return None
    return figures.throttle_onset_s if figures.throttle_onset_s is not None else figures.duration_secs


def _energy_trace(r: RunRecord) -> list[float]:
    """Energy per inference of each power reading (mJ): the samples the energy check is tested on."""
    info = r.energy
    figures = info.figures if info is not None else None
    if figures is None or info.trace is None or figures.idle_mw is None or figures.achieved_fps <= 0:
        return []
    return [(p - figures.idle_mw) / figures.achieved_fps for p in info.trace.power_mw]


@dataclass(frozen=True)
class Metric:
    """Something a check can watch."""

    name: str  # as written in --checks and shown in reports
    unit: str  # of absolute values: "ms", "bytes", "MB"; "" for accuracy fractions
    higher_is_better: bool
    value: Callable[[RunRecord], float | None]  # reads it from a record; None when not measured
    sampled: bool = False  # a statistic of timing.samples_ms, so it can be tested for significance
    trace: Callable[[RunRecord], list[float]] | None = None  # other raw samples it is tested on

    @property
    def is_accuracy(self) -> bool:
        return self.higher_is_better and self.unit == ""


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("mAP", "", True, _accuracy("map")),
        Metric("mAP50", "", True, _accuracy("map50")),
        Metric("AR100", "", True, _accuracy("ar100")),
        Metric("median", "ms", False, _timing("median_ms"), sampled=True),
        Metric("p90", "ms", False, _timing("p90_ms"), sampled=True),
        Metric("init", "ms", False, _timing("init_ms")),
        Metric("size", "bytes", False, lambda r: r.artifact.size_bytes),
        Metric("gzip", "bytes", False, lambda r: r.artifact.gzip_bytes),
        Metric("memory", "MB", False, _timing("peak_memory_mb")),
        # Sustained runs with power sampling (results/energy.py).
        Metric("energy", "mJ", False, _energy("energy_per_inference_mj"), trace=_energy_trace),
        Metric("drain", "%/h", False, _energy("drain_pct_per_hour")),
        Metric("throttle", "s", True, _throttle_onset),  # onset: later is better
    )
}

FORMS = (
    "METRIC:THRESHOLD, comma-separated; THRESHOLD is Npt (absolute accuracy points, accuracy metrics only), "
    "N% (relative to the baseline) or N (absolute: ms for median/p90/init, bytes for size/gzip, "
    "MB for memory, mJ per inference for energy, % per hour for drain, seconds for throttle onset)"
)
_TOKEN = re.compile(
    r"^(?P<metric>[A-Za-z0-9_]+):(?P<sign>[+-]?)(?P<number>\d+(?:\.\d*)?|\.\d+)(?P<unit>pt|%)?$"
)
_MODES = {"pt": "points", "%": "relative", None: "absolute"}


@dataclass(frozen=True)
class Check:
    """One parsed ``metric:threshold`` token."""

    metric: Metric
    threshold: float  # the worsening tolerated, >= 0, in the unit of `mode`
    mode: str  # "points" (accuracy points), "relative" (percent) or "absolute" (the metric's unit)

    @property
    def text(self) -> str:
        """The canonical token, e.g. ``mAP:-0.5pt`` or ``median:5%``."""
        sign = "-" if self.metric.higher_is_better else ""
        suffix = {"points": "pt", "relative": "%", "absolute": ""}[self.mode]
        return f"{self.metric.name}:{sign}{self.threshold:g}{suffix}"

    def delta(self, baseline: float, candidate: float) -> float:
        """The change from baseline to candidate in this check's unit, signed naturally (up is +)."""
        if self.mode == "points":
            return (candidate - baseline) * 100.0
        if self.mode == "relative":
            if baseline == 0:
                return 0.0 if candidate == 0 else float("inf") * (1 if candidate > 0 else -1)
            return (candidate / baseline - 1.0) * 100.0
        return candidate - baseline

    def exceeded(self, baseline: float, candidate: float) -> bool:
        """Whether the candidate is worse than the baseline by more than the threshold."""
        worse_by = self.delta(baseline, candidate) * (-1 if self.metric.higher_is_better else 1)
        # The epsilon keeps "exactly at the threshold" a pass despite float rounding (0.3 - 0.295).
        return worse_by > self.threshold + 1e-9


def parse_checks(text: str) -> tuple[Check, ...]:
    """Parse ``--checks``.

    Args:
        text: Comma-separated ``metric:threshold`` tokens, e.g. ``mAP:-0.5pt,median:5%,size:0``.

    Returns:
        The checks, in the order given.

    Raises:
        InputError: a malformed token (named, with the allowed forms), an unknown metric, a unit
            that does not fit the metric, a sign pointing the better way, or a metric given twice.
    """
    tokens = [token.strip() for token in text.split(",")]
    if not text.strip() or any(not token for token in tokens):
        raise InputError(f"--checks: got {text!r}, which has an empty token; expected {FORMS}")
    checks = [_parse_token(token) for token in tokens]
    names = [check.metric.name for check in checks]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"--checks: metric(s) {', '.join(repeated)} given more than once in {text!r}")
    return tuple(checks)


def _parse_token(token: str) -> Check:
    match = _TOKEN.match(token.replace(" ", ""))
    if match is None:
        raise InputError(f"--checks: cannot read {token!r}; expected {FORMS}")
    by_lower = {name.lower(): metric for name, metric in METRICS.items()}
    metric = by_lower.get(match["metric"].lower())
    if metric is None:
        raise choice_error(f"--checks metric in {token!r}", match["metric"], list(METRICS))
    mode = _MODES[match["unit"]]
    if mode == "points" and not metric.is_accuracy:
        raise InputError(f"--checks: {token!r}: 'pt' is for accuracy metrics; use N% or N {metric.unit}")
    if mode == "absolute" and metric.is_accuracy:
        raise InputError(
            f"--checks: {token!r}: accuracy thresholds need 'pt' or '%', e.g. {metric.name}:-0.5pt"
        )
    worse_sign = "-" if metric.higher_is_better else "+"
    if match["sign"] and match["sign"] != worse_sign:
        raise InputError(
            f"--checks: {token!r}: the threshold is the worsening tolerated, so its sign, if any, "
            f"must be {worse_sign!r} for {metric.name}"
        )
    return Check(metric=metric, threshold=float(match["number"]), mode=mode)
