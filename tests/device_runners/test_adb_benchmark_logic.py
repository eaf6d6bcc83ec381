"""benchmark_model command lines, fallback decisions and record timings, without a device."""

from __future__ import annotations

import pytest
from dr_helpers import recorded

from device_runners.adb_benchmark import (
    benchmark_argv,
    fallback_info,
    rejected_optional_flags,
    timing_from_output,
)
from device_runners.benchmark_model_output import parse
from device_runners.benchmark_result_proto import BenchmarkResult
from device_runners.sustained import ChunkFailed, SustainedPlan, run_sustained
from results.schema import Delegate, TimingSettings

SETTINGS = TimingSettings(warmup_runs=2, warmup_min_secs=0.25, min_runs=40, min_secs=2.5, max_secs=90)


def test_argv_maps_settings_and_delegates():
    argv = benchmark_argv("/d/benchmark_model", "/d/m.tflite", Delegate.CPU, 4, SETTINGS)
    assert argv == [
        "/d/benchmark_model",
        "--graph=/d/m.tflite",
        "--num_threads=4",
        "--warmup_runs=2",
        "--warmup_min_secs=0.25",
        "--num_runs=40",
        "--min_secs=2.5",
        "--max_secs=90",
        "--use_xnnpack=false",
    ]
    gpu = benchmark_argv("b", "m", Delegate.GPU, 1, SETTINGS, result_file="/d/r.pb", extra_flags=("--x=1",))
    assert gpu[-4:] == [
        "--use_gpu=true",
        "--result_file_path=/d/r.pb",
        "--report_peak_memory_footprint=true",
        "--x=1",
    ]
    assert "--use_nnapi=true" in benchmark_argv("b", "m", Delegate.NNAPI, 1, SETTINGS)
    chunk = benchmark_argv(
        "b", "m", Delegate.XNNPACK, 1, SETTINGS, overrides={"num_runs": "7", "run_delay": "0.02"}
    )
    assert "--num_runs=7" in chunk and "--run_delay=0.02" in chunk and "--num_runs=40" not in chunk


def test_rejected_optional_flags():
    assert rejected_optional_flags(parse(recorded("bm_unconsumed.txt")))
    assert not rejected_optional_flags(parse(recorded("bm_xnnpack.txt")))


@pytest.mark.parametrize(
    ("recording", "delegate", "full", "words"),
    [
        ("bm_cpu_scientific.txt", Delegate.CPU, None, ""),
        ("bm_cpu_scientific.txt", Delegate.XNNPACK, None, ""),  # old binaries say nothing of XNNPack
        ("bm_cpu_scientific.txt", Delegate.GPU, True, "never applied the GPU delegate"),
        ("bm_gpu_declined.txt", Delegate.GPU, True, "declined the whole graph"),
        (
            "bm_gpu_partial.txt",
            Delegate.GPU,
            False,
            "3 of 64 ops outside the GPU delegate (1 delegate kernels)",
        ),
        ("bm_logcat.txt", Delegate.GPU, False, "3 of 64 ops outside the GPU delegate"),
        ("bm_xnnpack.txt", Delegate.XNNPACK, False, "1 of 64 ops outside the XNNPACK delegate"),
        ("bm_no_memory.txt", Delegate.XNNPACK, None, ""),
        ("bm_nnapi_full.txt", Delegate.NNAPI, None, ""),
        ("bm_nnapi_full.txt", Delegate.GPU, True, "never applied"),
    ],
)
def test_fallback(recording, delegate, full, words):
    fallback = fallback_info(parse(recorded(recording)), delegate)
    assert (fallback.full if fallback else None) is full
    if fallback:
        assert words in fallback.detail


def test_timing_from_stdout_in_milliseconds():
    timing = timing_from_output(parse(recorded("bm_gpu_partial.txt")), None, SETTINGS, Delegate.GPU)
    assert timing.mean_ms == pytest.approx(7.8742) and timing.median_ms == pytest.approx(7.82)
    assert timing.min_ms == pytest.approx(7.588) and timing.max_ms == pytest.approx(9.313)
    assert timing.std_ms == pytest.approx(0.236) and timing.p90_ms is None  # never invented
    assert timing.init_ms == pytest.approx(812.443) and timing.first_inference_ms == pytest.approx(24.567)
    assert timing.peak_memory_mb == pytest.approx(192.148)
    assert (timing.ops_total, timing.ops_outside_delegate) == (64, 3)
    assert timing.samples_ms == [] and timing.settings == SETTINGS


def test_timing_drops_nan_and_inf_and_falls_back_on_older_lines():
    timing = timing_from_output(parse(recorded("bm_nan_inf.txt")), None, SETTINGS, Delegate.CPU)
    assert timing.mean_ms is None and timing.std_ms is None and timing.max_ms is None
    assert timing.median_ms == pytest.approx(0.801) and timing.peak_memory_mb is None
    old = timing_from_output(parse(recorded("bm_old_tf2.txt")), None, SETTINGS, Delegate.CPU)
    assert old.mean_ms == pytest.approx(63.1502) and old.median_ms is None
    assert old.init_ms == pytest.approx(2.198) and old.first_inference_ms == pytest.approx(
        89.811
    )  # warmup first=
    assert old.peak_memory_mb == pytest.approx(23.9414)  # "Peak memory footprint (MB): init= overall="


def test_proto_values_win_over_stdout():
    proto = BenchmarkResult(
        name=None,
        latency={"avg_ms": 7.5, "median_ms": 7.25, "init_ms": 800.0},
        memory={"peak_mem_mb": -1.0},
        misc={},
    )
    timing = timing_from_output(parse(recorded("bm_gpu_partial.txt")), proto, SETTINGS, Delegate.GPU)
    assert (timing.mean_ms, timing.median_ms, timing.init_ms) == (7.5, 7.25, 800.0)
    assert timing.peak_memory_mb == pytest.approx(192.148)  # -1 means "not measured": stdout's value


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sustained_plan_chunks_and_overrides():
    plan = SustainedPlan(fps=30, secs=12, chunk_secs=5)
    assert (plan.chunks, plan.runs_per_chunk) == (3, 150)
    flags = plan.overrides(0.0123456789)
    assert flags["run_delay"] == "0.012346" and flags["warmup_runs"] == "0" and flags["num_runs"] == "150"
    assert SustainedPlan(fps=10, secs=2, chunk_secs=5).runs_per_chunk == 20  # short runs: one chunk of 2 s
    assert plan.overrides(-1)["run_delay"] == "0.000000"  # a model slower than the frame rate: no pause


def test_run_sustained_paces_counts_drops_and_reads_heat():
    clock = FakeClock()
    temperatures = iter([30.0, 41.0, 55.0, 63.0])
    seen_delays = []
    means_us = iter([20000.0, 40000.0, 45000.0])  # 20 ms, then slower than the 33 ms frame: throttling

    def run_chunk(flags):
        seen_delays.append(float(flags["run_delay"]))
        clock.now += 1.0
        mean = next(means_us)
        return parse(f"count=30 first={mean} curr={mean} min={mean} max={mean} avg={mean} std=0\n")

    plan = SustainedPlan(fps=30, secs=3, chunk_secs=1)
    result = run_sustained(plan, run_chunk, lambda: next(temperatures), calibration_ms=10.0, clock=clock)
    assert result.samples_ms == [20.0, 40.0, 45.0]
    assert result.trace.sample_times_s == [0.0, 1.0, 2.0] and result.trace.duration_secs == 3.0
    assert result.trace.temperatures == [(0.0, 30.0), (1.0, 41.0), (2.0, 55.0), (3.0, 63.0)]
    assert result.trace.dropped_frames == 60  # two chunks of 30 invocations overran their frame
    assert seen_delays == pytest.approx([1 / 30 - 0.010, 1 / 30 - 0.020, 0.0], abs=1e-6)


def test_run_sustained_stops_on_a_chunk_without_timings():
    with pytest.raises(ChunkFailed, match="chunk 1"):
        run_sustained(
            SustainedPlan(fps=30, secs=2, chunk_secs=1), lambda _f: parse("ERROR: x\n"), lambda: None, None
        )
