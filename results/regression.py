"""Compare a candidate run with a baseline run, target by target, and decide what regressed.

Records are matched by ``RunRecord.identity``. A median or p90 regression must be both larger than
the check's threshold (the size of change the team cares about) and significant on the raw samples at
``alpha`` (so noise alone cannot fail CI): a one-sided Mann-Whitney U for the median (a rank test: no
distribution assumed, robust to scheduler spikes), an exact bootstrap lower bound of the ratio for
p90 (a tail statistic a rank test does not address). Either alone cries wolf; requiring the bound to
clear 1 + threshold would instead let most regressions just above the threshold pass. Without raw
samples (device summaries) the threshold alone decides, with a note; accuracy, size, init and memory
are single values and use the threshold alone. docs/ci.md explains the rule in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from results.checks import Check
from results.schema import RunRecord, Status
from results.significance import MIN_SAMPLES, Evidence

ALPHA = 0.01
SPEED_BUCKETS = (">=10% faster", "2-10% faster", "within noise", "slower")


@dataclass(frozen=True)
class MetricResult:
    """One check applied to one target."""

    check: Check
    baseline: float
    candidate: float
    delta: float  # in the check's unit (%, points or absolute), signed naturally: + means it went up
    exceeded: bool  # worse than the threshold tolerates
    regressed: bool  # exceeded and, where tested, significant
    method: str  # "mann-whitney", "bootstrap" or "threshold"
    p_value: float | None = None  # one-sided, for median
    ci: tuple[float, float] | None = None  # ratio candidate / baseline, (alpha, 1 - alpha) quantiles


@dataclass(frozen=True)
class TargetResult:
    """Everything compared for one identity."""

    identity: tuple
    baseline_status: str | None  # None: the target is not in that run
    candidate_status: str | None
    metrics: tuple[MetricResult, ...] = ()
    problems: tuple[str, ...] = ()  # failures that are not metric checks: status flips, fallbacks, missing
    notes: tuple[str, ...] = ()
    bucket: str | None = None  # one of SPEED_BUCKETS when both medians exist
    median_delta_pct: float | None = None

    @property
    def regressed(self) -> bool:
        return bool(self.problems) or any(m.regressed for m in self.metrics)

    @property
    def label(self) -> str:
        """``variant · recipe · runner/device · delegate x threads``."""
        variant, recipe, runner, device, delegate, threads = self.identity
        return f"{variant} · {recipe or '-'} · {runner}/{device} · {delegate} x{threads}"

    @property
    def verdict(self) -> str:
        if self.regressed:
            return "regressed"
        if self.baseline_status is None:
            return "new"
        if self.candidate_status is None:
            return "missing"
        return "ok"


@dataclass(frozen=True)
class Comparison:
    """A candidate run against a baseline run."""

    baseline_run: str
    candidate_run: str
    baseline_commit: str | None
    candidate_commit: str | None
    checks: tuple[Check, ...]
    alpha: float
    targets: tuple[TargetResult, ...] = field(default=())

    @property
    def regressions(self) -> list[TargetResult]:
        return [t for t in self.targets if t.regressed]

    @property
    def exit_code(self) -> int:
        """1 when anything regressed, else 0 (the CLI's contract)."""
        return 1 if self.regressions else 0


def compare_runs(
    baseline: list[RunRecord],
    candidate: list[RunRecord],
    checks: tuple[Check, ...],
    alpha: float = ALPHA,
    allow_missing: bool = False,
) -> Comparison:
    """Match two runs' records by identity and apply the checks.

    Args:
        baseline: The records of the baseline run (one run).
        candidate: The records of the candidate run.
        checks: From :func:`results.checks.parse_checks`.
        alpha: Significance level of the latency tests.
        allow_missing: Report targets missing from the candidate without failing. By default they
            fail: a benchmark that died half-way must not pass by having measured less.

    Returns:
        The comparison, targets sorted by identity.
    """
    base, base_notes = _by_identity(baseline)
    cand, cand_notes = _by_identity(candidate)
    targets = []
    for identity in sorted(set(base) | set(cand), key=lambda key: tuple(map(str, key))):
        notes = base_notes.get(identity, []) + cand_notes.get(identity, [])
        result = _compare_target(
            identity, base.get(identity), cand.get(identity), checks, alpha, allow_missing
        )
        targets.append(_with_notes(result, notes))
    return Comparison(
        baseline_run=_run_id(baseline),
        candidate_run=_run_id(candidate),
        baseline_commit=baseline[0].git_commit if baseline else None,
        candidate_commit=candidate[0].git_commit if candidate else None,
        checks=checks,
        alpha=alpha,
        targets=tuple(targets),
    )


def _run_id(records: list[RunRecord]) -> str:
    return records[0].run_id if records else "(empty)"


def _with_notes(result: TargetResult, notes: list[str]) -> TargetResult:
    return replace(result, notes=(*notes, *result.notes)) if notes else result


def _match_key(record: RunRecord) -> tuple:
    """``record.identity``, with a simulated target's device marked so (issue 20, simulated records).

    An emulator or simulator record is never paired with a phone's baseline, even where both carry the
    same device id. Kept to this one function so it moves with identity into results/identity.py.
    """
    key = record.identity
    if not record.target.simulated:
        return key
    variant, recipe, runner, device, delegate, threads = key
    return (variant, recipe, runner, f"{device} (simulated)", delegate, threads)


def _by_identity(records: list[RunRecord]) -> tuple[dict[tuple, RunRecord], dict[tuple, list[str]]]:
    """The newest record per identity, and a note where a run measured one identity several times."""
    newest: dict[tuple, RunRecord] = {}
    counts: dict[tuple, int] = {}
    for record in records:
        key = _match_key(record)
        counts[key] = counts.get(key, 0) + 1
        if key not in newest or record.created_at >= newest[key].created_at:
            newest[key] = record
    notes = {
        key: [f"run {newest[key].run_id} measured this target {n} times; compared the newest"]
        for key, n in counts.items()
        if n > 1
    }
    return newest, notes


def _compare_target(
    identity: tuple,
    base: RunRecord | None,
    cand: RunRecord | None,
    checks: tuple[Check, ...],
    alpha: float,
    allow_missing: bool,
) -> TargetResult:
    if base is None or cand is None:
        status = (base or cand).status.value  # type: ignore[union-attr]
        if cand is None:
            # Only a target that worked can regress by vanishing (an unsupported one may just be skipped).
            message = "missing from the candidate run"
            fails = base.status is Status.OK and not allow_missing  # type: ignore[union-attr]
            problems, notes = ((message,), ()) if fails else ((), (message,))
            return TargetResult(identity, status, None, problems=problems, notes=notes)
        return TargetResult(identity, None, status, notes=("new target: not in the baseline run",))
    problems, notes = _status_and_fallback(base, cand)
    evidence = None
    if base.timing is not None and cand.timing is not None:
        evidence = Evidence.of(base.timing.samples_ms, cand.timing.samples_ms)
    metrics = []
    for check in checks:
        result, note = _apply_check(check, base, cand, evidence, alpha)
        metrics += [result] if result else []
        notes += [note] if note else []
    bucket, median_delta = _speed_bucket(base, cand, evidence, alpha)
    return TargetResult(
        identity,
        base.status.value,
        cand.status.value,
        metrics=tuple(metrics),
        problems=tuple(problems),
        notes=tuple(notes),
        bucket=bucket,
        median_delta_pct=median_delta,
    )


def _status_and_fallback(base: RunRecord, cand: RunRecord) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    notes: list[str] = []
    if base.status is Status.OK and cand.status is not Status.OK:
        error = cand.error
        reason = f": {error.type}: {error.message}" if error else ""
        problems.append(f"status ok -> {cand.status.value}{reason}")
    elif base.status is not Status.OK and cand.status is Status.OK:
        notes.append(f"fixed: status {base.status.value} -> ok")
    elif base.status is not cand.status:
        notes.append(f"status {base.status.value} -> {cand.status.value}")
    if cand.fallback is not None and (
        base.fallback is None or (cand.fallback.full and not base.fallback.full)
    ):
        kind = "full" if cand.fallback.full else "partial"
        problems.append(f"new {kind} delegate fallback: {cand.fallback.detail}")
    elif base.fallback is not None and cand.fallback is None:
        notes.append("delegate fallback gone")
    return problems, notes


def _apply_check(check: Check, base: RunRecord, cand: RunRecord, evidence: Evidence | None, alpha: float):
    """One check on one matched pair: (MetricResult or None, note or None)."""
    name = check.metric.name
    datasets = {r.accuracy.dataset_id for r in (base, cand) if r.accuracy is not None}
    if check.metric.is_accuracy and len(datasets) > 1:
        return None, f"{name}: not compared, measured on different datasets ({', '.join(sorted(datasets))})"
    b, c = check.metric.value(base), check.metric.value(cand)
    if b is None or c is None:
        # A record that did not end ok explains its missing timings already (status flip or note).
        quiet = (
            (b is None and c is None)
            or Status.OK not in (base.status, cand.status)
            or base.status != cand.status
        )
        return (
            None,
            None if quiet else f"{name}: not measured in the {'baseline' if b is None else 'candidate'}",
        )
    exceeded = check.exceeded(b, c)
    common = {"check": check, "baseline": b, "candidate": c, "delta": check.delta(b, c), "exceeded": exceeded}
    if check.metric.trace is not None:
        return _trace_tested(common, check.metric.trace(base), check.metric.trace(cand), alpha)
    if not check.metric.sampled:
        return MetricResult(**common, regressed=exceeded, method="threshold"), None
    if evidence is None:
        note = f"{name}: no raw samples (device summary), threshold only"
        return MetricResult(**common, regressed=exceeded, method="threshold"), note
    return _tested(common, evidence, alpha), None


def _trace_tested(common: dict, base: list[float], cand: list[float], alpha: float):
    """A metric with its own raw trace (energy per inference of each power reading): threshold AND a
    one-sided Mann-Whitney U on the traces, or the threshold alone when a side has too few readings."""
    evidence = Evidence.of(base, cand)
    if evidence is None:
        name = common["check"].metric.name
        note = f"{name}: fewer than {MIN_SAMPLES} readings on a side, threshold only"
        return MetricResult(**common, regressed=common["exceeded"], method="threshold"), note
    regressed = common["exceeded"] and evidence.p_slower < alpha
    return MetricResult(**common, regressed=regressed, method="mann-whitney", p_value=evidence.p_slower), None


def _tested(common: dict, evidence: Evidence, alpha: float) -> MetricResult:
    """Threshold AND significance: Mann-Whitney U for the median, a bootstrap bound for p90."""
    median = common["check"].metric.name == "median"
    ci = evidence.ratio_interval(50.0 if median else 90.0, alpha)
    if median:
        regressed = common["exceeded"] and evidence.p_slower < alpha
        return MetricResult(
            **common, regressed=regressed, method="mann-whitney", p_value=evidence.p_slower, ci=ci
        )
    regressed = common["exceeded"] and ci[0] > 1.0
    return MetricResult(**common, regressed=regressed, method="bootstrap", ci=ci)


def _speed_bucket(
    base: RunRecord, cand: RunRecord, evidence: Evidence | None, alpha: float
) -> tuple[str | None, float | None]:
    """Bucket the median change; without raw samples the size of the change alone decides."""
    b, c = base.timing and base.timing.median_ms, cand.timing and cand.timing.median_ms
    if not b or not c:
        return None, None
    delta = (c / b - 1.0) * 100.0
    slower_ok = evidence is None or evidence.p_slower < alpha
    faster_ok = evidence is None or evidence.p_faster < alpha
    if delta <= -10.0 and faster_ok:
        return SPEED_BUCKETS[0], delta
    if delta <= -2.0 and faster_ok:
        return SPEED_BUCKETS[1], delta
    if delta >= 2.0 and slower_ok:
        return SPEED_BUCKETS[3], delta
    return SPEED_BUCKETS[2], delta
