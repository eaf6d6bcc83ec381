"""Matching and decisions of results.regression on hand-built records (seeded synthetic samples).

The same rules on real LiteRT timings are in test_regression_real.py.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from results.checks import parse_checks
from results.regression import SPEED_BUCKETS, compare_runs
from results.schema import (
    AccuracyInfo,
    ArtifactInfo,
    ErrorInfo,
    FallbackInfo,
    ModelInfo,
    RunRecord,
    TargetInfo,
    Timing,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHECKS = parse_checks("mAP:-0.5pt,median:5%,p90:10%,size:0")


ACCURACY = {
    "map50": 0.5,
    "map75": 0.3,
    "map_small": 0.1,
    "map_medium": 0.2,
    "map_large": 0.4,
    "ar1": 0.2,
    "ar10": 0.3,
    "ar100": 0.4,
}


def make(
    run_id,
    variant="ssd_tiny",
    *,
    samples=None,
    summary=None,
    status="ok",
    map_=0.30,
    size=100_000,
    fallback=None,
    dataset="synthetic-1",
    minutes=0,
    delegate="xnnpack",
):
    """One record; timing from raw samples, or from a device-style summary, or none."""
    timing = Timing(samples_ms=list(samples)) if samples is not None else None
    timing = Timing(**summary) if summary is not None else timing
    error = None if status == "ok" else ErrorInfo(type="SIGSEGV", message="killed by SIGSEGV")
    accuracy = None if map_ is None else AccuracyInfo(dataset_id=dataset, map=map_, **ACCURACY)
    return RunRecord(
        run_id=run_id,
        created_at=T0 + timedelta(minutes=minutes),
        model=ModelInfo(variant=variant),
        artifact=ArtifactInfo(
            recipe="tflite_int8", path=f"{variant}.tflite", sha256="0" * 64, size_bytes=size
        ),
        target=TargetInfo(runner="host", delegate=delegate, threads=2),
        timing=timing if status == "ok" else None,
        accuracy=accuracy,
        status=status,
        error=error,
        fallback=fallback,
    )


def latency(seed, n=80, scale=1.0, median=2.0, spread=0.03):
    rng = np.random.default_rng(seed)
    return rng.lognormal(np.log(median), spread, n) * scale


def only(comparison):
    (target,) = comparison.targets
    return target


def metric(target, name):
    return next(m for m in target.metrics if m.check.metric.name == name)


def test_unchanged_target_passes_and_is_within_noise():
    result = only(compare_runs([make("a", samples=latency(1))], [make("b", samples=latency(2))], CHECKS))
    assert not result.regressed and result.verdict == "ok"
    assert result.bucket == "within noise"
    assert metric(result, "median").method == "mann-whitney"


def test_ten_percent_slowdown_is_flagged_with_evidence():
    comparison = compare_runs(
        [make("a", samples=latency(1))], [make("b", samples=latency(2, scale=1.10))], CHECKS
    )
    median = metric(only(comparison), "median")
    assert median.regressed and median.exceeded
    assert median.p_value < 1e-6 and median.ci[0] > 1.0
    assert comparison.exit_code == 1
    assert only(comparison).bucket == "slower"


def test_big_change_on_few_overlapping_samples_is_not_significant():
    # The median moved +10 % but five noisy samples per side cannot show it: threshold alone would fail.
    base, cand = [1.0, 2.0, 3.0, 4.0, 5.0], [1.2, 2.2, 3.3, 4.4, 5.5]
    median = metric(
        only(compare_runs([make("a", samples=base)], [make("b", samples=cand)], CHECKS)), "median"
    )
    assert median.exceeded and not median.regressed
    assert median.p_value > 0.01


def test_significant_but_small_change_is_not_a_regression():
    # With 2,000 tight samples a 1 % shift is "significant", but below the 5 % the team tolerates.
    base, cand = latency(1, n=2000, spread=0.005), latency(2, n=2000, spread=0.005, scale=1.01)
    median = metric(
        only(compare_runs([make("a", samples=base)], [make("b", samples=cand)], CHECKS)), "median"
    )
    assert median.p_value < 1e-6
    assert not median.exceeded and not median.regressed


def test_tail_only_regression_is_caught_by_p90_not_median():
    rng = np.random.default_rng(3)
    base = latency(1, n=200)
    cand = latency(2, n=200)
    slow = rng.random(200) < 0.2  # a fifth of the runs hit a slow path
    cand[slow] *= 1.5
    result = only(compare_runs([make("a", samples=base)], [make("b", samples=cand)], CHECKS))
    assert metric(result, "p90").regressed and metric(result, "p90").method == "bootstrap"
    assert not metric(result, "median").regressed


def test_one_point_map_drop_is_flagged_and_half_a_point_is_tolerated():
    base = make("a", map_=0.300)
    assert metric(only(compare_runs([base], [make("b", map_=0.290)], CHECKS)), "mAP").regressed
    tolerated = metric(only(compare_runs([base], [make("b", map_=0.295)], CHECKS)), "mAP")
    assert not tolerated.regressed and tolerated.delta == pytest.approx(-0.5)


def test_any_growth_fails_size_zero():
    assert only(compare_runs([make("a")], [make("b", size=100_001)], CHECKS)).regressed
    assert not only(compare_runs([make("a")], [make("b", size=99_000)], CHECKS)).regressed


@pytest.mark.parametrize("flipped", ["failed", "crashed", "unsupported"])
def test_status_flip_from_ok_is_flagged(flipped):
    result = only(compare_runs([make("a", samples=latency(1))], [make("b", status=flipped)], CHECKS))
    assert result.regressed
    assert result.problems[0].startswith(f"status ok -> {flipped}: SIGSEGV")


def test_fixed_target_is_noted_not_failed():
    result = only(compare_runs([make("a", status="crashed")], [make("b", samples=latency(1))], CHECKS))
    assert not result.regressed and "fixed: status crashed -> ok" in result.notes


def test_new_delegate_fallback_is_flagged_and_a_gone_one_noted():
    partial = FallbackInfo(full=False, detail="3 of 64 ops on CPU")
    full = FallbackInfo(full=True, detail="delegate took nothing")
    assert (
        "new partial delegate fallback"
        in only(compare_runs([make("a")], [make("b", fallback=partial)], CHECKS)).problems[0]
    )
    assert only(compare_runs([make("a", fallback=partial)], [make("b", fallback=full)], CHECKS)).regressed
    gone = only(compare_runs([make("a", fallback=partial)], [make("b")], CHECKS))
    assert not gone.regressed and "delegate fallback gone" in gone.notes


def test_missing_target_fails_unless_allowed_and_new_target_is_noted():
    base = [make("a", "m1"), make("a", "m2")]
    cand = [make("b", "m1"), make("b", "m3")]
    comparison = compare_runs(base, cand, CHECKS)
    verdicts = {t.identity.model: t.verdict for t in comparison.targets}
    assert verdicts == {"m1": "ok", "m2": "regressed", "m3": "new"}
    allowed = compare_runs(base, cand, CHECKS, allow_missing=True)
    assert allowed.exit_code == 0
    assert {t.identity.model: t.verdict for t in allowed.targets}["m2"] == "missing"
    never_worked = compare_runs([*base, make("a", "m4", status="unsupported")], cand, CHECKS)
    assert {t.identity.model: t.verdict for t in never_worked.targets}["m4"] == "missing"


def test_device_summary_falls_back_to_threshold_with_a_note():
    base = make("a", summary={"median_ms": 10.0})
    result = only(compare_runs([base], [make("b", summary={"median_ms": 10.4})], CHECKS))
    assert not result.regressed and metric(result, "median").method == "threshold"
    assert "median: no raw samples (device summary), threshold only" in result.notes
    assert only(compare_runs([base], [make("b", summary={"median_ms": 10.6})], CHECKS)).regressed


def test_accuracy_on_different_datasets_is_not_compared():
    result = only(compare_runs([make("a")], [make("b", map_=0.1, dataset="coco-val")], CHECKS))
    assert not result.regressed
    assert any("different datasets" in note for note in result.notes)


def test_accuracy_no_longer_measured_is_noted():
    result = only(compare_runs([make("a")], [make("b", map_=None)], CHECKS))
    assert "mAP: not measured in the candidate" in result.notes


def test_repeated_target_uses_the_newest_record():
    base = [make("a", samples=latency(1))]
    cand = [make("b", samples=latency(2, scale=1.3), minutes=1), make("b", samples=latency(3), minutes=2)]
    result = only(compare_runs(base, cand, CHECKS))
    assert not result.regressed
    assert result.notes[0] == "run b measured this target 2 times; compared the newest"


@pytest.mark.parametrize(
    ("scale", "bucket"),
    [(0.80, SPEED_BUCKETS[0]), (0.95, SPEED_BUCKETS[1]), (1.0, SPEED_BUCKETS[2]), (1.03, SPEED_BUCKETS[3])],
)
def test_speed_buckets(scale, bucket):
    base, cand = make("a", samples=latency(1, n=200)), make("b", samples=latency(2, n=200, scale=scale))
    assert only(compare_runs([base], [cand], CHECKS)).bucket == bucket


def test_targets_are_matched_by_identity_not_by_order():
    base = [make("a", "m1", delegate="cpu", samples=latency(1)), make("a", "m1", samples=latency(2))]
    cand = [
        make("b", "m1", samples=latency(3, scale=1.2)),
        make("b", "m1", delegate="cpu", samples=latency(4)),
    ]
    comparison = compare_runs(base, cand, CHECKS)
    regressed = {t.identity.delegate: t.regressed for t in comparison.targets}
    assert regressed == {"cpu": False, "xnnpack": True}
