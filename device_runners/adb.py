"""Time .tflite artifacts on Android phones and emulators with LiteRT's ``benchmark_model`` over adb.

One timing: read the device's properties, push the user's benchmark_model binary and the model into a
fresh directory under /data/local/tmp, read the thermal state, run the binary (once, or in chunks for
sustained mode), read the thermal state again, pull the result proto when the binary wrote one, and
remove the directory. A broken connection is retried on a fresh one with exponential backoff; when
every attempt fails the record is ``failed`` with a TransportError. The device is reached through a
running ``adb`` server when the ``adb`` program is on PATH, else directly with adb-shell (TCP
``host:port``, or USB when libusb is installed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from common.errors import InputError
from common.retry import GaveUp, retry
from device_runners import adb_power, adb_session
from device_runners.adb_server import ServerTransport, server_devices
from device_runners.adb_transport import (
    DeviceTimeout,
    LibraryTransport,
    TransportError,
    UsbUnavailable,
    load_signers,
    tcp_device,
    usb_device,
)
from device_runners.android_info import android_props, parse_getprop
from device_runners.base import DeviceInfo, Probe, Runner, Support, TimingJob, unsupported_record
from device_runners.registry import register
from device_runners.targets import ADB_TCP_PORT, TargetConfig, benchmark_model_path, env_targets
from results.schema import ArtifactFormat, Delegate, RunRecord

ADB_DELEGATES = (Delegate.CPU, Delegate.XNNPACK, Delegate.GPU, Delegate.NNAPI)
_MISSING_BINARY = (
    "no benchmark_model binary: download LiteRT's android_aarch64_benchmark_model (or the x86_64 one for "
    "an emulator) and set the target's benchmark_model: or $EDGEBENCH_BENCHMARK_MODEL to its path"
)


@register("adb")
class AdbRunner(Runner):
    """Android over adb. ``AdbRunner(target)``; without a target, the job's device id picks the device.

    Args:
        target: How to reach the device (serial, or host and port), the binary, retries.
        transport_factory: For tests: builds the transport for a device id instead of the default choice.
        sleep: For tests: the backoff and cooldown sleep.
    """

    formats = (ArtifactFormat.TFLITE,)
    # NNAPI is timed only when a target lists it: Android 15 deprecates it.
    defaults = (Delegate.CPU, Delegate.XNNPACK, Delegate.GPU)
    target_keys = frozenset(
        {
            "serial",
            "host",
            "port",
            "benchmark_model",
            "benchmark_flags",
            "adb_key",
            "use_adb_server",
            "remote_dir",
            "connect_timeout_secs",
        }
    )

    def __init__(
        self, target: TargetConfig | None = None, *, transport_factory=None, sleep=time.sleep
    ) -> None:
        super().__init__(target or TargetConfig(runner="adb"))
        self._factory = transport_factory
        self.sleep = sleep
        self.proto_support: dict[str, bool] = {}  # device id -> whether its binary writes the result proto
        self.pending_resets: dict[str, str] = {}  # device id -> why its `dumpsys battery unplug` is not reset

    # -- discovery -----------------------------------------------------------------------------------

    @classmethod
    def device_id_of(cls, target: TargetConfig) -> str:
        """The serial, else ``host:port``, else "auto" (the only device the adb server sees)."""
        if target.serial:
            return target.serial
        if not target.host:
            return "auto"
        return f"{target.host}:{target.port or ADB_TCP_PORT}"

    @classmethod
    def discover(cls, targets: Sequence[TargetConfig]) -> list[Probe]:
        """The server's and the environment's devices (less those configured), then the configured ones."""
        configured = {target.device_id for target in targets}
        found = [probe for probe in cls().probe() if _probe_id(probe) not in configured or not probe.ok]
        return found + [probe for target in targets for probe in cls(target).probe()]

    def probe(self) -> list[Probe]:
        """This target's device; without one, every device the adb server lists or the environment names.

        Each probe is reachable (with getprop's facts) or carries the reason why not.
        """
        if self.target.device_id != "auto":
            return [self._probe_one()]
        probes: list[Probe] = []
        listed: set[str] = set()
        if self._use_server():
            try:
                for found in server_devices():
                    listed.add(found.serial)
                    probes.append(self._probe_server_device(found.serial, found.state))
            except TransportError as error:
                probes.append(Probe("adb", "adb server", None, str(error)))
        for target in env_targets():
            if target.runner == "adb" and target.device_id not in listed:
                probes.append(AdbRunner(target, transport_factory=self._factory)._probe_one())
        if not probes:
            reason = (
                "no adb server (adb not on PATH) and no device configured "
                "(a target's serial or host, or $EDGEBENCH_ADB_DEVICES)"
            )
            probes.append(Probe("adb", "adb", None, reason))
        return probes

    def _probe_server_device(self, serial: str, state: str) -> Probe:
        if state != "device":
            hint = " (accept the USB debugging prompt on the phone)" if state == "unauthorized" else ""
            return Probe("adb", serial, None, f"adb state is {state!r}{hint}")
        target = TargetConfig(name=serial, runner="adb", serial=serial, use_adb_server=True)
        return AdbRunner(target, transport_factory=self._factory)._probe_one()

    def _probe_one(self) -> Probe:
        transport = None
        try:
            transport = self._transport(self.target.device_id)
            return Probe("adb", self.target.label, self.read_device(transport)[0])
        except (TransportError, DeviceTimeout) as error:
            return Probe("adb", self.target.label, None, str(error))
        finally:
            if transport is not None:
                transport.close()

    def read_device(self, transport) -> tuple[DeviceInfo, dict[str, str]]:
        """Model, SoC, Android version and ABI from getprop, and getprop's whole dict."""
        result = transport.shell(["getprop"], self.target.connect_timeout_secs * 3)
        props = parse_getprop(result.output)
        info = android_props(props)
        return DeviceInfo(
            runner="adb",
            device_id=transport.serial,
            model=info.device_model + (" (emulator)" if info.emulator and info.device_model else ""),
            os=info.os,
            soc=info.soc,
            abi=info.abi,
            delegates=ADB_DELEGATES,
            # An emulator: getprop says so (ro.kernel.qemu=1, goldfish / ranchu), or the serial does.
            simulated=info.emulator or transport.serial.startswith("emulator-"),
        ), props

    # -- timing --------------------------------------------------------------------------------------

    def supports(self, job: TimingJob) -> Support:
        """Whether the job can run: a tflite artifact, an adb delegate, a benchmark_model binary."""
        if job.artifact.format is not ArtifactFormat.TFLITE:
            return Support.no(f"adb runs .tflite artifacts only; got {job.artifact.format.value}")
        if job.delegate not in ADB_DELEGATES:
            allowed = ", ".join(d.value for d in ADB_DELEGATES)
            return Support.no(
                f"delegate {job.delegate.value!r} is not available over adb; allowed: {allowed}"
            )
        binary = benchmark_model_path(self.target)
        if binary is None:
            return Support.no(_MISSING_BINARY)
        if not binary.is_file():
            return Support.no(f"benchmark_model: {str(binary)!r} does not exist")
        return Support.yes()

    def time(self, job: TimingJob) -> RunRecord:
        """Time one job; transport trouble is retried, then recorded as ``failed``.

        Raises:
            InputError: the configured benchmark_model path or the artifact file does not exist.
        """
        device_id = self._device_id(job)
        binary = benchmark_model_path(self.target)
        if binary is not None and not binary.is_file():
            raise InputError(
                f"benchmark_model: {str(binary)!r} does not exist "
                "(set by the target or $EDGEBENCH_BENCHMARK_MODEL)"
            )
        if not Path(job.artifact.path).is_file():
            raise InputError(f"artifact: {job.artifact.path!r} does not exist")
        support = self.supports(job)
        if not support.ok:
            return unsupported_record(job, "adb", support.reason, device_id)
        try:
            return retry(
                lambda: self._attempt(job, device_id, binary),
                on=(TransportError,),
                attempts=self.target.retries + 1,
                first_backoff_secs=self.target.retry_backoff_secs,
                sleep=self.sleep,
            )
        except GaveUp as gave_up:
            record = adb_session.Session(self, None, job, binary).failed("TransportError", str(gave_up))
            return adb_power.after_failure(self, device_id, record)

    def _attempt(self, job: TimingJob, device_id: str, binary: Path | None) -> RunRecord:
        """One try on a fresh connection; a TransportError means the link broke (worth retrying)."""
        try:
            transport = self._transport(device_id)
        except UsbUnavailable as error:
            return unsupported_record(job, "adb", str(error), device_id)
        session = adb_session.Session(self, transport, job, binary)
        try:
            return session.run()
        except DeviceTimeout as error:
            return session.failed("DeviceTimeout", str(error))
        finally:
            session.cleanup()
            transport.close()

    # -- plumbing ------------------------------------------------------------------------------------

    def _device_id(self, job: TimingJob) -> str:
        if self.target.device_id != "auto":
            return self.target.device_id
        if job.device_id not in ("local", "auto"):
            return job.device_id
        if self._use_server():
            try:
                ready = [d.serial for d in server_devices() if d.state == "device"]
            except TransportError:
                ready = []
            if len(ready) == 1:
                return ready[0]
        return "auto"

    def _use_server(self) -> bool:
        import shutil

        if self.target.use_adb_server is not None:
            return self.target.use_adb_server
        return self.target.host is None and shutil.which("adb") is not None

    def _transport(self, device_id: str):
        if self._factory is not None:
            return self._factory(device_id)
        if self._use_server():
            return ServerTransport(device_id)
        host, port = self.target.host, self.target.port or ADB_TCP_PORT
        if host is None and ":" in device_id:
            host, _, text = device_id.rpartition(":")
            port = int(text) if text.isdigit() else ADB_TCP_PORT
        signers = load_signers(self.target.adb_key)
        if host is not None:
            return LibraryTransport(
                tcp_device(host, port), device_id, signers, self.target.connect_timeout_secs
            )
        return LibraryTransport(
            usb_device(None if device_id == "auto" else device_id),
            device_id,
            signers,
            self.target.connect_timeout_secs,
        )


def _probe_id(probe: Probe) -> str:
    return probe.device.device_id if probe.device is not None else probe.label
