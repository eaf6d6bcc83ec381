"""The Runner base class every way of reaching hardware derives from, and the job it is given.

A runner class carries everything the rest of edgebench needs to know about it: the artifact formats it
times, its default delegates, the target keys it reads, how a target names its device, and how to probe
and discover its devices. The pipeline and ``edgebench devices`` ask the class through the registry
(``device_runners.registry``), so a new runner is one module plus one line in the registry.

A runner never raises for trouble on the device side: it returns a record whose status says what
happened (``unsupported`` with a reason, ``failed`` with a typed error, ``crashed`` with a signal).
It raises only for bad input (``common.errors.InputError``), which the CLI turns into exit code 2.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from common.ids import host_id
from results.energy import EnergyInfo
from results.schema import (
    ArtifactFormat,
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

if TYPE_CHECKING:
    from device_runners.targets import TargetConfig


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
    simulated: bool = False  # an Android emulator or the iOS Simulator, not a phone's hardware


@dataclass(frozen=True)
class Probe:
    """Whether one target is reachable now, for ``edgebench devices`` and the pipeline's reachability."""

    runner: str
    label: str  # the target's name or device id
    device: DeviceInfo | None  # set when reachable
    reason: str = ""  # why not, when unreachable

    @property
    def ok(self) -> bool:
        return self.device is not None


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


class Runner(abc.ABC):
    """A way of reaching hardware: the host, a phone over adb, a Mac, a board over SSH.

    Constructed as ``cls(target)`` with the target's :class:`~device_runners.targets.TargetConfig`, or
    ``cls()`` for the devices it finds by itself. Subclasses set the class attributes and implement
    :meth:`probe`, :meth:`supports` and :meth:`time`; the class methods have defaults that fit a runner
    whose device is this machine.
    """

    name: ClassVar[str] = ""  # set by device_runners.registry.register
    formats: ClassVar[tuple[ArtifactFormat, ...]] = ()  # the artifact formats it times
    defaults: ClassVar[tuple[Delegate, ...]] = ()  # what a target times when it lists no delegates
    target_keys: ClassVar[frozenset[str]] = frozenset()  # TargetConfig keys it reads beyond the common ones
    interleaves: ClassVar[bool] = (
        False  # time_many times a batch in interleaved rounds (the pipeline batches)
    )

    def __init__(self, target: TargetConfig | None = None) -> None:
        self.target = target

    @classmethod
    def takes(cls, artifact_format: ArtifactFormat) -> bool:
        """Whether this runner times artifacts of this format."""
        return artifact_format in cls.formats

    @classmethod
    def default_delegates(cls, target: TargetConfig) -> tuple[Delegate, ...]:
        """The delegates ``target`` times when its entry lists none."""
        return cls.defaults

    @classmethod
    def device_id_of(cls, target: TargetConfig) -> str:
        """The device id records of ``target`` carry: this machine's stable id, for a local runner."""
        return host_id()

    @classmethod
    def check_target(cls, target: TargetConfig) -> None:
        """Reject a target this runner cannot use beyond its keys (e.g. ssh without a host).

        Raises:
            ValueError: the message names the key (pydantic reports it on the target).
        """
        return None

    @classmethod
    def discover(cls, targets: Sequence[TargetConfig]) -> list[Probe]:
        """Probe the configured ``targets`` of this runner, or the runner's own devices when none.

        ``edgebench devices`` calls this for every registered runner.
        """
        runners = [cls(target) for target in targets] if targets else [cls()]
        return [probe for runner in runners for probe in runner.probe()]

    def devices(self) -> list[DeviceInfo]:
        """The devices this runner can reach now (empty when none)."""
        return [probe.device for probe in self.probe() if probe.device is not None]

    @abc.abstractmethod
    def probe(self) -> list[Probe]:
        """Each device this runner would use, reachable with its DeviceInfo or with the reason why not."""

    @abc.abstractmethod
    def supports(self, job: TimingJob) -> Support:
        """Whether ``job`` can run here; never raises."""

    @abc.abstractmethod
    def time(self, job: TimingJob) -> RunRecord:
        """Time one job and return its record; device-side trouble becomes the record's status."""

    def time_many(self, jobs: Sequence[TimingJob]) -> list[RunRecord]:
        """Time several jobs, records in the jobs' order. One after the other here; the host runner
        interleaves them in rounds (``device_runners.rounds``)."""
        return [self.time(job) for job in jobs]


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
