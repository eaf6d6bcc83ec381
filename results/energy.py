"""Power, energy and throttling of a sustained run (``RunRecord.energy``): raw traces, derived figures.

A sustained run (a fixed rate such as a 30 FPS camera, for minutes) is where a detector's real cost shows:
the phone heats, throttles and drains its battery. The runner keeps the raw sensor readings (an idle
baseline taken before the run, then the trace during it) and the figures here are derived from them, as
timing statistics are derived from raw samples, so the two can never disagree:

- average power above idle (mW): the time-weighted mean power of the run minus that of the idle baseline;
- energy per inference (mJ): that power divided by the achieved inference rate (mW / (1/s) = mJ);
- battery drain (% per hour): mean battery current over the battery's full-charge capacity, for the whole
  phone at that rate and for the part above idle;
- throttling onset (s): the start of the first 5-second window whose median latency is more than 10 %
  above the first minute's median;
- dropped frames: invocations that missed their frame slot (from the sustained timing trace).

Kept free of ``results.schema`` (which imports this module for its one ``energy`` field).
"""

from __future__ import annotations

import statistics
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, model_validator

THROTTLE_RISE = 0.10  # latency 10 % above the first minute's median counts as throttled (issue 17)
BASELINE_SECS = 60.0  # the first minute sets the unthrottled latency
WINDOW_SECS = 5.0  # a window's median, not one invocation, must rise: one scheduler spike is not throttling


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnergyStatus(StrEnum):
    """Whether the record carries energy figures."""

    MEASURED = "measured"
    NOT_AVAILABLE = "not_available"  # no power sensor here; `reason` says which one is missing and why
    REFUSED = (
        "refused"  # a sensor exists but its reading would lie (charging over USB); `reason` says how to fix
    )


class PowerSource(StrEnum):
    """Where the power readings come from."""

    ANDROID_BATTERY = "android_battery"  # /sys/class/power_supply/<battery>/current_now x voltage_now
    RAPL = "rapl"  # /sys/class/powercap/intel-rapl:N/energy_uj (CPU package energy counters)
    HWMON = "hwmon"  # /sys/class/hwmon/hwmonN/power*_input or power*_average (board power sensors)
    POWERMETRICS = "powermetrics"  # macOS powermetrics (needs root)


class PowerTrace(_Strict):
    """Power readings over time. ``raw`` keeps what the sensor said, before unit and sign normalisation."""

    times_s: list[float]  # seconds since the trace started
    power_mw: list[float]  # normalised: power drawn, milliwatts
    current_ma: list[float] = []  # battery sources: current drawn from the battery, mA (positive = discharge)
    raw: list[list[float]] = []  # per reading, as read: [current_now, voltage_now] or [energy_uj] ...

    @model_validator(mode="after")
    def _aligned(self) -> PowerTrace:
        n = len(self.times_s)
        for name in ("power_mw", "current_ma", "raw"):
            values = getattr(self, name)
            if name != "power_mw" and not values:
                continue
            if len(values) != n:
                raise ValueError(f"{name} has {len(values)} readings for {n} times")
        return self

    @property
    def mean_power_mw(self) -> float | None:
        """Time-weighted mean power (trapezoids between readings; the plain mean for one reading)."""
        return time_mean(self.times_s, self.power_mw)

    @property
    def mean_current_ma(self) -> float | None:
        """Time-weighted mean battery current, or None for sources without one."""
        return time_mean(self.times_s, self.current_ma) if self.current_ma else None


class BatteryState(_Strict):
    """What the phone's battery said, and what edgebench did to its charging state."""

    level_start_pct: int | None = None  # dumpsys battery level before the idle baseline
    level_end_pct: int | None = None  # after the run
    capacity_mah: float | None = None  # full-charge capacity (charge_full, else charge counter / level)
    capacity_source: str | None = None  # e.g. "charge_full", "charge_counter/level"
    current_unit: str | None = None  # detected unit of current_now: "uA" or "mA"
    voltage_unit: str | None = None  # detected unit of voltage_now: "uV", "mV" or "V"
    discharge_sign: int | None = None  # sign current_now has while discharging on this phone (-1 or +1)
    powered_by: list[str] = []  # dumpsys battery's power sources at the start: "ac", "usb", "wireless"
    charger_status: str | None = None  # the kernel's status file: "Discharging", "Charging", "Not charging"
    unplugged: bool = False  # edgebench ran `dumpsys battery unplug` (the user allowed it)
    restored: bool | None = None  # `dumpsys battery reset` succeeded; None when nothing needed restoring
    restore_error: str | None = None  # why it could not be restored (then the user must reset by hand)


class EnergyFigures(_Strict):
    """Figures derived from the traces and the sustained timing (see :func:`derive_figures`)."""

    idle_mw: float | None = None  # mean power of the idle baseline
    active_mw: float  # mean power during the run
    above_idle_mw: float | None = None  # active - idle: what the detector costs
    inferences: int  # invocations during the run
    achieved_fps: float  # inferences / duration
    energy_per_inference_mj: float | None = None  # above_idle_mw / achieved_fps
    drain_pct_per_hour: float | None = None  # whole phone at this rate, from current and capacity
    drain_above_idle_pct_per_hour: float | None = None  # the detector's share of it
    throttle_onset_s: float | None = None  # None: latency never rose 10 % above the first minute's
    duration_secs: float  # of the run the figures cover
    dropped_frames: int = 0  # invocations that missed their frame slot


class EnergyInfo(_Strict):
    """Power sampling of one sustained run: status, the raw traces and the derived figures."""

    status: EnergyStatus
    reason: str | None = None  # "not available: <why>" or "refused: <why and how to fix>"
    source: PowerSource | None = None
    sensor: str | None = None  # e.g. "/sys/class/power_supply/battery" or "intel-rapl:0 (package-0)"
    idle: PowerTrace | None = None  # baseline before the run, same sensor
    trace: PowerTrace | None = None  # during the run, times from the run's start
    battery: BatteryState | None = None  # Android only
    figures: EnergyFigures | None = None
    notes: list[str] = []  # caveats worth reading beside the figures (e.g. sensor refresh rate)

    @model_validator(mode="after")
    def _consistent(self) -> EnergyInfo:
        if self.status is EnergyStatus.MEASURED:
            if self.trace is None or self.figures is None:
                raise ValueError("energy status 'measured' needs a trace and figures")
            _agrees("active_mw", self.figures.active_mw, self.trace.mean_power_mw)
            if self.idle is not None:
                _agrees("idle_mw", self.figures.idle_mw, self.idle.mean_power_mw)
        elif not self.reason:
            raise ValueError(f"energy status {self.status.value!r} needs a reason")
        return self


def _agrees(name: str, stored: float | None, derived: float | None) -> None:
    if stored is None or derived is None:
        return
    if abs(stored - derived) > 1e-6 * max(1.0, abs(derived)):
        raise ValueError(f"energy.figures.{name}={stored} disagrees with the trace ({derived})")


def time_mean(times_s: list[float], values: list[float]) -> float | None:
    """Time-weighted mean by the trapezoid rule; the plain mean when the readings span no time."""
    if not values:
        return None
    span = times_s[-1] - times_s[0] if len(times_s) > 1 else 0.0
    if span <= 0:
        return statistics.fmean(values)
    area = sum(
        (times_s[i + 1] - times_s[i]) * (values[i] + values[i + 1]) / 2 for i in range(len(values) - 1)
    )
    return area / span


def throttle_onset(times_s: list[float], latencies_ms: list[float]) -> float | None:
    """When latency first rose ``THROTTLE_RISE`` above its first-minute median (a 5 s window's median).

    Args:
        times_s: Start of each sample, seconds from the run's start (sustained ``sample_times_s``).
        latencies_ms: The samples (per invocation on hosts and boards, per chunk on a phone).

    Returns:
        The start of the first window past the threshold, or None when none is (or there are no samples).
    """
    if not latencies_ms or len(times_s) != len(latencies_ms):
        return None
    first = [v for t, v in zip(times_s, latencies_ms, strict=True) if t < BASELINE_SECS] or latencies_ms[:1]
    limit = statistics.median(first) * (1.0 + THROTTLE_RISE)
    windows: dict[int, list[float]] = {}
    for t, v in zip(times_s, latencies_ms, strict=True):
        windows.setdefault(int(t // WINDOW_SECS), []).append(v)
    for index in sorted(windows):
        if statistics.median(windows[index]) > limit:
            return index * WINDOW_SECS
    return None


def derive_figures(
    trace: PowerTrace,
    idle: PowerTrace | None,
    *,
    inferences: int,
    duration_secs: float,
    sample_times_s: list[float],
    samples_ms: list[float],
    dropped_frames: int = 0,
    capacity_mah: float | None = None,
) -> EnergyFigures:
    """The figures of one sustained run.

    Args:
        trace: Power during the run.
        idle: Power of the idle baseline, or None when none was taken (no above-idle figures then).
        inferences: Invocations during the run.
        duration_secs: The run's length.
        sample_times_s: The latency samples' start times (for the throttling onset).
        samples_ms: The latency samples.
        dropped_frames: From the sustained timing trace.
        capacity_mah: The battery's full-charge capacity, for the drain per hour.
    """
    active = trace.mean_power_mw
    idle_mw = idle.mean_power_mw if idle is not None else None
    above = max(0.0, active - idle_mw) if idle_mw is not None else None
    fps = inferences / duration_secs if duration_secs > 0 else 0.0
    drain = drain_above = None
    current = trace.mean_current_ma
    if capacity_mah and current is not None:
        drain = current / capacity_mah * 100.0  # mA / mAh = fraction per hour
        idle_current = idle.mean_current_ma if idle is not None else None
        if idle_current is not None:
            drain_above = max(0.0, current - idle_current) / capacity_mah * 100.0
    return EnergyFigures(
        idle_mw=idle_mw,
        active_mw=active,
        above_idle_mw=above,
        inferences=inferences,
        achieved_fps=fps,
        energy_per_inference_mj=above / fps if above is not None and fps > 0 else None,
        drain_pct_per_hour=drain,
        drain_above_idle_pct_per_hour=drain_above,
        throttle_onset_s=throttle_onset(sample_times_s, samples_ms),
        duration_secs=duration_secs,
        dropped_frames=dropped_frames,
    )


def not_available(reason: str) -> EnergyInfo:
    """A record part saying why there is no power reading here."""
    return EnergyInfo(status=EnergyStatus.NOT_AVAILABLE, reason=f"not available: {reason}")


def refused(reason: str, **fields) -> EnergyInfo:
    """A record part saying why a reading that exists is not reported as energy."""
    return EnergyInfo(status=EnergyStatus.REFUSED, reason=f"refused: {reason}", **fields)
