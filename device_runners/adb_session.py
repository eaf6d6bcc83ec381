"""One attempt at one adb timing: push, run benchmark_model, read thermals, pull the result, clean up.

Transport errors propagate to :class:`device_runners.adb.AdbRunner`, which retries on a fresh
connection; everything the device itself reports (a bad exit, a crash, no timings) becomes the record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import signal
import uuid
from pathlib import Path

from common import process
from device_runners.adb_benchmark import (
    benchmark_argv,
    fallback_info,
    rejected_optional_flags,
    timing_from_output,
)
from device_runners.adb_power import PhonePower
from device_runners.adb_transport import EXECUTABLE_MODE, DeviceTimeout, TransportError
from device_runners.android_info import ThermalReading, elf_machine, parse_thermal
from device_runners.base import DeviceInfo, Outcome, TimingJob, make_record, unsupported_record
from device_runners.benchmark_model_output import BenchmarkOutput, parse
from device_runners.benchmark_result_proto import ProtoDecodeError, decode_result
from device_runners.sustained import DEFAULT_CHUNK_SECS, ChunkFailed, SustainedPlan, run_sustained
from results.schema import ErrorInfo, RunRecord, Status, TargetInfo, Timing, ToolVersions

DEFAULT_REMOTE_DIR = "/data/local/tmp"
_SHORT_TIMEOUT = 60.0
_CALIBRATION = {"warmup_runs": "1", "warmup_min_secs": "0", "num_runs": "10", "min_secs": "0"}


class _BenchmarkExit(Exception):
    """benchmark_model exited non-zero (inside a sustained chunk)."""

    def __init__(self, argv: list[str], exit_code: int, output: str) -> None:
        super().__init__(f"exit {exit_code}")
        self.argv, self.exit_code, self.output = argv, exit_code, output


class Session:
    """State of one attempt; ``transport`` is None for the record written after the last failed attempt."""

    def __init__(self, runner, transport, job: TimingJob, binary: Path | None) -> None:
        self.runner = runner
        self.target = runner.target
        self.transport = transport
        self.job = job
        self.binary = binary
        self.device_id = transport.serial if transport is not None else runner.target.device_id
        self.info: DeviceInfo | None = None
        self.remote_dir: str | None = None

    # -- the attempt ---------------------------------------------------------------------------------

    def run(self) -> RunRecord:
        """Push, time, clean up later; raises TransportError / DeviceTimeout for the runner to handle."""
        self.info, props = self.runner.read_device(self.transport)
        abis = [a for a in props.get("ro.product.cpu.abilist", self.info.abi or "").split(",") if a]
        binary_abi = elf_machine(self.binary.read_bytes()[:20])
        if binary_abi and abis and binary_abi not in abis:
            reason = (
                f"benchmark_model {str(self.binary)!r} is built for {binary_abi}; "
                f"the device runs {', '.join(abis)}"
            )
            return unsupported_record(self.job, "adb", reason, self.device_id)
        base = (self.target.remote_dir or DEFAULT_REMOTE_DIR).rstrip("/")
        self.remote_dir = f"{base}/edgebench-{uuid.uuid4().hex[:12]}"
        self._checked(["mkdir", "-p", self.remote_dir])
        remote_binary = f"{self.remote_dir}/benchmark_model"
        remote_model = f"{self.remote_dir}/{Path(self.job.artifact.path).name}"
        timeout = self.target.run_timeout_secs
        self.transport.push(self.binary, remote_binary, timeout, EXECUTABLE_MODE)
        self.transport.push(Path(self.job.artifact.path), remote_model, timeout)
        cooldown = max(self.target.cooldown_secs, self.job.settings.cooldown_secs)
        if cooldown:
            self.runner.sleep(cooldown)
        before = self.thermal()
        if self.job.settings.sustained_fps and self.job.settings.sustained_secs:
            outcome = self._sustained(remote_binary, remote_model)
        else:
            outcome = self._steady(remote_binary, remote_model)
        if outcome.timing is not None:
            after = self.thermal()
            thermals = {"thermal_before": before.describe(), "thermal_after": after.describe()}
            outcome = dataclasses.replace(outcome, timing=outcome.timing.model_copy(update=thermals))
        return make_record(self.job, outcome)

    def _steady(self, remote_binary: str, remote_model: str) -> Outcome:
        supports_proto = self.runner.proto_support.get(self.device_id, True)
        result_file = f"{self.remote_dir}/result.pb" if supports_proto else None
        argv, exit_code, text = self._benchmark(remote_binary, remote_model, result_file)
        output = parse(text)
        if result_file and rejected_optional_flags(output):
            # An old binary: remember, and run again with the flags it knows if it refused to run.
            self.runner.proto_support[self.device_id] = False
            result_file = None
            if exit_code != 0 or not output.has_timings:
                argv, exit_code, text = self._benchmark(remote_binary, remote_model, None)
                output = parse(text)
        if exit_code != 0:
            return self._exit_outcome(argv, exit_code, text, output)
        proto = self._pull_proto(result_file) if result_file else None
        if not output.has_timings and proto is None:
            return self._error_outcome(
                "NoTimings", "benchmark_model exited 0 but printed no timings", argv, text
            )
        timing = timing_from_output(output, proto, self.job.settings, self.job.delegate)
        return self._ok(timing, output)

    def _sustained(self, remote_binary: str, remote_model: str) -> Outcome:
        settings = self.job.settings
        chunk = self.target.sustained.chunk_secs if self.target.sustained else DEFAULT_CHUNK_SECS
        plan = SustainedPlan(settings.sustained_fps, settings.sustained_secs, chunk)

        def run_chunk(overrides: dict[str, str]) -> BenchmarkOutput:
            argv, exit_code, text = self._benchmark(remote_binary, remote_model, None, overrides)
            if exit_code != 0:
                raise _BenchmarkExit(argv, exit_code, text)
            return parse(text)

        power = PhonePower(self) if self.target.sustained and self.target.sustained.power else None
        try:
            if power is not None:
                power.prepare()
            calibration = run_chunk(_CALIBRATION)
            mean = calibration.run.get("avg") if calibration.run else None
            if power is not None:
                power.begin()  # the idle baseline, then readings in the background
            result = run_sustained(plan, run_chunk, lambda: self.thermal().hottest_c, mean and mean / 1000.0)
        except _BenchmarkExit as error:
            return self._exit_outcome(error.argv, error.exit_code, error.output, parse(error.output))
        except ChunkFailed as error:
            return self._error_outcome("NoTimings", str(error), None, "")
        finally:
            if power is not None:
                power.stop()
                power.restore()  # `dumpsys battery unplug` never outlives the run, whatever happened
        first = result.first_output
        base = timing_from_output(first, None, settings, self.job.delegate)
        timing = Timing(
            settings=settings,
            samples_ms=result.samples_ms,
            init_ms=base.init_ms,
            ops_total=base.ops_total,
            ops_outside_delegate=base.ops_outside_delegate,
            sustained=result.trace,
        )
        outcome = self._ok(timing, first)
        if power is None:
            return outcome
        return dataclasses.replace(outcome, energy=power.chunked_energy(timing, plan, len(result.samples_ms)))

    # -- device helpers ------------------------------------------------------------------------------

    def _benchmark(self, binary: str, model: str, result_file: str | None, overrides=None):
        argv = benchmark_argv(
            binary,
            model,
            self.job.delegate,
            self.job.threads,
            self.job.settings,
            result_file=result_file,
            extra_flags=self.target.benchmark_flags,
            overrides=overrides,
        )
        result = self.transport.shell(argv, self.target.run_timeout_secs)
        return argv, result.exit_code, result.output

    def _pull_proto(self, remote: str):
        try:
            return decode_result(self.transport.pull(remote, _SHORT_TIMEOUT))
        except (FileNotFoundError, ProtoDecodeError):
            return None  # the binary did not write it: stdout has the same numbers

    def thermal(self) -> ThermalReading:
        """Thermal status and temperatures now (empty where dumpsys has no such service)."""
        service = self.transport.shell(["dumpsys", "thermalservice"], _SHORT_TIMEOUT)
        battery = self.transport.shell(["dumpsys", "battery"], _SHORT_TIMEOUT)
        return parse_thermal(
            service.output if service.exit_code == 0 else "", battery.output if battery.exit_code == 0 else ""
        )

    def _checked(self, argv: list[str]) -> None:
        result = self.transport.shell(argv, _SHORT_TIMEOUT)
        if result.exit_code != 0:
            raise TransportError(
                f"{' '.join(argv[:2])} failed on the device: {process.tail(result.output, 2)}"
            )

    def cleanup(self) -> None:
        """Remove the pushed files; best effort (the device may be gone)."""
        if self.transport is None or self.remote_dir is None:
            return
        with contextlib.suppress(TransportError, DeviceTimeout):
            self.transport.shell(["rm", "-rf", self.remote_dir], _SHORT_TIMEOUT)

    # -- outcomes ------------------------------------------------------------------------------------

    def _target_info(self) -> TargetInfo:
        info = self.info
        return TargetInfo(
            runner="adb",
            device_id=self.device_id,
            device_model=info.model if info else None,
            os=info.os if info else None,
            soc=info.soc if info else None,
            abi=info.abi if info else None,
            delegate=self.job.delegate,
            threads=self.job.threads,
            simulated=info.simulated if info else self.device_id.startswith("emulator-"),
        )

    def _tools(self) -> ToolVersions:
        if self.binary is None or not self.binary.is_file():
            return ToolVersions()
        digest = hashlib.sha256(self.binary.read_bytes()).hexdigest()[:12]
        return ToolVersions(benchmark_binary=f"{self.binary.name} sha256:{digest}")

    def _ok(self, timing: Timing, output: BenchmarkOutput) -> Outcome:
        fallback = fallback_info(output, self.job.delegate)
        return Outcome(self._target_info(), Status.OK, timing=timing, fallback=fallback, tools=self._tools())

    def _exit_outcome(self, argv: list[str], code: int, text: str, output: BenchmarkOutput) -> Outcome:
        # The device shell reports a signal death as 128 + the signal number.
        if 128 < code < 160:
            number = code - 128
            name = _signal_name(number)
            error = ErrorInfo(
                type=name,
                message=f"benchmark_model was killed by {name}",
                command=argv,
                returncode=code,
                signal=number,
                stderr_tail=process.tail(text),
            )
            return Outcome(self._target_info(), Status.CRASHED, error=error, tools=self._tools())
        reason = output.errors[-1] if output.errors else process.tail(text, 1)
        if output.cpu_fallback_disallowed:
            delegate = self.job.delegate.value
            reason = f"the {delegate} delegate could not take the whole graph (CPU fallback disallowed)"
        return self._error_outcome(
            "CommandError", f"benchmark_model exited with {code}: {reason}", argv, text, code
        )

    def _error_outcome(self, kind: str, message: str, argv, text: str, code: int | None = None) -> Outcome:
        error = ErrorInfo(
            type=kind, message=message, command=argv, returncode=code, stderr_tail=process.tail(text) or None
        )
        return Outcome(self._target_info(), Status.FAILED, error=error, tools=self._tools())

    def failed(self, kind: str, message: str) -> RunRecord:
        """The record of an attempt that could not finish (transport gone, device timeout)."""
        return make_record(self.job, self._error_outcome(kind, message, None, ""))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
