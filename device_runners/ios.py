"""Time .tflite artifacts on iPhones (and the iOS Simulator) with LiteRT's iOS benchmark app.

Driven from this machine when it is a Mac with Xcode 15+ (the SSH transport to a remote Mac is not
implemented: run edgebench on the Mac). One timing: find the device with ``xcrun devicectl`` (or
``xcrun simctl`` for a simulator target), build the user's checkout of the app with the artifact and a
generated ``benchmark_params.json`` (cached by the artifact's sha256 and the params,
``device_runners/ios_app.py``), install it, launch it with its console attached, and parse what it
prints with the same parser as Android's ``benchmark_model``. The stock app starts the benchmark when its
button is tapped; for unattended runs the checkout must start it at launch and exit when done
(docs/ios.md), otherwise the record says no timings were printed or the launch timed out.

Delegates: ``cpu`` (builtin kernels), ``xnnpack``, ``gpu`` (the Metal delegate) and ``coreml_delegate``
(LiteRT's Core ML delegate, A12 and newer); ops a delegate declined are recorded as fallback. Simulator
records carry ``simulated: true``: they prove the artifact loads and runs, not how fast a phone is.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from common import process
from common.errors import InputError
from device_runners import devicectl, ios_session
from device_runners.base import (
    DeviceInfo,
    Outcome,
    Probe,
    Runner,
    Support,
    TimingJob,
    make_record,
)
from device_runners.devicectl import IosDevice
from device_runners.ios_models import core_ml_delegate_available
from device_runners.registry import register
from device_runners.targets import TargetConfig
from results.schema import ArtifactFormat, Delegate, ErrorInfo, RunRecord, Status, TargetInfo

IOS_DELEGATES = (Delegate.CPU, Delegate.XNNPACK, Delegate.GPU, Delegate.COREML_DELEGATE)
# The Simulator runs the app on the Mac's CPU: a functional check of the CPU paths only.
SIMULATOR_DELEGATES = (Delegate.CPU, Delegate.XNNPACK)
IOS_APP_ENV = "EDGEBENCH_IOS_APP"


def host_platform() -> str:
    """This machine's platform name (a function, so tests can stand in a Mac)."""
    return sys.platform


def ios_app_path(target: TargetConfig, environ: dict[str, str] | None = None) -> Path | None:
    """The app checkout: the target's ``ios_app``, else ``$EDGEBENCH_IOS_APP``, else None."""
    environ = os.environ if environ is None else environ
    if target.ios_app is not None:
        return target.ios_app.expanduser()
    value = environ.get(IOS_APP_ENV, "").strip()
    return Path(value).expanduser() if value else None


@register("ios")
class IosRunner(Runner):
    """iPhones through Xcode's tools on this Mac. ``IosRunner(target)``.

    Args:
        target: The device (serial: UDID, devicectl identifier or name; none = the only one connected),
            the app checkout (ios_app), signing team, ``simulator: true`` for the iOS Simulator.
        system: For tests: the platform name (``sys.platform``), to run the macOS path elsewhere.
        sleep: For tests: the cooldown sleep.
    """

    formats = (ArtifactFormat.TFLITE,)
    defaults = IOS_DELEGATES
    target_keys = frozenset({"serial", "ios_app", "development_team", "simulator", "benchmark_flags"})
    # run_timeout_secs (common key) bounds one launch: the app must exit when its benchmark ends.

    def __init__(
        self, target: TargetConfig | None = None, *, system: str | None = None, sleep=time.sleep
    ) -> None:
        super().__init__(target or TargetConfig(runner="ios"))
        self.system = system or host_platform()
        self.sleep = sleep  # the cooldown before a launch

    @classmethod
    def device_id_of(cls, target: TargetConfig) -> str:
        """The serial (UDID), else "auto" (the only iPhone or booted simulator found)."""
        return target.serial or "auto"

    @classmethod
    def default_delegates(cls, target: TargetConfig) -> tuple[Delegate, ...]:
        return SIMULATOR_DELEGATES if target.simulator else IOS_DELEGATES

    @classmethod
    def discover(cls, targets: Sequence[TargetConfig]) -> list[Probe]:
        """Configured targets, or every iPhone devicectl knows and every booted iPhone simulator."""
        if targets:
            return [probe for target in targets for probe in cls(target).probe()]
        runner = cls()
        reason = runner.host_problem()
        if reason:
            return [Probe("ios", "ios", None, reason)]
        probes = [runner._as_probe(device) for device in runner._candidates(simulator=False)]
        probes += [
            runner._as_probe(device) for device in runner._candidates(simulator=True) if device.reachable
        ]
        return probes or [Probe("ios", "ios", None, "no iPhone connected (xcrun devicectl list devices)")]

    # -- reaching the device -------------------------------------------------------------------------

    def host_problem(self) -> str:
        """Why this machine cannot drive an iPhone ("" when it can)."""
        if self.system != "darwin":
            return (
                f"iPhones are driven from a Mac with Xcode (xcrun devicectl); this machine runs {self.system}"
            )
        if shutil.which("xcrun") is None or shutil.which("xcodebuild") is None:
            return "xcrun / xcodebuild not found: install Xcode 15 or newer and select it (xcode-select -s)"
        return ""

    def _candidates(self, simulator: bool) -> list[IosDevice]:
        try:
            return devicectl.list_simulators() if simulator else devicectl.list_devices()
        except (process.CommandError, process.CommandTimeout, FileNotFoundError) as error:
            tool = "simctl" if simulator else "devicectl"
            return [IosDevice("", None, tool, None, None, None, None, False, f"xcrun {tool} failed: {error}")]

    def find_device(self) -> tuple[IosDevice | None, str]:
        """The target's device, or None and why it cannot be reached now."""
        wanted = self.target.serial
        devices = [d for d in self._candidates(self.target.simulator) if d.identifier or d.reason]
        failures = [d.reason for d in devices if not d.identifier]
        if failures:
            return None, failures[0]
        kind = "simulator" if self.target.simulator else "iPhone"
        if wanted:
            found = [d for d in devices if d.matches(wanted)]
            if not found:
                return None, f"no {kind} {wanted!r} is known to Xcode (connected and trusted?)"
            return (found[0], "") if found[0].reachable else (None, f"{wanted}: {found[0].reason}")
        ready = [d for d in devices if d.reachable]
        if len(ready) != 1:
            names = ", ".join(d.name or d.identifier for d in ready)
            return None, f"{len(ready)} {kind}s ready ({names or 'none'}): set the target's serial"
        return ready[0], ""

    def probe(self) -> list[Probe]:
        """This target's device, reachable with its model, iOS version and SoC, or why not."""
        reason = self.host_problem()
        if reason:
            return [Probe("ios", self.target.label, None, reason)]
        device, reason = self.find_device()
        if device is None:
            return [Probe("ios", self.target.label, None, reason)]
        return [self._as_probe(device, self.target.name)]

    def _as_probe(self, device: IosDevice, label: str | None = None) -> Probe:
        label = label or device.name or device.identifier
        if not device.reachable:
            return Probe("ios", label, None, device.reason)
        delegates = SIMULATOR_DELEGATES if device.simulated else IOS_DELEGATES
        info = DeviceInfo("ios", device.udid or device.identifier, device.model, device.os, device.soc,
                          "arm64", delegates, simulated=device.simulated)  # fmt: skip
        return Probe("ios", label, info)

    # -- timing --------------------------------------------------------------------------------------

    def supports(self, job: TimingJob) -> Support:
        """Whether the job can run: a Mac with Xcode, a tflite file, an iOS delegate, the app checkout."""
        reason = self.host_problem()
        if reason:
            return Support.no(reason)
        if job.artifact.format is not ArtifactFormat.TFLITE:
            return Support.no(
                f"the iOS benchmark app runs .tflite artifacts only; got {job.artifact.format.value}"
            )
        allowed = SIMULATOR_DELEGATES if self.target.simulator else IOS_DELEGATES
        if job.delegate not in allowed:
            where = "the iOS Simulator" if self.target.simulator else "an iPhone"
            names = ", ".join(d.value for d in allowed)
            return Support.no(
                f"delegate {job.delegate.value!r} is not available on {where}; allowed: {names}"
            )
        if job.settings.sustained_fps:
            return Support.no(
                "sustained mode needs fixed-rate invocations; "
                "LiteRT's iOS benchmark app runs back to back only"
            )
        checkout = ios_app_path(self.target)
        if checkout is None:
            return Support.no(
                f"no ios_app: set the target's ios_app (or ${IOS_APP_ENV}) to your checkout of "
                "LiteRT's iOS benchmark app (docs/ios.md)"
            )
        if not checkout.is_dir():
            return Support.no(f"ios_app: {str(checkout)!r} does not exist")
        return Support.yes()

    def time(self, job: TimingJob) -> RunRecord:
        """Build (or reuse), install, launch and parse; device trouble becomes the record's status.

        Raises:
            InputError: the artifact file does not exist.
        """
        if not Path(job.artifact.path).is_file():
            raise InputError(f"artifact: {job.artifact.path!r} does not exist")
        support = self.supports(job)
        if not support.ok:
            return self.unsupported(job, None, support.reason)
        device, reason = self.find_device()
        if device is None:
            return self.failed(job, None, "TransportError", reason)
        if job.delegate is Delegate.COREML_DELEGATE and core_ml_delegate_available(device.soc) is False:
            reason = f"LiteRT's Core ML delegate needs an A12 or newer; {device.model} has the {device.soc}"
            return self.unsupported(job, device, reason)
        return ios_session.run_on_device(self, job, device)

    def checkout(self) -> Path:
        """The app checkout (``supports`` has made sure it is set)."""
        path = ios_app_path(self.target)
        if path is None:
            raise InputError("ios_app: not set on the target nor in $" + IOS_APP_ENV)
        return path

    def target_info(self, job: TimingJob, device: IosDevice | None) -> TargetInfo:
        """The record's target: the device as devicectl / simctl described it."""
        return TargetInfo(
            runner="ios",
            device_id=(device.udid or device.identifier) if device else self.target.device_id,
            device_model=device.model if device else None,
            os=device.os if device else None,
            soc=device.soc if device else None,
            abi="arm64" if device and not device.simulated else None,
            delegate=job.delegate,
            threads=job.threads,
            simulated=device.simulated if device else self.target.simulator,
        )

    def unsupported(self, job: TimingJob, device: IosDevice | None, reason: str) -> RunRecord:
        """An ``unsupported`` record saying why; a simulator target's record stays flagged simulated."""
        error = ErrorInfo(type="Unsupported", message=reason)
        return make_record(job, Outcome(self.target_info(job, device), Status.UNSUPPORTED, error=error))

    def failed(self, job, device, kind, message, command=None, tail=None, code=None) -> RunRecord:
        """A ``failed`` record: the typed error, its command, exit code and output tail."""
        error = ErrorInfo(
            type=kind, message=message, command=command, returncode=code, stderr_tail=tail or None
        )
        outcome = Outcome(self.target_info(job, device), Status.FAILED, error=error)
        return make_record(job, outcome)
