"""Time Core ML artifacts on macOS with coremltools, per compute unit, each timing in its own child process.

Delegates are Core ML compute units: ``coreml_cpu`` (cpuOnly), ``coreml_gpu`` (cpuAndGPU), ``coreml_ane``
(cpuAndNeuralEngine) and ``coreml_all`` (all). The child runs ``coreml_worker.py`` with the same
warmup / timed-run loop as the LiteRT worker and writes the same result format, so crashes (a
compiler or driver fault) become ``crashed`` records through ``isolation.time_in_child``. Core ML
prediction exists only on macOS: elsewhere every job is ``unsupported`` with that reason.
Core ML does not say which ops left the Neural Engine or GPU, so no fallback is recorded here.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import platform
import sys
import tempfile
from pathlib import Path

from common import process
from common.errors import InputError
from common.ids import host_id
from device_runners import power_macos
from device_runners.base import (
    DeviceInfo,
    Probe,
    Runner,
    Support,
    TimingJob,
    make_record,
    unsupported_record,
)
from device_runners.isolation import time_in_child, timeout_for
from device_runners.registry import register
from device_runners.targets import TargetConfig
from results.schema import ArtifactFormat, Delegate, RunRecord, SustainedTrace, TargetInfo, ToolVersions

WORKER = Path(__file__).resolve().parent / "coreml_worker.py"
COMPUTE_UNITS = {
    Delegate.COREML_CPU: "cpu_only",
    Delegate.COREML_GPU: "cpu_and_gpu",
    Delegate.COREML_ANE: "cpu_and_ne",
    Delegate.COREML_ALL: "all",
}
NEEDS_MACOS = "Core ML prediction needs macOS"
_COMPILE_ALLOWANCE_SECS = 300.0  # first compilation of a large model for the Neural Engine is slow


@register("coreml_mac")
class CoreMLRunner(Runner):
    """This Mac's Core ML. ``CoreMLRunner(target)``.

    Args:
        target: Optional; its ``python`` names the interpreter with coremltools (this one by default).
        system: For tests: the platform name (``sys.platform``), to run the macOS path elsewhere.
    """

    formats = (ArtifactFormat.COREML,)
    defaults = (Delegate.COREML_ALL,)  # let Core ML place each op, as apps ship by default
    target_keys = frozenset({"python"})

    def __init__(self, target: TargetConfig | None = None, *, system: str | None = None) -> None:
        super().__init__(target)
        self.system = system or sys.platform
        self.python = (
            target.python if target is not None and "python" in target.model_fields_set else sys.executable
        )

    def _why_not(self) -> str | None:
        if self.system != "darwin":
            return f"{NEEDS_MACOS} (this is {self.system})"
        if importlib.util.find_spec("coremltools") is None:
            return "coremltools is not installed"
        return None

    def probe(self) -> list[Probe]:
        """This Mac, or why Core ML cannot run here."""
        reason = self._why_not()
        label = self.target.label if self.target else "local"
        return [Probe(self.name, label, None if reason else self._device(), reason or "")]

    def supports(self, job: TimingJob) -> Support:
        """A Core ML artifact, a Core ML compute unit, macOS with coremltools; never raises."""
        if job.artifact.format is not ArtifactFormat.COREML:
            return Support.no(
                f"the coreml_mac runner times Core ML models; got a {job.artifact.format.value} artifact"
            )
        if job.delegate not in COMPUTE_UNITS:
            allowed = ", ".join(d.value for d in COMPUTE_UNITS)
            return Support.no(
                f"delegate {job.delegate.value!r} is not a Core ML compute unit; allowed: {allowed}"
            )
        reason = self._why_not()
        return Support.no(reason) if reason else Support.yes()

    def time(self, job: TimingJob) -> RunRecord:
        """Time one job in a child process; crashes and failures become the record's status.

        Raises:
            InputError: the artifact does not exist.
        """
        if not Path(job.artifact.path).exists():
            raise InputError(f"artifact: {job.artifact.path!r} does not exist")
        support = self.supports(job)
        if not support.ok:
            return unsupported_record(job, self.name, support.reason, host_id())
        info = self._device()
        target = TargetInfo(
            runner=self.name,
            device_id=host_id(),
            device_model=info.model,
            os=info.os,
            soc=info.soc,
            abi=info.abi,
            delegate=job.delegate,
            threads=job.threads,
        )
        settings = job.settings
        with tempfile.TemporaryDirectory(prefix="edgebench-coreml-") as scratch:
            out = Path(scratch) / "result.json"
            argv = [self.python, str(WORKER), *worker_args(job, str(out))]
            timeout = timeout_for(settings) + _COMPILE_ALLOWANCE_SECS + (settings.sustained_secs or 0.0)
            power = power_macos.start(self.target, settings)  # None unless sustained.power asks
            outcome = time_in_child(argv, out, timeout, target, settings)
            sustained = _sustained(out) if outcome.timing is not None else None
        tools = ToolVersions(coremltools=_version("coremltools"), python=platform.python_version())
        timing = outcome.timing.model_copy(update={"sustained": sustained}) if sustained else outcome.timing
        energy = power.finish(timing) if power is not None else None
        return make_record(job, dataclasses.replace(outcome, timing=timing, tools=tools, energy=energy))

    def _device(self) -> DeviceInfo:
        release = platform.mac_ver()[0]
        return DeviceInfo(
            runner=self.name,
            device_id=host_id(),
            model=_sysctl("hw.model"),
            os=f"macOS {release}" if release else platform.platform(),
            soc=_sysctl("machdep.cpu.brand_string"),
            abi=platform.machine(),
            delegates=tuple(COMPUTE_UNITS),
        )


def worker_args(job: TimingJob, out: str) -> list[str]:
    """The Core ML worker's arguments for one job."""
    settings = job.settings
    args = [
        "--model",
        job.artifact.path,
        "--compute-units",
        COMPUTE_UNITS[job.delegate],
        "--out",
        out,
        "--warmup-runs",
        str(settings.warmup_runs),
        "--warmup-min-secs",
        repr(settings.warmup_min_secs),
        "--min-runs",
        str(settings.min_runs),
        "--min-secs",
        repr(settings.min_secs),
        "--max-secs",
        repr(settings.max_secs),
        "--cooldown-secs",
        repr(settings.cooldown_secs),
    ]
    if settings.max_runs is not None:
        args += ["--max-runs", str(settings.max_runs)]
    if settings.sustained_fps and settings.sustained_secs:
        args += ["--fps", repr(settings.sustained_fps), "--secs", repr(settings.sustained_secs)]
    return args


def _sustained(out: Path) -> SustainedTrace | None:
    import json

    try:
        trace = json.loads(out.read_text()).get("sustained")
    except (OSError, ValueError):
        return None
    return SustainedTrace(**trace) if isinstance(trace, dict) else None


def _sysctl(key: str) -> str | None:
    try:
        return process.run(["sysctl", "-n", key], timeout=5).stdout.strip() or None
    except (process.CommandError, process.CommandTimeout, FileNotFoundError):
        return None


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
