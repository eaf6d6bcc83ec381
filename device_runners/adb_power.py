"""Power sampling of one sustained adb timing: check the charger, idle baseline, background readings, reset.

Used by :class:`device_runners.adb_session.Session` when the target's ``sustained.power`` is set. The
readings during the run come from a thread with its own adb connection (benchmark_model blocks the
session's connection for a whole chunk), one ``cat current_now voltage_now`` per interval, plus one
reading right before and one right after the run so even a short run has an interval to integrate.
See ``power_android.py`` for what is refused and why.
"""

from __future__ import annotations

import contextlib
import threading
import time

from device_runners import energy_record
from device_runners import power_android as pa
from device_runners.adb_transport import DeviceTimeout, TransportError
from results.energy import BatteryState, EnergyInfo, PowerSource, PowerTrace, not_available, refused
from results.schema import RunRecord, Timing

_TIMEOUT = 30.0
_RESET = ["dumpsys", "battery", "reset"]


class PhonePower:
    """One sustained run's power measurement on a phone (``session`` gives the transport and target)."""

    def __init__(self, session, clock=time.monotonic) -> None:
        self.session = session
        self.config = session.target.sustained
        self.clock = clock
        self.refusal: EnergyInfo | None = None
        self.supply: str | None = None
        self.before: pa.BatteryDump | None = None
        self.kernel_status: str | None = None
        self.unplugged = False
        self.restore_error: str | None = None
        self.notes: list[str] = []
        self.idle: list[tuple[float, tuple[float, float]]] = []
        self.readings: list[tuple[float, tuple[float, float]]] = []
        self._sampler: _Sampler | None = None
        self.capacity: tuple[float | None, str | None] = (None, None)
        self.screen: str | None = None  # mWakefulness before the run

    # -- before the run ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Find the battery, read its state, unplug when allowed and needed; set ``refusal`` if unusable."""
        self._restore_pending()
        listing = self._shell(["ls", pa.SUPPLY_DIR])
        names = listing.split()
        types = {name: self._shell(["cat", f"{pa.SUPPLY_DIR}/{name}/type"]) for name in names}
        self.supply = pa.choose_supply(names, types)
        self.before = pa.parse_dumpsys_battery(self._shell(["dumpsys", "battery"]))
        if self.supply is None:
            self.refusal = not_available(
                f"no battery under {pa.SUPPLY_DIR} (entries: {', '.join(names) or 'none'})"
            )
            return
        self.kernel_status = self._shell(["cat", self._path("status")]).strip() or None
        self.capacity = self._capacity()
        self.screen = pa.screen_state(self._shell(["dumpsys", "power"]))
        if self.config.power_monitor:
            self.notes.append(
                "power_monitor: the gauge's magnitude is used; compare with the monitor's own log"
            )
            return
        reason = pa.charging_refusal(self.before, self.kernel_status, unplugged=False)
        if self.config.allow_unplug and (reason or self.before.powered):
            # Also with charging disabled: Android applies its on-charger policies while it sees power.
            result = self.session.transport.shell(["dumpsys", "battery", "unplug"], _TIMEOUT)
            if result.exit_code != 0:
                why = result.output.strip()[-200:] or f"exit {result.exit_code}"
                self.refusal = refused(f"`dumpsys battery unplug` failed on the device: {why}")
                return
            self.unplugged = True
            self.session.runner.pending_resets[self.session.device_id] = "not reset yet"
            self.kernel_status = self._shell(["cat", self._path("status")]).strip() or None
            reason = pa.charging_refusal(self.before, self.kernel_status, unplugged=True)
        elif self.before.powered and not reason:
            self.notes.append(
                f"Android sees {'/'.join(self.before.powered).upper()} power and applies its on-charger "
                "policies; allow_unplug makes it behave as on battery"
            )
        if reason:
            self.refusal = refused(reason, sensor=self._path(""))

    def idle_baseline(self) -> None:
        """Readings for ``idle_secs`` before the run: what the phone draws doing nothing of ours."""
        start = self.clock()
        while True:
            pair = self._read(self.session.transport)
            if pair is not None:
                self.idle.append((round(self.clock() - start, 4), pair))
            if self.clock() - start >= self.config.idle_secs:
                break
            self.session.runner.sleep(self.config.power_interval_secs)
        if not self.idle:
            self.refusal = not_available(f"{self._path('current_now')} and voltage_now gave no readable pair")

    def begin(self) -> None:
        """Unless already refused: the idle baseline, then background readings."""
        if self.refusal is None:
            self.idle_baseline()
        if self.refusal is None:
            self.start()

    # -- during the run ------------------------------------------------------------------------------

    def start(self) -> None:
        """Open a second connection and read in the background until :meth:`stop`."""
        transport = self.session.runner._transport(self.session.device_id)
        self._sampler = _Sampler(self, transport)
        self._sampler.begin()

    def stop(self) -> None:
        """Stop the background readings, with one last reading."""
        if self._sampler is not None:
            self._sampler.finish()
            self.readings = self._sampler.readings
            if self._sampler.error:
                self.notes.append(f"power readings stopped early: {self._sampler.error}")

    def restore(self) -> None:
        """``dumpsys battery reset`` when this run unplugged (on the session's connection, else on the
        sampler's); on failure the runner resets on its next connection. Closes the sampler's connection."""
        try:
            self._reset()
        finally:
            if self._sampler is not None:
                self._sampler.close()

    def _reset(self) -> None:
        if not self.unplugged:
            return
        transports = [self.session.transport] + ([self._sampler.transport] if self._sampler else [])
        for transport in transports:
            try:
                transport.shell(_RESET, _TIMEOUT)
            except (TransportError, DeviceTimeout) as error:
                self.restore_error = f"dumpsys battery reset failed: {error}"
                continue
            self.restore_error = None
            self.session.runner.pending_resets.pop(self.session.device_id, None)
            return
        self.session.runner.pending_resets[self.session.device_id] = self.restore_error

    # -- the record ----------------------------------------------------------------------------------

    def energy(self, timing: Timing, inferences: int) -> EnergyInfo:
        """The record's energy part for a finished run."""
        if self.refusal is not None:  # the battery part now says whether the unplug was reset
            return self.refusal.model_copy(update={"battery": self._battery(None)} if self.before else {})
        discharging = (self.kernel_status or "").lower() == "discharging"
        norm = pa.Normaliser.detect([pair for _, pair in self.idle], discharging, self.config.power_monitor)
        after = pa.parse_dumpsys_battery(self._safe_shell(["dumpsys", "battery"]))
        screen = pa.screen_note(self.screen, pa.screen_state(self._safe_shell(["dumpsys", "power"])))
        self.notes += [screen] if screen else []
        return energy_record.measured(
            PowerSource.ANDROID_BATTERY,
            self._path(""),
            self._trace(self.idle, norm),
            self._trace(self.readings, norm),
            timing,
            inferences,
            battery=self._battery(after, norm),
            notes=tuple(self.notes),
        )

    def chunked_energy(self, timing: Timing, plan, chunks_run: int) -> EnergyInfo:
        """:meth:`energy` for benchmark_model's chunks (``plan``: a ``SustainedPlan``)."""
        if plan.chunks > 1:
            self.notes.append(
                f"benchmark_model restarts every {plan.chunk_secs:g} s: its re-initialisation is inside the "
                "power trace, so energy per inference is an upper bound (longer chunk_secs shrink it)"
            )
        return self.energy(timing, chunks_run * plan.runs_per_chunk)

    def _trace(self, readings, norm: pa.Normaliser) -> PowerTrace:
        return PowerTrace(
            times_s=[t for t, _ in readings],
            power_mw=[norm.power_mw(c, v) for _, (c, v) in readings],
            current_ma=[norm.current_ma(c) for _, (c, _v) in readings],
            raw=[[c, v] for _, (c, v) in readings],
        )

    def _battery(self, after: pa.BatteryDump | None, norm: pa.Normaliser | None = None):
        capacity, source = self.capacity
        return pa.battery_state(
            self.before,
            after,
            self.kernel_status,
            capacity_mah=capacity,
            capacity_source=source,
            unplugged=self.unplugged,
            restored=(self.restore_error is None) if self.unplugged else None,
            restore_error=self.restore_error,
            **(norm.battery_fields() if norm else {}),
        )

    # -- helpers -------------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return f"{pa.SUPPLY_DIR}/{self.supply}/{name}".rstrip("/")

    def _capacity(self) -> tuple[float | None, str | None]:
        for name in ("charge_full", "charge_full_design"):
            text = self._shell(["cat", self._path(name)]).strip()
            if text.isdigit() and int(text) > 0:
                return int(text) / 1000.0, name  # microampere-hours
        from_counter = self.before.capacity_mah if self.before else None
        return (from_counter, "charge_counter/level") if from_counter else (None, None)

    def _read(self, transport) -> tuple[float, float] | None:
        result = transport.shell(["cat", self._path("current_now"), self._path("voltage_now")], _TIMEOUT)
        return pa.parse_pair(result.output) if result.exit_code == 0 else None

    def _shell(self, argv: list[str]) -> str:
        result = self.session.transport.shell(argv, _TIMEOUT)
        return result.output if result.exit_code == 0 else ""

    def _safe_shell(self, argv: list[str]) -> str:
        with contextlib.suppress(TransportError, DeviceTimeout):
            return self._shell(argv)
        return ""

    def _shell_checked(self, argv: list[str]) -> None:
        result = self.session.transport.shell(argv, _TIMEOUT)
        if result.exit_code != 0:
            raise TransportError(f"{' '.join(argv)} failed on the device: {result.output.strip()[-200:]}")

    def _restore_pending(self) -> None:
        runner, device = self.session.runner, self.session.device_id
        if device not in runner.pending_resets:
            return
        self._shell_checked(_RESET)  # a TransportError here fails this attempt too: the runner retries
        runner.pending_resets.pop(device, None)
        self.notes.append("an earlier attempt's `dumpsys battery unplug` was reset on reconnect")


class _Sampler:
    """Background readings on their own connection."""

    def __init__(self, power: PhonePower, transport) -> None:
        self.power, self.transport = power, transport
        self.readings: list[tuple[float, tuple[float, float]]] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = power.clock()

    def begin(self) -> None:
        self._sample()
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_TIMEOUT)
        self._sample()

    def close(self) -> None:
        with contextlib.suppress(TransportError, DeviceTimeout, OSError):
            self.transport.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.power.config.power_interval_secs):
            self._sample()

    def _sample(self) -> None:
        if self.error:
            return
        try:
            pair = self.power._read(self.transport)
        except (TransportError, DeviceTimeout) as error:
            self.error = str(error)
            return
        if pair is not None:
            self.readings.append((round(self.power.clock() - self._start, 4), pair))


def after_failure(runner, device_id: str, record: RunRecord) -> RunRecord:
    """The final record of a timing whose attempts all failed: reset a left-over unplug, or say it could not.

    Args:
        runner: The AdbRunner (its ``pending_resets`` and a fresh transport).
        device_id: The device.
        record: The failed record.
    """
    if device_id not in runner.pending_resets:
        return record
    try:
        transport = runner._transport(device_id)
        try:
            transport.shell(_RESET, _TIMEOUT)
        finally:
            transport.close()
        runner.pending_resets.pop(device_id, None)
        restored, message = True, None
    except (TransportError, DeviceTimeout) as error:
        restored = False
        message = (
            f"`dumpsys battery unplug` is still in effect ({error}); run `adb -s {device_id} shell dumpsys "
            "battery reset` when the phone is back"
        )
    battery = BatteryState(unplugged=True, restored=restored, restore_error=message)
    energy = not_available("the run did not finish").model_copy(update={"battery": battery})
    return record.model_copy(update={"energy": energy})
