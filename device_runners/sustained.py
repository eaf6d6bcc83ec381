"""Sustained mode on Android: benchmark_model in chunks at a fixed rate, reading temperature between chunks.

benchmark_model prints summaries only, never per-run latencies, so latency over time needs several
runs: the sustained duration is cut into chunks of ``chunk_secs``, each one benchmark_model run of
``fps * chunk_secs`` invocations with no warmup, and the thermal state is read after each chunk.
``--run_delay`` is a pause *after* each invocation rather than a fixed period, so the delay of each
chunk is the frame period minus the previous chunk's mean latency (a short calibration run gives the
first estimate): the device then invokes at close to ``fps`` without a pacing thread of our own.

What the record holds: ``samples_ms`` are the chunks' mean latencies and ``sample_times_s`` their start
times (one point per chunk, not per invocation), temperatures are (seconds since start, degrees C)
readings of the hottest SoC sensor (else the battery), and ``dropped_frames`` counts the invocations
of chunks whose mean latency exceeded the frame period. Between chunks the interpreter is re-created
(about a second on a phone), during which the SoC idles: a small bias towards cooler readings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from device_runners.benchmark_model_output import BenchmarkOutput
from results.schema import SustainedTrace

DEFAULT_CHUNK_SECS = 5.0


@dataclass(frozen=True)
class SustainedPlan:
    """How to run one sustained measurement."""

    fps: float
    secs: float
    chunk_secs: float = DEFAULT_CHUNK_SECS

    @property
    def period_s(self) -> float:
        return 1.0 / self.fps

    @property
    def chunks(self) -> int:
        return max(1, math.ceil(self.secs / self.chunk_secs - 1e-9))

    @property
    def runs_per_chunk(self) -> int:
        return max(1, round(min(self.chunk_secs, self.secs) * self.fps))

    def overrides(self, delay_s: float) -> dict[str, str]:
        """benchmark_model flags of one chunk: a fixed number of runs, no warmup, the pacing delay."""
        return {
            "warmup_runs": "0",
            "warmup_min_secs": "0",
            "num_runs": str(self.runs_per_chunk),
            "min_secs": "0",
            # Generous: a throttled device may run slower than the frame rate asks.
            "max_secs": f"{max(4 * self.chunk_secs, 10.0):g}",
            "run_delay": f"{max(0.0, delay_s):.6f}",
        }


@dataclass(frozen=True)
class SustainedResult:
    """The chunks' mean latencies and the trace to store beside them."""

    samples_ms: list[float]
    trace: SustainedTrace
    first_output: BenchmarkOutput  # delegation lines and init time come from the first chunk


class ChunkFailed(Exception):
    """A chunk printed no timings; carries its output for the record."""

    def __init__(self, index: int, output: BenchmarkOutput) -> None:
        super().__init__(f"sustained chunk {index + 1} printed no timings")
        self.output = output


def run_sustained(
    plan: SustainedPlan,
    run_chunk: Callable[[dict[str, str]], BenchmarkOutput],
    read_temperature: Callable[[], float | None],
    calibration_ms: float | None,
    clock: Callable[[], float] = time.monotonic,
) -> SustainedResult:
    """Run the chunks.

    Args:
        plan: Rate, duration and chunk length.
        run_chunk: Runs benchmark_model with the given flag overrides and returns its parsed output.
            Transport errors propagate (the caller retries the whole measurement).
        read_temperature: Degrees C now, or None when the device does not say.
        calibration_ms: Mean latency of a short run beforehand, for the first chunk's delay.
        clock: Seconds, monotonic.

    Raises:
        ChunkFailed: a chunk printed no timings.
    """
    start = clock()
    temperatures = _reading(read_temperature, 0.0, [])
    samples, times, dropped = [], [], 0
    estimate = calibration_ms or 0.0
    first = None
    for index in range(plan.chunks):
        began = clock() - start
        output = run_chunk(plan.overrides(plan.period_s - estimate / 1000.0))
        mean_ms = _mean_ms(output)
        if mean_ms is None:
            raise ChunkFailed(index, output)
        first = first or output
        samples.append(mean_ms)
        times.append(began)
        if mean_ms > plan.period_s * 1000.0:
            dropped += plan.runs_per_chunk  # every invocation of this chunk overran its frame
        estimate = mean_ms
        temperatures = _reading(read_temperature, clock() - start, temperatures)
    trace = SustainedTrace(
        target_fps=plan.fps,
        duration_secs=clock() - start,
        sample_times_s=times,
        temperatures=temperatures,
        dropped_frames=dropped,
    )
    return SustainedResult(samples_ms=samples, trace=trace, first_output=first)


def _mean_ms(output: BenchmarkOutput) -> float | None:
    value = output.run.get("avg") if output.run else output.inference_avg_us
    return value / 1000.0 if value is not None and math.isfinite(value) else None


def _reading(read: Callable[[], float | None], at: float, so_far: list) -> list[tuple[float, float]]:
    value = read()
    return [*so_far, (round(at, 3), value)] if value is not None else so_far
