"""A phone battery as a power meter: sysfs current and voltage, ``dumpsys battery``, when not to trust them.

The fuel gauge's ``/sys/class/power_supply/<battery>/current_now`` and ``voltage_now`` give the phone's
draw, but only while the battery feeds the phone: with a charger attached the gauge measures the
charging current (or nothing, when USB powers the phone directly). So energy is refused while the
kernel's ``status`` is not ``Discharging``, unless the target says the phone runs from a power monitor.
The usual honest set-ups: adb over Wi-Fi with the cable out; or a cable whose charging is disabled, plus
``allow_unplug`` so that ``dumpsys battery unplug`` makes Android behave as on battery (doze, thermal and
performance policies differ while charging). ``dumpsys battery unplug`` only changes what the framework
is told, never the charger, so the kernel status still decides; and it outlives the run, so it is reset
afterwards on every path, on a fresh connection after a disconnect, and a reset that could not be done
is written in the record.

Units and signs differ by vendor (the kernel's ABI says microamps, negative while discharging is
Android's ``BatteryManager`` convention; some gauges report mA, some report discharge as positive):
the magnitude picks the unit and the idle baseline, read while discharging, picks the sign. Raw values
are kept beside the normalised ones.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from results.energy import BatteryState

SUPPLY_DIR = "/sys/class/power_supply"
_FIELD = re.compile(r"^\s*([A-Za-z ]+):\s*(.*?)\s*$", re.MULTILINE)
MIN_UA = (
    10_000  # |current_now| at least this is microamps: 10 A (as mA) is beyond any phone; 10 mA is idle-low
)


@dataclass(frozen=True)
class BatteryDump:
    """The fields of ``dumpsys battery`` that matter for energy."""

    powered: tuple[str, ...]  # "ac", "usb", "wireless", "dock" that say true
    status: int | None  # BatteryManager.BATTERY_STATUS_*: 2 charging, 3 discharging, 4 not charging, 5 full
    level: int | None
    scale: int | None
    charge_counter_uah: int | None  # remaining charge, microampere-hours (Android 5+)

    @property
    def level_pct(self) -> int | None:
        if self.level is None:
            return None
        return round(self.level * 100 / self.scale) if self.scale else self.level

    @property
    def capacity_mah(self) -> float | None:
        """Full capacity from the charge counter and the level (when the gauge reports a counter)."""
        pct = self.level_pct
        if not self.charge_counter_uah or not pct:
            return None
        return self.charge_counter_uah / 1000.0 / (pct / 100.0)


def parse_dumpsys_battery(text: str) -> BatteryDump:
    """Parse ``dumpsys battery`` (``key: value`` lines; the first occurrence wins)."""
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(text):
        fields.setdefault(key.strip().lower(), value)

    def number(key: str) -> int | None:
        value = fields.get(key, "")
        return int(value) if re.fullmatch(r"-?\d+", value) else None

    powered = tuple(
        kind
        for kind in ("ac", "usb", "wireless", "dock")
        if fields.get(f"{kind} powered", "").lower() == "true"
    )
    return BatteryDump(
        powered=powered,
        status=number("status"),
        level=number("level"),
        scale=number("scale"),
        charge_counter_uah=number("charge counter"),
    )


def current_unit(raw: list[float]) -> tuple[str, float]:
    """The unit of ``current_now`` readings and the factor to mA, from their magnitude."""
    typical = statistics.median(abs(v) for v in raw) if raw else 0.0
    return ("uA", 1e-3) if typical >= MIN_UA else ("mA", 1.0)


def voltage_unit(raw: list[float]) -> tuple[str, float]:
    """The unit of ``voltage_now`` readings and the factor to volts (a cell is 3-4.5 V)."""
    typical = statistics.median(abs(v) for v in raw) if raw else 0.0
    if typical >= 100_000:
        return "uV", 1e-6
    return ("mV", 1e-3) if typical >= 100 else ("V", 1.0)


def discharge_sign(idle_raw_currents: list[float], discharging: bool) -> int:
    """The sign ``current_now`` has while the battery discharges on this phone.

    Read from the idle baseline when the kernel says the battery is discharging (then every reading
    is a discharge); otherwise Android's convention, negative.
    """
    if discharging and idle_raw_currents:
        middle = statistics.median(idle_raw_currents)
        if middle != 0:
            return 1 if middle > 0 else -1
    return -1


@dataclass
class Normaliser:
    """Turns raw (current_now, voltage_now) pairs into mA drawn and mW, once units and sign are known."""

    current_unit: str
    to_ma: float
    voltage_unit: str
    to_v: float
    sign: int  # discharge sign
    absolute: bool = False  # on a power monitor: the magnitude, whatever the gauge's sign
    notes: list[str] = field(default_factory=list)

    @classmethod
    def detect(cls, idle: list[tuple[float, float]], discharging: bool, monitor: bool) -> Normaliser:
        currents = [c for c, _ in idle]
        cu, to_ma = current_unit(currents)
        vu, to_v = voltage_unit([v for _, v in idle])
        return cls(cu, to_ma, vu, to_v, discharge_sign(currents, discharging), absolute=monitor)

    def current_ma(self, raw_current: float) -> float:
        value = raw_current * self.to_ma
        return abs(value) if self.absolute else value * self.sign

    def power_mw(self, raw_current: float, raw_voltage: float) -> float:
        return self.current_ma(raw_current) * raw_voltage * self.to_v  # mA x V = mW

    def battery_fields(self) -> dict:
        return {
            "current_unit": self.current_unit,
            "voltage_unit": self.voltage_unit,
            "discharge_sign": self.sign,
        }


def choose_supply(names: list[str], types: dict[str, str]) -> str | None:
    """The battery among /sys/class/power_supply's entries: 'battery', else the first of type Battery."""
    if "battery" in names:
        return "battery"
    batteries = [name for name in names if types.get(name, "").strip().lower() == "battery"]
    return batteries[0] if batteries else None


def parse_pair(text: str) -> tuple[float, float] | None:
    """``cat current_now voltage_now``'s two numbers, or None when the output is not two numbers."""
    words = text.split()
    if len(words) != 2 or not all(re.fullmatch(r"-?\d+", w) for w in words):
        return None
    return float(words[0]), float(words[1])


def charging_refusal(dump: BatteryDump, kernel_status: str | None, unplugged: bool) -> str | None:
    """Why the battery gauge cannot measure the phone's draw now, or None when it can."""
    status = (kernel_status or "").strip()
    if status.lower() == "discharging":
        return None
    if not status and not dump.powered and dump.status in (3, None):
        return None  # no kernel status file; dumpsys says on battery
    source = "/".join(dump.powered).upper() or "a charger"
    seen = f"the kernel reports the battery {status or 'state unknown'!r} with {source} power attached"
    if unplugged:
        return (
            f"{seen} even after `dumpsys battery unplug` (which only changes what apps are told, never the "
            "charger): disable charging, or use adb over Wi-Fi with the cable out, or set power_monitor: true"
        )
    return (
        f"{seen}, so the battery gauge measures the charger, not the phone: use adb over Wi-Fi with the "
        "cable out, or disable charging and set sustained.allow_unplug: true, or set power_monitor: true "
        "when a power monitor feeds the phone"
    )


def screen_state(dumpsys_power: str) -> str | None:
    """``mWakefulness`` from ``dumpsys power``: "Awake", "Asleep", "Dozing" (None when not printed)."""
    match = re.search(r"mWakefulness=(\w+)", dumpsys_power)
    return match.group(1) if match else None


def screen_note(before: str | None, after: str | None) -> str | None:
    """A caveat when the screen changed state during the run, which moves the idle baseline by hundreds
    of mW (a screen timeout mid-run makes the detector look cheaper than it is)."""
    if before is None or after is None:
        return None
    if before != after:
        return f"the screen went {before} -> {after} during the run: the idle baseline no longer applies"
    return f"screen {before} throughout (the idle baseline was taken in the same state)"


def battery_state(
    before: BatteryDump, after: BatteryDump | None, kernel_status: str | None, **fields
) -> BatteryState:
    """The record's battery part from two dumpsys readings and what was done."""
    return BatteryState(
        level_start_pct=before.level_pct,
        level_end_pct=after.level_pct if after else None,
        powered_by=list(before.powered),
        charger_status=kernel_status,
        **fields,
    )
