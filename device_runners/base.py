"""The Runner protocol every way of reaching hardware implements, and the job it is given.

A runner never raises for trouble on the device side: it returns a record whose status says what
happened (``unsupported`` with a reason, ``failed`` with a typed error, ``crashed`` with a signal).
It raises only for bad input (``common.errors.InputError``), which the CLI turns into exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from results.energy import EnergyInfo
from results.schema import (
    ArtifactInfo,
    Delegate,
    ErrorInfo,
    FallbackInfo,
    ModelInfo,
    RunRecord,
    Status,
    TargetInfo,
    Timing,
    TimingSettings,
    ToolVersions,
)


@dataclass(frozen=True)
class Support:
    """Whether a runner can do something, and if not, why (MLPerf Mobile's backend check)."""

    ok: bool
    reason: str = ""  # shown to the user; empty when ok

    @classmethod
    def yes(cls) -> Support:
        return cls(True)

    @classmethod
    def no(cls, reason: str) -> Support:
        return cls(False, reason)


@dataclass(frozen=True)
class DeviceInfo:
    """A target a runner can reach."""

    runner: str
    device_id: str  # "local", an adb serial, an ssh host
    model: str | None = None
    os: str | None = None
    soc: str | None = None
    abi: str | None = None
    delegates: tuple[Delegate, ...] = ()  # what this device offers


@dataclass(frozen=True)
class TimingJob:
    """One artifact to time with one delegate and thread count, plus what the record should say of it."""

    artifact: ArtifactInfo
    delegate: Delegate
    threads: int
    settings: TimingSettings = TimingSettings()
    run_id: str = "adhoc"
    plan: str | None = None
    model: ModelInfo = ModelInfo()
    record_id: str | None = None  # set by the pipeline so a resumed run re-stores the same record
    device_id: str = "local"


@dataclass(frozen=True)
class Outcome:
    """What a runner measured; :func:`make_record` turns it plus the job into a RunRecord."""

    target: TargetInfo
    status: Status
    timing: Timing | None = None
    error: ErrorInfo | None = None
    fallback: FallbackInfo | None = None
    tools: ToolVersions = field(default_factory=ToolVersions)
    energy: EnergyInfo | None = None  # sustained runs with power sampling (results/energy.py)


@runtime_checkable
class Runner(Protocol):
    """A way of reaching hardware: the host, a phone over adb, a Mac, a board over SSH."""

    name: str

    def devices(self) -> list[DeviceInfo]:
        """The devices this runner can reach now (empty when none)."""
        ...

    def supports(self, job: TimingJob) -> Support:
        """Whether ``job`` can run here; never raises."""
        ...

    def time(self, job: TimingJob) -> RunRecord:
        """Time one job and return its record; device-side trouble becomes the record's status."""
        ...


def make_record(job: TimingJob, outcome: Outcome, git_commit: str | None = None) -> RunRecord:
    """Combine the job's identity with what was measured."""
    extra = {"record_id": job.record_id} if job.record_id else {}
    return RunRecord(
        run_id=job.run_id,
        plan=job.plan,
        git_commit=git_commit,
        model=job.model,
        artifact=job.artifact,
        target=outcome.target,
        timing=outcome.timing,
        tools=outcome.tools,
        status=outcome.status,
        error=outcome.error,
        fallback=outcome.fallback,
        energy=outcome.energy,
        **extra,
    )


def unsupported_record(job: TimingJob, runner: str, reason: str, device_id: str | None = None) -> RunRecord:
    """The record for a job this runner cannot do here, saying why."""
    target = TargetInfo(
        runner=runner, device_id=device_id or job.device_id, delegate=job.delegate, threads=job.threads
    )
    error = ErrorInfo(type="Unsupported", message=reason)
    return make_record(job, Outcome(target=target, status=Status.UNSUPPORTED, error=error))
