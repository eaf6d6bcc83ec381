"""The benchmark_model output parser on every form of the reference (recorded/bm_*.txt)."""

from __future__ import annotations

import math

import pytest
from dr_helpers import recorded

from device_runners.benchmark_model_output import parse, strip_prefix, to_float


def test_new_format_with_percentiles_and_memory():
    out = parse(recorded("bm_xnnpack.txt"))
    assert out.warmup.count == 39 and out.warmup.get("first") == 21875
    assert out.run.count == 81
    assert out.run.get("median") == 12384 and out.run.get("p95") == 12901 and out.run.get("p5") == 12219
    assert out.run.get("avg") == pytest.approx(12422.8)
    assert out.init_us == 41237 and out.first_inference_us == 21875
    assert out.session_init_ms == pytest.approx(41.237)
    assert out.footprint_init_mb == pytest.approx(15.2227) and out.footprint_overall_mb == pytest.approx(
        24.6094
    )
    assert out.peak_memory_mb == pytest.approx(29.8477)
    assert out.model_size_mb == pytest.approx(4.25)
    xnn = out.delegations["XNNPACK"]
    assert (xnn.mode, xnn.nodes_replaced, xnn.nodes_total, xnn.partitions, xnn.delegate_kernels) == (
        "partial",
        63,
        64,
        2,
        1,
    )
    assert out.errors == ()


def test_scientific_notation_and_one_run_warmup():
    out = parse(recorded("bm_cpu_scientific.txt"))
    assert out.run.get("avg") == pytest.approx(1.24027e6)
    assert out.inference_avg_us == pytest.approx(1.24027e6)
    assert out.warmup_avg_us == pytest.approx(1.3576e6)
    # The warmup was one run: the short "count=1 curr=X" form, whose every statistic is curr.
    assert out.warmup.count == 1
    assert (
        out.warmup.get("curr") == 1357602 and out.warmup.get("avg") == 1357602 and out.warmup.get("std") == 0
    )
    assert out.delegations == {}


def test_all_same_marker_and_minimal_one_run_line():
    out = parse(recorded("bm_one_run_all_same.txt"))
    assert out.warmup.count == 1 and out.warmup.values_us == {"curr": 118.0}
    assert out.warmup.get("median") == 118.0
    assert out.run.all_same is True
    assert out.run.get("p95") == 100.0 and out.run.get("median") == 100.0 and out.run.count == 5
    assert out.inference_avg_us == 100.0
    assert out.peak_memory_mb is None and out.footprint_overall_mb is None


def test_old_tf2_format_without_percentiles_and_peak_memory_line():
    out = parse(recorded("bm_old_tf2.txt"))
    assert out.run.count == 50
    assert out.run.get("median") is None and out.run.get("p95") is None
    assert out.run.get("std") == 2191
    # "Average inference timings in us: Warmup: W, Init: I, no stats: X" (TF 2.0 / 2.1)
    assert (out.warmup_avg_us, out.init_us, out.inference_avg_us) == (66989.4, 2198.0, 63150.2)
    assert out.footprint_init_mb == pytest.approx(6.48438) and out.footprint_overall_mb == pytest.approx(
        23.9414
    )
    assert out.session_init_ms == pytest.approx(2.198)  # "in 2.198ms" without the period


def test_tf23_average_inference_timings_line():
    out = parse(recorded("bm_tf23.txt"))
    assert (out.warmup_avg_us, out.init_us, out.inference_avg_us) == (40122.6, 14871.0, 38870.4)
    assert out.first_inference_us is None
    assert out.run.get("avg") == pytest.approx(38870.4)


def test_keys_in_another_order_are_read_by_name():
    out = parse(recorded("bm_very_old_order.txt"))
    assert out.run.count == 50 and out.run.get("min") == 45473 and out.run.get("max") == 47991
    assert out.warmup.count == 11 and out.warmup.get("first") == 51977
    assert out.inference_avg_us == pytest.approx(46211.7)


def test_missing_memory_lines_leave_memory_unknown():
    out = parse(recorded("bm_no_memory.txt"))
    assert out.peak_memory_mb is None and out.footprint_init_mb is None and out.footprint_overall_mb is None
    assert out.run.get("median") == 5611
    assert out.delegations["XNNPACK"].mode == "full"


def test_nan_and_inf_stay_floats():
    out = parse(recorded("bm_nan_inf.txt"))
    assert math.isnan(out.run.get("avg")) and math.isnan(out.run.get("std"))
    assert math.isinf(out.run.get("max")) and math.isinf(out.run.get("p95"))
    assert out.run.get("median") == 801
    assert math.isnan(out.warmup_avg_us) and math.isnan(out.inference_avg_us)
    assert math.isnan(out.warmup.get("avg"))  # "-nan"
    assert math.isinf(out.footprint_overall_mb)


def test_gpu_partial_delegation_with_unsupported_ops():
    out = parse(recorded("bm_gpu_partial.txt"))
    gpu = out.delegations["GPU"]
    assert gpu.mode == "partial" and gpu.delegate_kernels == 1
    assert (gpu.nodes_replaced, gpu.nodes_total, gpu.partitions, gpu.ops_on_cpu) == (61, 64, 2, 3)
    assert gpu.unsupported_ops == (
        "CUSTOM TFLite_Detection_PostProcess: Operation is not supported.",
        "DEQUANTIZE:",
    )
    # The "Following operations are not supported" ERROR line is delegation info, not a failure.
    assert out.errors == ()
    assert out.run.get("median") == 7820


def test_gpu_declined_whole_graph():
    out = parse(recorded("bm_gpu_declined.txt"))
    gpu = out.delegations["GPU"]
    assert gpu.mode == "none" and gpu.ops_on_cpu == 71 and gpu.nodes_replaced is None
    assert len(gpu.unsupported_ops) == 2
    assert out.run.get("avg") == pytest.approx(23652.7)


def test_nnapi_full_delegation():
    nnapi = parse(recorded("bm_nnapi_full.txt")).delegations["NNAPI"]
    assert (nnapi.mode, nnapi.nodes_replaced, nnapi.nodes_total) == ("full", 65, 65)


def test_disallowed_cpu_fallback_and_errors():
    out = parse(recorded("bm_disallowed_fallback.txt"))
    assert out.cpu_fallback_disallowed is True
    assert out.has_timings is False
    assert out.errors == ("Failed to apply GPU delegate.", "Benchmarking failed.")


def test_unconsumed_flags_of_an_old_binary():
    out = parse(recorded("bm_unconsumed.txt"))
    assert out.unconsumed_flags == (
        "--result_file_path=/data/local/tmp/edgebench/result.pb",
        "--report_peak_memory_footprint=true",
    )
    assert out.run.count == 50


@pytest.mark.parametrize("name", ["bm_logcat.txt", "bm_logcat_brief.txt"])
def test_logcat_forms(name):
    out = parse(recorded(name))
    assert out.run is not None and out.warmup is not None
    assert out.init_us is not None and out.inference_avg_us is not None
    assert out.run.get("median") in (1680.0, 4135.0)


def test_logcat_threadtime_details():
    out = parse(recorded("bm_logcat.txt"))
    assert out.init_us == 1007529 and out.first_inference_us == 4098
    assert out.inference_avg_us == pytest.approx(1687.92)
    assert out.delegations["GPU"].nodes_replaced == 61
    assert out.errors == ("Failed to write to result file /data/local/tmp/result.pb",)


def test_stat_lines_without_phase_lines_are_warmup_then_run():
    text = "count=3 first=10 curr=9 avg=9.5 std=0\ncount=20 first=8 curr=8 min=7 max=9 avg=8 std=1\n"
    out = parse(text)
    assert out.warmup.count == 3 and out.run.count == 20


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("INFO: count=1 curr=5", "count=1 curr=5"),
        (
            "11-25 17:04:11.890  8123  8123 I tflite  : Initialized session in 1ms.",
            "Initialized session in 1ms.",
        ),
        ("I/tflite  ( 8123): count=2", "count=2"),
        ("ERROR: Benchmarking failed.\r\n", "Benchmarking failed."),
        ("plain line", "plain line"),
    ],
)
def test_strip_prefix(line, message):
    assert strip_prefix(line) == message


@pytest.mark.parametrize(
    ("text", "value"), [("1.24027e+06", 1240270.0), ("12", 12.0), ("-3.5E-2", -0.035), ("inf", math.inf)]
)
def test_to_float(text, value):
    assert to_float(text) == value


def test_garbage_never_raises():
    out = parse("count=abc\nInference timings in us: Init: x\nReplacing lots of nodes\n\x00\xff")
    assert out.run is None and out.has_timings is False
