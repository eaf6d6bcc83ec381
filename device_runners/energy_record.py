"""Turn a sustained run's power readings into the record's ``energy`` part (``results.energy.EnergyInfo``).

Shared by the runners: the board worker's ``power`` object (RAPL / hwmon, see ``power_linux.py``) and the
Android sampler's traces (``power_android.py``) both end here, so every target derives its figures the
same way, from the raw traces and the sustained timing.
"""

from __future__ import annotations

from pydantic import ValidationError

from results.energy import (
    BatteryState,
    EnergyInfo,
    EnergyStatus,
    PowerSource,
    PowerTrace,
    derive_figures,
    not_available,
)
from results.schema import Timing


def measured(
    source: PowerSource,
    sensor: str,
    idle: PowerTrace | None,
    trace: PowerTrace,
    timing: Timing,
    inferences: int,
    *,
    battery: BatteryState | None = None,
    notes: tuple[str, ...] = (),
) -> EnergyInfo:
    """EnergyInfo with figures derived from the traces and the sustained timing.

    Args:
        source: Which kind of sensor.
        sensor: Which one (a sysfs path or zone names).
        idle: The idle baseline before the run (None when none could be taken).
        trace: Readings during the run.
        timing: The sustained timing (its trace gives the duration, sample times and dropped frames).
        inferences: Invocations during the run.
        battery: Android: the battery's state and what was done to it.
        notes: Caveats to keep beside the figures.
    """
    if not trace.times_s:
        return not_available(f"{sensor} gave no reading during the run")
    sustained = timing.sustained
    figures = derive_figures(
        trace,
        idle,
        inferences=inferences,
        duration_secs=sustained.duration_secs if sustained else 0.0,
        sample_times_s=sustained.sample_times_s if sustained else [],
        samples_ms=timing.samples_ms,
        dropped_frames=sustained.dropped_frames if sustained else 0,
        capacity_mah=battery.capacity_mah if battery else None,
    )
    return EnergyInfo(
        status=EnergyStatus.MEASURED,
        source=source,
        sensor=sensor,
        idle=idle,
        trace=trace,
        battery=battery,
        figures=figures,
        notes=list(notes),
    )


def from_worker(power: object, timing: Timing) -> EnergyInfo:
    """The energy part from ``sustained_worker.py``'s ``power`` object (a dict as the board wrote it)."""
    if not isinstance(power, dict):
        return not_available("the worker wrote no power object")
    if power.get("reason"):
        return not_available(str(power["reason"]))
    try:
        source = PowerSource(power.get("source"))
        idle = PowerTrace(**power["idle"]) if power.get("idle") else None
        trace = PowerTrace(**power["trace"])
    except (KeyError, TypeError, ValueError, ValidationError) as error:
        return not_available(f"the worker's power readings are malformed: {error}")
    notes = ()
    if idle is not None and not idle.times_s:
        idle, notes = None, ("no idle baseline: the sensor gave one reading or none before the run",)
    return measured(
        source, str(power.get("sensor")), idle, trace, timing, len(timing.samples_ms), notes=notes
    )
