"""The ``host`` runner: times .tflite files on this machine's LiteRT, in child processes.

Delegates: ``cpu`` (LiteRT's builtin kernels with no default delegate) and ``xnnpack`` (the default
XNNPack delegate LiteRT applies itself), at any thread count. Every other delegate is an
``unsupported`` record with its reason. The child runs ``device_runners/worker.py`` with this Python.
Several jobs (:meth:`HostRunner.time_many`) are timed in interleaved rounds, one child per delegate,
thread count and settings (``device_runners.rounds``, which also says how a crash stays isolated).
"""

from __future__ import annotations

import functools
import platform
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from common import process
from common.errors import InputError
from common.ids import host_id
from device_runners.base import (
    DeviceInfo,
    Outcome,
    Probe,
    Runner,
    Support,
    TimingJob,
    make_record,
    unsupported_record,
)
from device_runners.isolation import (
    STARTUP_ALLOWANCE_SECS,
    WORKER_PATH,
    WorkerOutputError,
    run_worker,
)
from device_runners.registry import register
from device_runners.rounds import time_rounds
from device_runners.targets import TargetConfig
from results.schema import ArtifactFormat, Delegate, OpProfile, RunRecord, TargetInfo

PROFILER_PATH = WORKER_PATH.with_name("op_profile.py")
PROFILE_ALLOWANCE_SECS = 300.0  # every op type of a big model, timed one after the other
HOST_DELEGATES = (Delegate.CPU, Delegate.XNNPACK)
TFLITE_IDENTIFIER = b"TFL3"  # the flatbuffer file identifier, at bytes 4..8 of every .tflite file
_WHY_NOT = {
    Delegate.GPU: "no GPU delegate on the host (LiteRT's needs OpenCL/OpenGL ES on Android, or Metal); "
    "use the adb runner",
    Delegate.NNAPI: "NNAPI exists only on Android; use the adb runner",
    **{
        d: "Core ML compute units need a Core ML model on macOS; use the coreml_mac runner"
        for d in (Delegate.COREML_CPU, Delegate.COREML_GPU, Delegate.COREML_ANE, Delegate.COREML_ALL)
    },
}


@register("host")
class HostRunner(Runner):
    """Times on this machine with LiteRT; see the module docstring.

    Args:
        target: Optional; only its name labels the probe (the host has one device).
        python: The interpreter that runs the worker; this one by default.
    """

    formats = (ArtifactFormat.TFLITE,)
    defaults = HOST_DELEGATES
    interleaves = True

    def __init__(self, target: TargetConfig | None = None, *, python: str | None = None) -> None:
        super().__init__(target)
        self.python = python or sys.executable

    def probe(self) -> list[Probe]:
        """The one local device, always reachable."""
        info = host_info()
        device = DeviceInfo(
            runner=self.name,
            device_id=host_id(),
            model=info["device_model"],
            os=info["os"],
            abi=info["abi"],
            delegates=HOST_DELEGATES,
        )
        return [Probe(self.name, self.target.label if self.target else "local", device)]

    def supports(self, job: TimingJob) -> Support:
        """Whether ``job`` can run here (a .tflite file, the cpu or xnnpack delegate); never raises."""
        if job.artifact.format is not ArtifactFormat.TFLITE:
            return Support.no(
                f"the host runner times .tflite files; got a {job.artifact.format.value} artifact"
            )
        if job.delegate not in HOST_DELEGATES:
            allowed = ", ".join(d.value for d in HOST_DELEGATES)
            default = f"delegate {job.delegate.value!r} is not available on the host (it has {allowed})"
            return Support.no(_WHY_NOT.get(job.delegate, default))
        if job.device_id not in ("local", host_id()):
            return Support.no(f"the host runner has only device 'local' ({host_id()}); got {job.device_id!r}")
        return Support.yes()

    def time(self, job: TimingJob) -> RunRecord:
        """Time one job in a child process; crashes and failures become the record's status."""
        return self.time_many([job])[0]

    def time_many(self, jobs: Sequence[TimingJob]) -> list[RunRecord]:
        """Time the jobs in interleaved rounds: one child per (delegate, threads, settings) that loads
        each of its artifacts once; a crash costs only the artifact that caused it. Records in job order."""
        records: dict[int, RunRecord] = {}
        batches: dict[tuple, list[int]] = {}
        for index, job in enumerate(jobs):
            support = self.supports(job)
            if not support.ok:
                records[index] = unsupported_record(job, self.name, support.reason, host_id())
            else:
                batches.setdefault((job.delegate, job.threads, job.settings), []).append(index)
        for (delegate, threads, settings), members in batches.items():
            target = self.target_info(jobs[members[0]])
            paths = [jobs[i].artifact.path for i in members]
            outcomes: dict[str, Outcome] = time_rounds(
                self.python, paths, delegate.value, threads, settings, target
            )
            for i in members:
                records[i] = make_record(jobs[i], outcomes[jobs[i].artifact.path])
        return [records[i] for i in range(len(jobs))]

    def op_profile(self, job: TimingJob) -> tuple[OpProfile | None, str]:
        """Per-op-type time of the job's artifact (``device_runners/op_profile.py``) in a child process.

        Returns:
            (the profile, "") or (None, why not): a crash or a refusal costs only the profile.
        """
        with tempfile.TemporaryDirectory(prefix="edgebench-profile-") as scratch:
            out = Path(scratch) / "profile.json"
            argv = [self.python, str(PROFILER_PATH), "--model", job.artifact.path, "--out", str(out)]
            argv += ["--delegate", job.delegate.value, "--threads", str(job.threads)]
            try:
                result, _ = run_worker(argv, out, STARTUP_ALLOWANCE_SECS + PROFILE_ALLOWANCE_SECS)
            except process.CommandError as error:
                return None, f"the profiler {error.describe_exit()}"
            except (process.CommandTimeout, WorkerOutputError, FileNotFoundError) as error:
                return None, f"the profiler failed: {error}"
        if not result.get("ok"):
            return None, f"LiteRT could not profile it: {(result.get('error') or {}).get('message', '?')}"
        fields = {k: result[k] for k in ("method", "model_ms", "overhead_ms", "ops", "groups", "skipped")}
        return OpProfile.model_validate(fields), ""

    def target_info(self, job: TimingJob) -> TargetInfo:
        """Where the job runs: this machine's CPU, OS and ABI."""
        return TargetInfo(
            runner=self.name, device_id=host_id(), delegate=job.delegate, threads=job.threads, **host_info()
        )


@functools.cache
def host_info() -> dict[str, str | None]:
    """device_model (the CPU's model name), os and abi of this machine."""
    return {"device_model": cpu_model_name(), "os": platform.platform(), "abi": platform.machine()}


def cpu_model_name() -> str | None:
    """The CPU's marketing name, from /proc/cpuinfo (Linux) or sysctl (macOS); None when unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return process.run(["sysctl", "-n", "machdep.cpu.brand_string"], timeout=5).stdout.strip() or None
        except (process.CommandError, process.CommandTimeout, FileNotFoundError):
            pass
    return platform.processor() or None


def check_model(path: str | Path, python: str | None = None) -> dict:
    """Validate a .tflite file before anything is timed or stored: exists, is a flatbuffer, loads.

    The load happens in a child process (a corrupt file may crash the interpreter).

    Returns:
        The worker's description: inputs, outputs, ops_total.

    Raises:
        InputError: the file is missing, is not a TFLite model, or LiteRT cannot load it.
    """
    path = Path(path)
    label = f"model {str(path)!r}"
    if not path.exists():
        raise InputError(f"{label}: no such file")
    if path.is_dir():
        raise InputError(f"{label}: is a directory, not a .tflite file")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as error:
        raise InputError(f"{label}: cannot read it: {error.strerror or error}") from None
    if len(head) < 8 or head[4:8] != TFLITE_IDENTIFIER:
        raise InputError(f"{label}: not a TFLite model (no 'TFL3' file identifier at bytes 4-8)")
    return _load_in_child(path, label, python or sys.executable)


def _load_in_child(path: Path, label: str, python: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="edgebench-check-") as scratch:
        out = Path(scratch) / "check.json"
        argv = [
            python,
            str(WORKER_PATH),
            "--model",
            str(path),
            "--delegate",
            "cpu",
            "--check",
            "--out",
            str(out),
        ]
        try:
            result, _ = run_worker(argv, out, STARTUP_ALLOWANCE_SECS)
        except process.CommandError as error:
            raise InputError(f"{label}: LiteRT {error.describe_exit()} while loading it") from None
        except (process.CommandTimeout, WorkerOutputError) as error:
            raise InputError(f"{label}: could not be checked: {error}") from None
    if not result.get("ok"):
        message = (result.get("error") or {}).get("message", "unknown error")
        hint = " (truncated or corrupt?)" if "Flatbuffer" in message else ""
        raise InputError(f"{label}: LiteRT cannot load it{hint}: {message}")
    return result
