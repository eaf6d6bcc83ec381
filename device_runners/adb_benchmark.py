"""benchmark_model on Android: the command line for a job, and the record fields from what it printed.

Delegates map to benchmark_model flags as the reference lists them. ``gpu`` and ``nnapi`` keep the
binary's default XNNPack for the ops the delegate declines, as an app's interpreter does.
A delegate that declined ops is reported as a :class:`FallbackInfo`; one that declined the whole graph
(or was never applied) gives ``full=True``: the timing is then a CPU timing, whatever was asked.
"""

from __future__ import annotations

import math

from device_runners.benchmark_model_output import BenchmarkOutput, Delegation
from device_runners.benchmark_result_proto import BenchmarkResult
from results.schema import Delegate, FallbackInfo, Timing, TimingSettings

DELEGATE_FLAGS = {
    Delegate.CPU: ("--use_xnnpack=false",),
    Delegate.XNNPACK: ("--use_xnnpack=true",),
    Delegate.GPU: ("--use_gpu=true",),
    Delegate.NNAPI: ("--use_nnapi=true",),
}
# How benchmark_model names each delegate in its delegation lines.
DELEGATE_NAMES = {
    Delegate.XNNPACK: "XNNPACK",
    Delegate.GPU: "GPU",
    Delegate.NNAPI: "NNAPI",
    Delegate.COREML_DELEGATE: "COREML",  # the iOS app (device_runners/ios.py) prints it as "CoreML"
}
# Flags newer binaries understand and older ones reject ("Unconsumed cmdline flags"): dropped on retry.
OPTIONAL_FLAGS = ("--result_file_path", "--report_peak_memory_footprint")


def benchmark_argv(
    binary: str,
    model: str,
    delegate: Delegate,
    threads: int,
    settings: TimingSettings,
    *,
    result_file: str | None = None,
    extra_flags: tuple[str, ...] = (),
    overrides: dict[str, str] | None = None,
) -> list[str]:
    """The argv of one benchmark_model run (quoted by the transport, never by hand).

    Args:
        binary: benchmark_model's path on the device.
        model: The model's path on the device.
        delegate: cpu, xnnpack, gpu or nnapi.
        threads: --num_threads.
        settings: Warmup and run minimums (``max_runs`` has no benchmark_model flag and is not applied).
        result_file: Where the binary writes its BenchmarkResult proto; None for binaries without the flag.
        extra_flags: The target's own flags, appended last so they win.
        overrides: Flag values replacing those from ``settings`` (sustained chunks use them).
    """
    flags = {"graph": model, **timing_flags(threads, settings), **(overrides or {})}
    argv = [binary, *(f"--{key}={value}" for key, value in flags.items()), *DELEGATE_FLAGS[delegate]]
    if result_file is not None:
        argv += [f"--result_file_path={result_file}", "--report_peak_memory_footprint=true"]
    return [*argv, *extra_flags]


def timing_flags(threads: int, settings: TimingSettings) -> dict[str, str]:
    """benchmark_model's threads, warm-up and run minimums (flag name -> value), for Android and iOS alike."""
    return {
        "num_threads": str(threads),
        "warmup_runs": str(settings.warmup_runs),
        "warmup_min_secs": f"{settings.warmup_min_secs:g}",
        "num_runs": str(settings.min_runs),
        "min_secs": f"{settings.min_secs:g}",
        "max_secs": f"{settings.max_secs:g}",
    }


def rejected_optional_flags(output: BenchmarkOutput) -> bool:
    """Whether an old binary refused one of the optional flags (so the run should be repeated without)."""
    return any(flag.startswith(OPTIONAL_FLAGS) for flag in output.unconsumed_flags)


def fallback_info(output: BenchmarkOutput, delegate: Delegate) -> FallbackInfo | None:
    """What the delegate declined, from the delegation lines; None when it took everything."""
    name = DELEGATE_NAMES.get(delegate)
    if name is None:
        return None  # plain CPU kernels: no delegate to fall back from
    seen = output.delegations.get(name)
    if seen is None:
        if delegate is Delegate.XNNPACK:
            return None  # older binaries apply the default XNNPack without a word
        return FallbackInfo(
            full=True, detail=f"benchmark_model never applied the {name} delegate: CPU timings"
        )
    if seen.mode == "none" or seen.nodes_replaced == 0:
        return FallbackInfo(full=True, detail=f"the {name} delegate declined the whole graph: CPU timings")
    outside = ops_outside(seen)
    if seen.mode == "partial" or outside:
        count = f"{outside} of {seen.nodes_total} ops" if outside and seen.nodes_total else "some ops"
        ops = "; ".join(seen.unsupported_ops)
        kernels = f" ({seen.delegate_kernels} delegate kernels)" if seen.delegate_kernels else ""
        return FallbackInfo(
            full=False, detail=f"{count} outside the {name} delegate{kernels}" + (f": {ops}" if ops else "")
        )
    return None


def ops_outside(seen: Delegation) -> int | None:
    """Nodes the delegate did not take, from the node counts or the 'remaining N operations' line."""
    if seen.nodes_total is not None and seen.nodes_replaced is not None:
        return seen.nodes_total - seen.nodes_replaced
    return seen.ops_on_cpu


def timing_from_output(
    output: BenchmarkOutput,
    proto: BenchmarkResult | None,
    settings: TimingSettings,
    delegate: Delegate,
) -> Timing:
    """A Timing from the printed statistics, the result proto's values taking precedence.

    benchmark_model prints summaries only, so ``samples_ms`` stays empty and the printed statistics
    are stored; it prints no 90th percentile, so ``p90_ms`` stays None rather than being invented.
    """
    latency = proto.latency if proto else {}
    fields = {
        "mean_ms": _first(latency.get("avg_ms"), _stat_ms(output, "avg"), _ms(output.inference_avg_us)),
        "median_ms": _first(latency.get("median_ms"), _stat_ms(output, "median")),
        "std_ms": _first(latency.get("stddev_ms"), _stat_ms(output, "std")),
        "min_ms": _first(latency.get("min_ms"), _stat_ms(output, "min")),
        "max_ms": _first(latency.get("max_ms"), _stat_ms(output, "max")),
        "init_ms": _first(latency.get("init_ms"), _ms(output.init_us), output.session_init_ms),
        "first_inference_ms": _first(
            latency.get("first_inference_ms"),
            _ms(output.first_inference_us),
            _ms(output.warmup.get("first") if output.warmup else None),
        ),
        "peak_memory_mb": _first(
            _positive(proto.memory.get("peak_mem_mb")) if proto else None,
            output.peak_memory_mb,
            output.footprint_overall_mb,
        ),
    }
    seen = output.delegations.get(DELEGATE_NAMES.get(delegate, ""))
    if seen is not None:
        fields["ops_total"] = seen.nodes_total
        full = seen.mode == "none" or seen.nodes_replaced == 0
        fields["ops_outside_delegate"] = seen.nodes_total if full else ops_outside(seen)
    return Timing(settings=settings, **fields)


def _stat_ms(output: BenchmarkOutput, key: str) -> float | None:
    return _ms(output.run.get(key)) if output.run else None


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else microseconds / 1000.0


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def _first(*values: float | None) -> float | None:
    """The first finite value: nan and inf from the tool mean "not measured"."""
    for value in values:
        if value is not None and math.isfinite(value):
            return float(value)
    return None
