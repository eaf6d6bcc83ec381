"""Crash isolation: whatever the timing child does, the parent gets a record and the next job runs."""

from __future__ import annotations

import signal

import pytest

from common import process
from device_runners import isolation
from device_runners.base import TimingJob
from device_runners.host import HostRunner
from results.schema import Delegate, Status, TargetInfo, TimingSettings
from results.sidecar import file_artifact_info

TARGET = TargetInfo(runner="host", delegate=Delegate.XNNPACK, threads=1)
SETTINGS = TimingSettings(min_runs=3)


def good_result(**changes) -> dict:
    result = {
        "protocol": 1,
        "ok": True,
        "delegate": "xnnpack",
        "samples_ms": [2.0, 1.0, 3.0],
        "warmup_samples_ms": [5.0],
        "init_ms": 7.5,
        "first_inference_ms": 5.0,
        "peak_rss_mb": 60.0,
        "ops_total": 8,
        "ops_outside_delegate": 0,
        "outside_ops": [],
        "delegate_partitions": 1,
        "runtime": {"litert": "ai_edge_litert 2.3.0", "python": "3.11.7"},
    }
    return {**result, **changes}


def job_for(path, delegate: Delegate, settings: TimingSettings) -> TimingJob:
    return TimingJob(artifact=file_artifact_info(path), delegate=delegate, threads=1, settings=settings)


def test_a_good_result_becomes_an_ok_outcome_with_derived_statistics():
    outcome = isolation.outcome_from_result(good_result(), TARGET, SETTINGS)
    assert outcome.status is Status.OK and outcome.fallback is None
    assert (outcome.timing.median_ms, outcome.timing.min_ms, outcome.timing.max_ms) == (2.0, 1.0, 3.0)
    assert outcome.timing.init_ms == 7.5 and outcome.timing.peak_memory_mb == 60.0
    assert outcome.tools.litert == "ai_edge_litert 2.3.0"


def test_ops_the_delegate_declined_become_a_partial_fallback():
    result = good_result(ops_outside_delegate=1, outside_ops=["TFLite_Detection_PostProcess"])
    fallback = isolation.outcome_from_result(result, TARGET, SETTINGS).fallback
    assert fallback.full is False
    assert fallback.detail == "1 of 8 ops outside xnnpack: TFLite_Detection_PostProcess"


def test_a_delegate_that_took_nothing_is_a_full_fallback():
    result = good_result(
        ops_total=2, ops_outside_delegate=2, outside_ops=["CUMSUM", "CUMSUM"], delegate_partitions=0
    )
    fallback = isolation.outcome_from_result(result, TARGET, SETTINGS).fallback
    assert fallback.full is True and "CUMSUM x2" in fallback.detail


def test_a_result_reporting_an_error_is_failed():
    result = good_result(ok=False, error={"type": "ValueError", "message": "bad flatbuffer"})
    outcome = isolation.outcome_from_result(result, TARGET, SETTINGS, stderr="line one\nline two\n")
    assert outcome.status is Status.FAILED and outcome.timing is None
    assert outcome.error.type == "ValueError" and "bad flatbuffer" in outcome.error.message
    assert outcome.error.stderr_tail == "line one\nline two"


@pytest.mark.parametrize("broken", [{"samples_ms": []}, {"samples_ms": "fast"}, {"init_ms": "slow"}])
def test_a_malformed_result_is_failed_not_raised(broken):
    outcome = isolation.outcome_from_result(good_result(**broken), TARGET, SETTINGS)
    assert outcome.status is Status.FAILED and outcome.error.type == "WorkerOutputError"


def test_a_result_without_samples_key_is_failed():
    result = good_result()
    del result["samples_ms"]
    assert isolation.outcome_from_result(result, TARGET, SETTINGS).status is Status.FAILED


def test_failures_map_to_crashed_or_failed():
    segv = process.CommandError(["python", "worker.py"], -signal.SIGSEGV, "", "boom\n")
    crashed = isolation.outcome_from_failure(segv, TARGET)
    assert crashed.status is Status.CRASHED
    assert (crashed.error.type, crashed.error.signal, crashed.error.stderr_tail) == ("SIGSEGV", 11, "boom")
    exited = isolation.outcome_from_failure(
        process.CommandError(["w"], 3, "", "Traceback\nKeyError: x\n"), TARGET
    )
    assert exited.status is Status.FAILED and exited.error.returncode == 3
    assert exited.error.message.endswith("KeyError: x")
    late = isolation.outcome_from_failure(process.CommandTimeout(["w"], 5.0, "", ""), TARGET)
    assert (
        late.status is Status.FAILED and late.error.type == "CommandTimeout" and "5 s" in late.error.message
    )
    missing = isolation.outcome_from_failure(isolation.WorkerOutputError("no file"), TARGET, ["w"])
    assert missing.status is Status.FAILED and missing.error.type == "WorkerOutputError"


def test_worker_args_carry_every_setting():
    settings = TimingSettings(
        warmup_runs=2, warmup_min_secs=0.1, min_runs=9, min_secs=0.2, max_runs=11, max_secs=3
    )
    args = isolation.worker_args("m.tflite", "cpu", 4, settings, "out.json")
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    assert pairs == {
        "--model": "m.tflite",
        "--delegate": "cpu",
        "--threads": "4",
        "--out": "out.json",
        "--warmup-runs": "2",
        "--warmup-min-secs": "0.1",
        "--min-runs": "9",
        "--min-secs": "0.2",
        "--max-secs": "3.0",
        "--cooldown-secs": "0.0",
        "--max-runs": "11",
    }


@pytest.mark.parametrize(
    ("hook", "signal_name"),
    [("segv", "SIGSEGV"), ("abort", "SIGABRT"), ("kill", "SIGKILL")],
)
def test_a_child_killed_by_a_signal_is_a_crashed_record_and_the_next_job_runs(
    tflite_models, quick, monkeypatch, hook, signal_name
):
    monkeypatch.setenv("EDGEBENCH_TEST_CRASH", f"{hook}:xnnpack")
    runner = HostRunner()
    crashed = runner.time(job_for(tflite_models["tiny_float"], Delegate.XNNPACK, quick))
    following = runner.time(job_for(tflite_models["tiny_float"], Delegate.CPU, quick))
    assert crashed.status is Status.CRASHED and crashed.timing is None
    assert crashed.error.type == signal_name
    assert crashed.error.signal == getattr(signal, signal_name).value
    assert "test hook" in crashed.error.stderr_tail
    assert following.status is Status.OK and following.timing.median_ms > 0


def test_a_child_exiting_non_zero_is_failed_with_its_stderr(tflite_models, quick, monkeypatch):
    monkeypatch.setenv("EDGEBENCH_TEST_CRASH", "exit")
    record = HostRunner().time(job_for(tflite_models["tiny_float"], Delegate.CPU, quick))
    assert record.status is Status.FAILED and record.error.type == "CommandError"
    assert record.error.returncode == 5 and "dying by exit" in record.error.stderr_tail


def test_a_child_that_hangs_is_killed_and_failed(tflite_models, monkeypatch):
    monkeypatch.setenv("EDGEBENCH_TEST_CRASH", "hang")
    monkeypatch.setattr(isolation, "STARTUP_ALLOWANCE_SECS", 2.0)
    settings = TimingSettings(warmup_min_secs=0, min_runs=1, min_secs=0, max_secs=0.5)
    record = HostRunner().time(job_for(tflite_models["tiny_float"], Delegate.CPU, settings))
    assert record.status is Status.FAILED and record.error.type == "CommandTimeout"
