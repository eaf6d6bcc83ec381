"""The one record every stage shares: an artifact measured on one target (``RunRecord``).

Versioned with ``SCHEMA_VERSION``; older stored records are brought forward by ``results.migrations``.
Field-by-field documentation for users lives in ``results/SCHEMA.md``; keep the two in step.
Statistics are derived from the raw samples (pytest-benchmark / asv practice) so they can never disagree.
"""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from results.energy import EnergyInfo

# Major: a reader of an older major cannot read the record (a field changed meaning or was removed; a
# migration in results.migrations brings older majors forward). Minor: fields were only added, all optional;
# an older reader of the same major drops what it does not know and reads the rest.
SCHEMA_VERSION = 1
SCHEMA_MINOR = 3  # 1.1: ArtifactInfo.settings_hash, RunRecord.energy, TargetInfo.simulated;
# 1.2: TimingSettings.rounds, Timing.round_sizes, Timing.op_profile and ModelInfo.training (issue 19);
# 1.3: AccuracyInfo.share


class Status(StrEnum):
    """How a measurement ended."""

    OK = "ok"
    UNSUPPORTED = "unsupported"  # the target cannot run this artifact; `error.message` says why
    FAILED = "failed"  # a typed error: bad exit code, timeout, transport error
    CRASHED = "crashed"  # the timing process died from a signal (segfault, abort, OOM kill)


class Delegate(StrEnum):
    """Where the kernels run. Core ML compute units are delegates too, so one axis covers every target."""

    CPU = "cpu"  # builtin TFLite kernels, no default delegate
    XNNPACK = "xnnpack"
    GPU = "gpu"
    NNAPI = "nnapi"
    COREML_CPU = "coreml_cpu"  # MLComputeUnits.cpuOnly
    COREML_GPU = "coreml_gpu"  # cpuAndGPU
    COREML_ANE = "coreml_ane"  # cpuAndNeuralEngine
    COREML_ALL = "coreml_all"  # all
    COREML_DELEGATE = "coreml_delegate"  # LiteRT's Core ML delegate running a .tflite (iOS, issue 20)


class ArtifactFormat(StrEnum):
    """The file format of an artifact."""

    TFLITE = "tflite"
    COREML = "coreml"


class _Strict(BaseModel):
    """Base for every part of the record: unknown keys are rejected, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingInfo(_Strict):
    """How the pipeline trained the model (a zoo variant): a fixed number of steps, seeded, deterministic."""

    steps: int = Field(ge=0)  # optimizer steps done
    planned_steps: int = Field(ge=0)  # the plan's steps for this variant
    seconds: float = Field(ge=0)  # training wall-clock time on the machine that trained it (all resumed runs)
    # "steps": all planned steps ran, so the weights are the plan's (seed and op determinism: bit for bit on
    # the same kind of machine). "time": the plan's max_minutes cap stopped it early: the weights depend
    # on that machine's speed.
    stopped_by: Literal["steps", "time"] = "steps"
    seed: int | None = None  # initialisation, shuffle and augmentation seed
    weights_sha256: str | None = None  # the trained weights file: equal across reproducible runs
    # TensorFlow intra-op threads the steps ran on: part of what the weights are (their float sums' order)
    threads: int | None = Field(default=None, ge=1)


class ModelInfo(_Strict):
    """The detector the artifact was made from. Unknown for a user's own .tflite, hence optional."""

    variant: str | None = None  # registry name, e.g. "ssdlite_mobilenet_v2"
    input_size: int | None = None  # square input side in pixels
    width_multiplier: float | None = None
    num_classes: int | None = None  # without background
    params: int | None = None  # BN-folded parameter count
    madds: int | None = None  # multiply-adds of conv and dense layers
    training: TrainingInfo | None = None  # zoo variants the pipeline trained (1.2); None for a user's file


class ArtifactInfo(_Strict):
    """The file that was measured."""

    recipe: str | None = None  # compression recipe name, e.g. "tflite_int8"; None for a user's own file
    format: ArtifactFormat = ArtifactFormat.TFLITE
    path: str  # as given when measured; the sha256 is the identity
    sha256: str
    size_bytes: int
    gzip_bytes: int | None = None  # size after gzip -9: what pruning's sparsity buys in a download
    settings_hash: str | None = None  # hash of every converter setting that changes the artifact's bytes (from the sidecar)  # noqa: E501  # fmt: skip


class TargetInfo(_Strict):
    """Where the artifact ran."""

    runner: str  # device runner name: "host", "adb", "coreml_mac", "ssh"
    device_id: str = "local"  # adb serial, ssh host, or "local"
    device_model: str | None = None  # e.g. "Pixel 7" or the host CPU's model name
    os: str | None = None  # e.g. "Linux 6.1" or "Android 14"
    soc: str | None = None  # e.g. "Tensor G2"; the board or CPU where no SoC name exists
    abi: str | None = None  # e.g. "arm64-v8a" or "x86_64"
    delegate: Delegate
    threads: int = Field(ge=1)
    simulated: bool = False  # an emulator or simulator, not the phone's hardware


class TimingSettings(_Strict):
    """The methodology, as LiteRT's benchmark_model: warm up, then run until both minimums are met."""

    warmup_runs: int = Field(default=1, ge=0)
    warmup_min_secs: float = Field(default=0.5, ge=0)
    min_runs: int = Field(default=50, ge=1)
    min_secs: float = Field(default=1.0, ge=0)
    max_runs: int | None = Field(default=None, ge=1)  # hard cap on timed runs
    max_secs: float = Field(default=150.0, gt=0)
    cooldown_secs: float = Field(default=0.0, ge=0)  # idle time before the run, for thermals
    sustained_fps: float | None = Field(default=None, gt=0)  # sustained mode: fixed invocation rate
    sustained_secs: float | None = Field(default=None, gt=0)  # sustained mode: duration
    # Interleaved rounds (1.2): the timed runs are split into this many windows, and between two windows
    # of one artifact every other artifact of the batch gets its window, so a slow spell of the machine
    # hits all of them alike (device_runners/rounds.py). 1: one window, as benchmark_model does.
    rounds: int = Field(default=1, ge=1)


class SustainedTrace(_Strict):
    """Latency over time at a fixed rate, with temperatures, so throttling shows."""

    target_fps: float
    duration_secs: float
    sample_times_s: list[float]  # start time of each invocation, from the first one
    temperatures: list[tuple[float, float]] = []  # (time s, degrees C) readings
    dropped_frames: int = 0  # invocations that started late because the previous one overran


class OpTypeTime(_Strict):
    """The time one op type takes in a model (see ``OpProfile`` for how it is measured)."""

    op_type: str  # builtin op name (CONV_2D) or the custom op's name (TFLite_Detection_PostProcess)
    count: int  # nodes of this type in the model
    ms: float  # median time of all of them together, the per-invoke overhead subtracted
    delegated: int = 0  # of those nodes, how many the delegate took in the full model


class OpProfile(_Strict):
    """Where an artifact's time goes per op type (``edgebench time --profile``, 1.2).

    LiteRT's Python API has no op profiler (``benchmark_model --enable_op_profiling`` is a C++ tool), so
    every op type is timed as a model of its own: all the nodes of that type, disconnected, each fed the
    input values it receives in the full model, on the same delegate and threads. Fusion across op
    types and cache effects between neighbours are therefore absent; ``sum_ms`` against ``model_ms``
    says how well the parts add up to the whole.
    """

    method: str  # how it was measured (one line, shown with the table)
    model_ms: float  # median of the whole model in the same process, for the shares
    overhead_ms: float  # median invoke of a one-op model on this delegate: subtracted from each op type
    ops: list[OpTypeTime]  # slowest first
    # Named groups across op types, timed the same way: "hard-swish", "squeeze-excite" (edgebench zoo
    # layer names; a file without them has none). ``delegated`` is not counted for groups (0).
    groups: list[OpTypeTime] = []
    skipped: list[str] = []  # op types that could not run alone, with LiteRT's reason

    @property
    def sum_ms(self) -> float:
        """The op types' times added up (compare with ``model_ms``)."""
        return sum(op.ms for op in self.ops)


class Timing(_Strict):
    """Raw samples plus statistics derived from them.

    When ``samples_ms`` is given, the statistics are derived from it and must not be passed.
    Runners that only see summaries (benchmark_model on a phone prints no raw samples) leave
    ``samples_ms`` empty and pass the statistics the tool printed.
    """

    settings: TimingSettings = TimingSettings()
    samples_ms: list[float] = []
    warmup_samples_ms: list[float] = []
    init_ms: float | None = None  # interpreter creation + tensor allocation (+ delegate preparation)
    first_inference_ms: float | None = None
    median_ms: float | None = None
    p90_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    peak_memory_mb: float | None = None  # peak resident set size of the timing process
    ops_total: int | None = None  # nodes in the primary subgraph
    ops_outside_delegate: int | None = None  # of those, nodes the delegate did not take
    thermal_before: str | None = None  # runner-specific thermal state, e.g. "NONE" or "41.0C"
    thermal_after: str | None = None
    sustained: SustainedTrace | None = None
    # Interleaved rounds (1.2): samples_ms holds round after round; round i contributed round_sizes[i]
    # samples. Empty for a single window.
    round_sizes: list[int] = []
    op_profile: OpProfile | None = None  # edgebench time --profile (1.2)

    @model_validator(mode="before")
    @classmethod
    def _derive_statistics(cls, data: dict) -> dict:
        samples = data.get("samples_ms") if isinstance(data, dict) else None
        if not samples:
            return data
        derived = summarize(samples)
        for key, value in derived.items():
            given = data.get(key)
            if given is not None and abs(given - value) > 1e-6 * max(1.0, abs(value)):
                raise ValueError(f"timing.{key}={given} disagrees with the samples ({value})")
        sizes = data.get("round_sizes") or []
        if sizes and sum(sizes) != len(samples):
            raise ValueError(f"timing.round_sizes add up to {sum(sizes)}, not the {len(samples)} samples")
        return {**data, **derived}

    def round_samples(self) -> list[list[float]]:
        """The samples of each interleaved round (one list for a single window)."""
        if not self.round_sizes:
            return [list(self.samples_ms)]
        out, start = [], 0
        for size in self.round_sizes:
            out.append(list(self.samples_ms[start : start + size]))
            start += size
        return out


class ShareInfo(_Strict):
    """How much of a reference file's mAP the artifact keeps, on the same images, with a paired bootstrap
    interval over the images (``bench.evaluation.share``)."""

    reference_recipe: str  # the file it is compared with: its variant's ``tflite_fp32``
    reference_sha256: str
    reference_map: float
    share: float  # map / reference_map
    low: float  # the interval's ends, as shares
    high: float
    level: float  # the interval's coverage, e.g. 0.9
    resamples: int


class AccuracyInfo(_Strict):
    """COCO box metrics measured on the artifact file itself (fractions in [0, 1], -1 when undefined)."""

    dataset_id: str  # dataset name + content hash of its annotations
    num_images: int | None = None
    map: float
    map50: float
    map75: float
    map_small: float
    map_medium: float
    map_large: float
    ar1: float
    ar10: float
    ar100: float
    ar_small: float | None = None
    ar_medium: float | None = None
    ar_large: float | None = None
    share: ShareInfo | None = None  # 1.3: against the variant's fp32 file (None for that file itself)


class ToolVersions(_Strict):
    """Versions of what produced and measured the artifact; None where a tool was not involved."""

    tensorflow: str | None = None
    tf_keras: str | None = None
    tfmot: str | None = None
    coremltools: str | None = None
    litert: str | None = None
    benchmark_binary: str | None = None  # path or version of benchmark_model on a device
    python: str | None = None


class ErrorInfo(_Strict):
    """Why a measurement did not produce timings."""

    type: str  # e.g. "CommandError", "CommandTimeout", "TransportError", "SIGSEGV", "Unsupported"
    message: str
    command: list[str] | None = None
    returncode: int | None = None
    signal: int | None = None
    stderr_tail: str | None = None  # last lines of stderr, for the report


class FallbackInfo(_Strict):
    """A delegate that silently declined part or all of the graph: timings are then (partly) CPU."""

    full: bool  # True when the delegate took nothing: the timing is a CPU timing
    detail: str  # what the runner saw, e.g. "3 of 64 ops on CPU: TFLite_Detection_PostProcess"


class RunRecord(_Strict):
    """One artifact measured on one target."""

    schema_version: int = SCHEMA_VERSION  # major
    schema_minor: int = SCHEMA_MINOR  # fields added within the major; older readers ignore them
    record_id: str = Field(default_factory=lambda: uuid.uuid4().hex)  # stable key: re-storing is a no-op
    run_id: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    git_commit: str | None = None
    git_dirty: bool | None = None
    plan: str | None = None
    model: ModelInfo = ModelInfo()
    artifact: ArtifactInfo
    target: TargetInfo
    timing: Timing | None = None  # None when no timing was attempted or it failed
    accuracy: AccuracyInfo | None = None
    tools: ToolVersions = ToolVersions()
    status: Status
    error: ErrorInfo | None = None
    fallback: FallbackInfo | None = None
    energy: EnergyInfo | None = None  # sustained runs with power sampling: traces and figures (energy.py)

    @model_validator(mode="after")
    def _status_is_consistent(self) -> RunRecord:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {self.schema_version} is not {SCHEMA_VERSION}; migrate it first"
            )
        if self.status is Status.OK and self.error is not None:
            raise ValueError("status 'ok' cannot carry an error")
        if self.status is not Status.OK and self.error is None:
            raise ValueError(f"status {self.status.value!r} needs an error saying why")
        return self


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """Derive the statistics a ``Timing`` stores from raw samples.

    Args:
        samples_ms: Latencies in milliseconds, at least one.

    Returns:
        median, p90 (linear interpolation between closest ranks), mean, std (sample, 0 for one
        sample), min and max, all in milliseconds.
    """
    ordered = sorted(samples_ms)
    return {
        "median_ms": statistics.median(ordered),
        "p90_ms": percentile(ordered, 90.0),
        "mean_ms": statistics.fmean(ordered),
        "std_ms": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
    }


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile of already sorted values, interpolating linearly (numpy's default)."""
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
