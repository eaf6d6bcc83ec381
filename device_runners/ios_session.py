"""One iOS timing once the device is found: build (or reuse) the app, install, launch, parse the console.

Everything the tools report becomes the record: a failed build is ``failed`` with the tail of the
build log, a device that went away during install or launch is ``failed`` with a TransportError,
an app that printed no timings is ``failed`` with NoTimings, and a delegate that declined ops is
recorded as fallback exactly as on Android (device_runners/adb_benchmark.py).
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

from common import process
from device_runners import devicectl, ios_app
from device_runners.adb_benchmark import fallback_info, timing_from_output
from device_runners.base import Outcome, TimingJob, make_record
from device_runners.benchmark_model_output import BenchmarkOutput, parse
from device_runners.devicectl import IosDevice
from results.schema import ErrorInfo, RunRecord, Status, Timing, ToolVersions

_INSTALL_TIMEOUT = 300.0
_BUILD_TIMEOUT = 1800.0  # a clean Release build links the benchmark framework
# What devicectl / simctl say when the phone is gone (unplugged, locked out, tunnel dropped).
_GONE = ("not found", "disconnected", "no longer", "unavailable", "not connected", "lost connection")
# How devicectl / simctl report an app that died (wording reconstructed, not captured): a signal.
_SIGNAL_NUMBER = re.compile(r"\bsignal (\d+)\b", re.IGNORECASE)
_SIGNAL_NAME = re.compile(r"\bSIG(SEGV|ABRT|BUS|ILL|KILL|TRAP|FPE)\b")
_DELEGATE_FLAGS = {"use_xnnpack", "use_gpu", "use_coreml"}
_NO_TIMINGS = (
    "the app printed no timings: the stock TFLiteBenchmark app starts only when its button is tapped; "
    "make your checkout run the benchmark at launch (docs/ios.md)"
)


def run_on_device(runner, job: TimingJob, device: IosDevice) -> RunRecord:
    """Build, install, launch and parse one job on ``device`` (see the module docstring)."""
    target = runner.target
    params = ios_app.benchmark_params(job.delegate, job.threads, job.settings, target.benchmark_flags)
    try:
        built = ios_app.build_app(
            runner.checkout(),
            Path(job.artifact.path),
            job.artifact.sha256,
            params,
            simulator=device.simulated,
            team=target.development_team,
            timeout=max(_BUILD_TIMEOUT, target.run_timeout_secs),
        )
    except FileNotFoundError as error:
        return runner.failed(job, device, "BuildError", str(error))
    except ios_app.BuildFailed as error:
        return runner.failed(
            job, device, "BuildError", str(error), error.argv, error.log_tail, error.returncode
        )
    tools = ToolVersions(benchmark_binary=f"{built.path.name} {built.bundle_id} build {built.key}")
    cooldown = max(target.cooldown_secs, job.settings.cooldown_secs)
    try:
        devicectl.install(device, built.path, _INSTALL_TIMEOUT)
        if cooldown:
            runner.sleep(cooldown)  # after the install, so the phone idles right before the run
        text = devicectl.launch_console(device, built.bundle_id, target.run_timeout_secs)
    except process.CommandTimeout as error:
        tail = process.tail(error.stdout + "\n" + error.stderr)
        launching = "launch" in error.argv
        message = f"{error}" + (
            ": the app must exit when the benchmark ends (docs/ios.md)" if launching else ""
        )
        return runner.failed(job, device, "CommandTimeout", message, error.argv, tail)
    except process.CommandError as error:
        return _command_failed(runner, job, device, error)
    except FileNotFoundError as error:
        return runner.failed(job, device, "TransportError", f"xcrun is gone: {error}")
    output = parse(text)
    refused = [flag for flag in output.unconsumed_flags if flag.split("=")[0].lstrip("-") in _DELEGATE_FLAGS]
    if refused:
        # The framework was built without this delegate's provider: the run would be a CPU run.
        reason = (
            f"the app's benchmark framework does not know {', '.join(refused)} (built without that delegate)"
        )
        return runner.unsupported(job, device, reason)
    if not output.has_timings:
        reason = output.errors[-1] if output.errors else _NO_TIMINGS
        return runner.failed(job, device, "NoTimings", reason, None, process.tail(text))
    timing = _timing(output, job)
    fallback = fallback_info(output, job.delegate)
    outcome = Outcome(
        runner.target_info(job, device), Status.OK, timing=timing, fallback=fallback, tools=tools
    )
    return make_record(job, outcome)


def _command_failed(runner, job: TimingJob, device: IosDevice, error: process.CommandError) -> RunRecord:
    text = error.stdout + "\n" + error.stderr
    tail = process.tail(text)
    # The tool's own report is on stderr; stdout is the app's console, which may say anything.
    report = error.stderr or text
    if any(word in report.lower() for word in _GONE):
        message = f"{device.name or device.identifier} went away: {process.tail(report, 2)}"
        return runner.failed(job, device, "TransportError", message, error.argv, tail, error.returncode)
    number = _app_signal(report)
    if number is not None:
        name = _signal_name(number)
        error_info = ErrorInfo(
            type=name,
            message=f"the benchmark app was killed by {name}",
            command=error.argv,
            returncode=error.returncode,
            signal=number,
            stderr_tail=tail or None,
        )
        outcome = Outcome(runner.target_info(job, device), Status.CRASHED, error=error_info)
        return make_record(job, outcome)
    return runner.failed(
        job, device, "CommandError", str(error).splitlines()[0], error.argv, tail, error.returncode
    )


def _app_signal(text: str) -> int | None:
    """The signal that ended the app, from the launch tool's report ("... signal 11 (SIGSEGV)")."""
    if match := _SIGNAL_NUMBER.search(text):
        return int(match.group(1))
    if match := _SIGNAL_NAME.search(text):
        return int(getattr(signal.Signals, "SIG" + match.group(1)))
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _timing(output: BenchmarkOutput, job: TimingJob) -> Timing:
    timing = timing_from_output(output, None, job.settings, job.delegate)
    update = {}
    if timing.init_ms is None and output.app_startup_ms is not None:
        update["init_ms"] = output.app_startup_ms
    if output.thermal_states:
        # ProcessInfo.thermalState, where the app prints it: the first and last readings of the run.
        update["thermal_before"] = output.thermal_states[0]
        update["thermal_after"] = output.thermal_states[-1]
    return timing.model_copy(update=update) if update else timing
