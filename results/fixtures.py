"""Realistic synthetic records for tests, demos and the dashboard's performance benchmark.

``synthetic_records(n, seed)`` yields ``n`` valid :class:`RunRecord` s spread over runs, variants,
recipes, devices, delegates and threads, with raw samples, accuracy, and a sprinkling of failed,
unsupported, crashed and fallback records. Same ``n`` and ``seed``, same records (ids included).
Figures are plausible, not measured: MAdds and mAP follow /work/shared/reference/detectors.md
(params and MAdds at 320x320; mAP from the papers' COCO tables), latency scales with MAdds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np

from results.energy import EnergyInfo, EnergyStatus, PowerSource, PowerTrace, derive_figures
from results.fixture_grid import DATASETS, RECIPES, Config, build_grid
from results.schema import (
    AccuracyInfo,
    ArtifactFormat,
    ArtifactInfo,
    ErrorInfo,
    FallbackInfo,
    ModelInfo,
    RunRecord,
    Status,
    SustainedTrace,
    TargetInfo,
    Timing,
    TimingSettings,
    ToolVersions,
)
from results.store import Store

_EPOCH = datetime(2025, 1, 6, 2, 0, tzinfo=UTC)
_SAMPLES = 30  # timed runs kept per record: enough for a histogram, small enough for 100,000 records
_TOOLS = ToolVersions(
    tensorflow="2.21.0", tf_keras="2.21.0", tfmot="0.8.1", coremltools="9.0", litert="2.3.0", python="3.11.9"
)


def synthetic_records(n: int, seed: int = 0, runs: int | None = None) -> Iterator[RunRecord]:
    """Yield ``n`` synthetic records, run after run, each run measuring the same configurations.

    Args:
        n: How many records, at least 0.
        seed: Seeds every random choice, so the output is reproducible.
        runs: How many runs to spread them over; by default as many as the full grid of
            configurations needs (at least two, so run comparisons have something to compare).

    Yields:
        Valid records; the last run carries a deliberate latency regression on one variant.
    """
    if n < 0:
        raise ValueError(f"n: got {n}; allowed: 0 or more")
    rng = np.random.default_rng(seed)
    grid = build_grid()
    runs = runs or max(2, math.ceil(n / len(grid)))
    per_run = math.ceil(n / runs) if n else 0
    chosen = [grid[i] for i in rng.permutation(len(grid))[: min(per_run, len(grid))]]
    regressed = chosen[0].variant if chosen else None
    made = 0
    for run_index in range(runs):
        run = _RunContext(run_index, runs, rng, regressed)
        for position in range(per_run):
            if made == n:
                return
            yield _record(chosen[position % len(chosen)], run, position, rng)
            made += 1


def fill_store(store: Store, n: int, seed: int = 0, runs: int | None = None) -> int:
    """Add ``n`` synthetic records to ``store``; returns how many were new (all, unless re-filled)."""
    return store.add_all(synthetic_records(n, seed=seed, runs=runs))


class _RunContext:
    """What every record of one run shares: id, commit, start time, dataset, speed drift."""

    def __init__(self, index: int, total: int, rng: np.random.Generator, regressed: str | None) -> None:
        self.run_id = f"run-{index + 1:04d}-{_hex(rng, 6)}"
        self.commit = _hex(rng, 40)
        self.started = _EPOCH + timedelta(days=index)
        # Every fifth run is a quick smoke run on the synthetic dataset (a different mAP scale).
        self.dataset = DATASETS[1] if index % 5 == 2 else DATASETS[0]
        self.plan = "smoke" if self.dataset == DATASETS[1] else "nightly"
        self.drift = float(rng.normal(1.0, 0.02))  # run-to-run noise of the whole fleet
        self.regressed = regressed if index == total - 1 and total > 1 else None


def _record(config: Config, run: _RunContext, position: int, rng: np.random.Generator) -> RunRecord:
    status, error, fallback = _outcome(config, rng)
    timing = None
    if status is Status.OK:
        slowdown = 1.25 if config.variant == run.regressed else 1.0
        timing = _timing(config.latency_ms * run.drift * slowdown, rng, sustained=config.sustained)
    return RunRecord(
        record_id=_hex(rng, 32),
        run_id=run.run_id,
        created_at=run.started + timedelta(seconds=7 * position),
        git_commit=run.commit,
        git_dirty=False,
        plan=run.plan,
        model=ModelInfo(
            variant=config.variant,
            input_size=320,
            width_multiplier=1.0,
            num_classes=90,
            params=config.params,
            madds=config.madds,
        ),
        artifact=_artifact(config),
        target=TargetInfo(
            runner=config.device.runner,
            device_id=config.device.device_id,
            device_model=config.device.model,
            os=config.device.os,
            soc=config.device.soc,
            abi=config.device.abi,
            delegate=config.delegate,
            threads=config.threads,
        ),
        timing=timing,
        # Accuracy is measured once per artifact; about one record in ten was timed without it.
        accuracy=_accuracy(config, run.dataset) if status is Status.OK and rng.random() > 0.1 else None,
        tools=_TOOLS,
        status=status,
        error=error,
        fallback=fallback,
        energy=_energy(config, timing) if timing is not None and timing.sustained is not None else None,
    )


def _energy(config: Config, timing: Timing) -> EnergyInfo:
    """Power at 1 Hz over the 6 s run, rising with the model's latency (no RNG draws: the rest stays put).

    A bigger, slower model costs more per inference: above-idle power ~ 8 mW per ms of latency.
    """
    idle_mw = 950.0 if config.device.runner == "adb" else 4200.0
    times = [float(t) for t in range(7)]
    per_second = [timing.samples_ms[min(int(t * 10), len(timing.samples_ms) - 1)] for t in times]
    trace = PowerTrace(times_s=times, power_mw=[round(idle_mw + 8.0 * ms, 2) for ms in per_second])
    idle = PowerTrace(times_s=[0.0, 1.0, 2.0], power_mw=[idle_mw] * 3)
    sustained = timing.sustained
    figures = derive_figures(
        trace,
        idle,
        inferences=len(timing.samples_ms),
        duration_secs=sustained.duration_secs,
        sample_times_s=sustained.sample_times_s,
        samples_ms=timing.samples_ms,
        dropped_frames=sustained.dropped_frames,
    )
    source = PowerSource.ANDROID_BATTERY if config.device.runner == "adb" else PowerSource.RAPL
    return EnergyInfo(
        status=EnergyStatus.MEASURED, source=source, sensor="fixture", idle=idle, trace=trace, figures=figures
    )


def _outcome(
    config: Config, rng: np.random.Generator
) -> tuple[Status, ErrorInfo | None, FallbackInfo | None]:
    if config.unsupported:
        return Status.UNSUPPORTED, ErrorInfo(type="Unsupported", message=config.unsupported), None
    draw = rng.random()
    if draw < 0.004:
        error = ErrorInfo(
            type="SIGSEGV",
            message="the timing process died from signal 11 (SIGSEGV)",
            signal=11,
            stderr_tail="INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nSegmentation fault",
        )
        return Status.CRASHED, error, None
    if draw < 0.012:
        error = ErrorInfo(
            type="CommandTimeout",
            message="the timing command did not finish within 300 s",
            command=_command(config),
            stderr_tail="INFO: Loaded model /data/local/tmp/model.tflite",
        )
        return Status.FAILED, error, None
    return Status.OK, None, _fallback(config)


def _command(config: Config) -> list[str]:
    """The command a runner of this kind would have run (for the failed records' error)."""
    device = config.device
    if device.runner == "adb":
        return [
            "adb",
            "-s",
            device.device_id,
            "shell",
            "/data/local/tmp/benchmark_model",
            "--graph=model.tflite",
        ]
    if device.runner == "ssh":
        return ["ssh", device.device_id, "/opt/edgebench/benchmark_model --graph=model.tflite"]
    return ["python", "-m", "device_runners.worker", "--model", "model.tflite"]


def _fallback(config: Config) -> FallbackInfo | None:
    recipe = RECIPES[config.recipe]
    if config.delegate.value == "gpu" and recipe.integer_only:
        return FallbackInfo(full=True, detail="GPU delegate declined every op of the int8 graph")
    if config.delegate.value in ("gpu", "nnapi"):
        return FallbackInfo(full=False, detail="1 of 118 ops on CPU: TFLite_Detection_PostProcess")
    return None


def _timing(median_ms: float, rng: np.random.Generator, sustained: bool) -> Timing:
    count = 60 if sustained else _SAMPLES
    samples = median_ms * rng.lognormal(0.0, 0.04, count)
    samples[rng.random(count) < 0.05] *= rng.uniform(1.2, 1.8)  # scheduler hiccups: the p90 tail
    trace = None
    settings = TimingSettings(min_runs=count)
    if sustained:
        # Throttling: latency climbs as the SoC heats up during a 6 s run at 10 fps.
        samples *= np.linspace(1.0, 1.35, count)
        times = [round(i / 10.0, 3) for i in range(count)]
        temperatures = [(float(t), round(38.0 + 1.6 * t, 1)) for t in range(7)]
        trace = SustainedTrace(
            target_fps=10.0, duration_secs=6.0, sample_times_s=times, temperatures=temperatures
        )
        settings = TimingSettings(min_runs=count, sustained_fps=10.0, sustained_secs=6.0)
    return Timing(
        settings=settings,
        samples_ms=[round(float(s), 4) for s in samples],
        warmup_samples_ms=[round(float(median_ms * 1.6), 4)],
        init_ms=round(float(median_ms * 4 + rng.uniform(20, 60)), 3),
        first_inference_ms=round(float(median_ms * 1.8), 3),
        # Bigger models are slower and hold more memory; a rough link is all a fixture needs.
        peak_memory_mb=round(float(40 + min(120.0, 2.0 * median_ms) + rng.uniform(0, 8)), 2),
        sustained=trace,
    )


def _artifact(config: Config) -> ArtifactInfo:
    recipe = RECIPES[config.recipe]
    size = int(config.params * recipe.bytes_per_param + 180_000)
    suffix = "mlpackage" if recipe.format is ArtifactFormat.COREML else "tflite"
    return ArtifactInfo(
        recipe=config.recipe,
        format=recipe.format,
        path=f"artifacts/{config.variant}/{config.recipe}.{suffix}",
        sha256=config.sha256,
        size_bytes=size,
        gzip_bytes=int(size * recipe.gzip_ratio),
    )


def _accuracy(config: Config, dataset: tuple[str, float]) -> AccuracyInfo:
    name, scale = dataset
    m = round(config.map * scale, 4)
    return AccuracyInfo(
        dataset_id=name,
        num_images=500,
        map=m,
        map50=round(min(1.0, m * 1.72), 4),
        map75=round(m * 1.02, 4),
        map_small=round(m * 0.12, 4),
        map_medium=round(m * 0.85, 4),
        map_large=round(min(1.0, m * 1.9), 4),
        ar1=round(m * 0.95, 4),
        ar10=round(min(1.0, m * 1.3), 4),
        ar100=round(min(1.0, m * 1.4), 4),
    )


def _hex(rng: np.random.Generator, digits: int) -> str:
    return "".join(f"{b:02x}" for b in rng.integers(0, 256, size=(digits + 1) // 2, dtype=np.uint8))[:digits]
