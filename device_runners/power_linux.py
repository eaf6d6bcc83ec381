#!/usr/bin/env python3
"""Power sensors of a Linux host or board: RAPL energy counters and hwmon power sensors, from sysfs.

Only the standard library: ``sustained_worker.py`` imports it on a board, where it is copied beside it.

- RAPL (``/sys/class/powercap/intel-rapl:N``, Intel and recent AMD): ``energy_uj`` is a cumulative
  counter in microjoules that wraps at ``max_energy_range_uj``; power over an interval is the counter's
  increase (plus the range when it wrapped) over the interval. Only top-level zones are summed: the
  ``intel-rapl:N:M`` subzones (core, uncore, dram on some parts) are inside their package's figure.
  Since Linux 5.10 ``energy_uj`` is readable by root only (the PLATYPUS side channel, CVE-2020-8694).
- hwmon (``/sys/class/hwmon/hwmonN/power*_input`` or ``power*_average``, microwatts): boards' INA
  sensors and some laptops. Rails often nest (a board's input rail contains the SoC's), so each reading
  takes the largest sensor rather than a sum, which would count the nested rails twice.

``root`` is injectable so tests run on a fake sysfs tree.
"""

from __future__ import annotations

import glob
import os
import re

_TOP_ZONE = re.compile(r"^intel-rapl:\d+$")


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read().strip()


class LinuxPower:
    """The power sensors under ``root`` (``/`` on a real machine).

    After construction either ``sensors`` is non-empty, or ``reason`` says why there is none.
    """

    def __init__(self, root: str = "/") -> None:
        self.root = root
        self.source: str | None = None  # "rapl" or "hwmon"
        self.sensors: list[dict] = []  # {"name", "path", "range"} (range: RAPL wrap, None for hwmon)
        self.reason: str | None = None
        self._discover()

    def _discover(self) -> None:
        powercap = os.path.join(self.root, "sys/class/powercap")
        zones = sorted(
            p
            for p in glob.glob(os.path.join(powercap, "intel-rapl:*"))
            if _TOP_ZONE.match(os.path.basename(p))
        )
        blocked = None
        for zone in zones:
            try:
                _read(os.path.join(zone, "energy_uj"))
            except PermissionError:
                blocked = os.path.join(zone, "energy_uj")
                continue
            except OSError:
                continue
            name = self._optional(os.path.join(zone, "name")) or os.path.basename(zone)
            wrap = self._optional(os.path.join(zone, "max_energy_range_uj"))
            self.sensors.append(
                {
                    "name": f"{os.path.basename(zone)} ({name})",
                    "path": os.path.join(zone, "energy_uj"),
                    "range": int(wrap) if wrap and wrap.isdigit() else None,
                }
            )
        if self.sensors:
            self.source = "rapl"
            return
        hwmon = sorted(
            glob.glob(os.path.join(self.root, "sys/class/hwmon/hwmon*/power*_input"))
            + glob.glob(os.path.join(self.root, "sys/class/hwmon/hwmon*/power*_average"))
        )
        for path in hwmon:
            label = self._optional(re.sub(r"_(input|average)$", "_label", path))
            device = self._optional(os.path.join(os.path.dirname(path), "name")) or "hwmon"
            try:
                int(_read(path))
            except (OSError, ValueError):
                continue
            self.sensors.append(
                {"name": f"{device}:{label or os.path.basename(path)}", "path": path, "range": None}
            )
        if self.sensors:
            self.source = "hwmon"
        elif blocked:
            self.reason = (
                f"{blocked} is readable by root only (Linux 5.10+, CVE-2020-8694); run as root or make it "
                "readable (sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj)"
            )
        else:
            self.reason = "no RAPL zone under /sys/class/powercap and no hwmon power sensor"

    @staticmethod
    def _optional(path: str) -> str | None:
        try:
            return _read(path)
        except OSError:
            return None

    @property
    def sensor_label(self) -> str:
        return ", ".join(sensor["name"] for sensor in self.sensors)

    def read(self) -> list[float]:
        """One raw reading per sensor: energy_uj counters (RAPL) or microwatts (hwmon)."""
        values = []
        for sensor in self.sensors:
            try:
                values.append(float(_read(sensor["path"])))
            except (OSError, ValueError):
                values.append(float("nan"))
        return values

    def to_trace(self, times_s: list[float], raw: list[list[float]]) -> dict:
        """Power in mW from raw readings, as ``{"times_s", "power_mw", "raw"}`` (raw as read).

        RAPL counters give one power value per interval, placed at the interval's end, so the trace
        starts at the second reading; hwmon readings are instantaneous and kept one for one.
        """
        if self.source == "hwmon":
            rows = [(t, r) for t, r in zip(times_s, raw, strict=True) if r and all(v == v for v in r)]
            power = [max(r) / 1000.0 for _, r in rows]  # uW -> mW
            return {"times_s": [t for t, _ in rows], "power_mw": power, "raw": [list(r) for _, r in rows]}
        trace: dict = {"times_s": [], "power_mw": [], "raw": []}
        for i in range(1, len(raw)):
            dt = times_s[i] - times_s[i - 1]
            deltas = [counter_delta(raw[i - 1][k], raw[i][k], s["range"]) for k, s in enumerate(self.sensors)]
            if dt <= 0 or any(d != d for d in deltas):  # no time passed, or an unreadable counter (NaN)
                continue
            trace["times_s"].append(times_s[i])
            trace["power_mw"].append(sum(deltas) / dt / 1000.0)  # uJ / s = uW; / 1000 = mW
            trace["raw"].append(list(raw[i]))
        return trace


def counter_delta(before: float, after: float, wrap: int | None) -> float:
    """Increase of a cumulative counter that restarts from 0 after ``wrap`` (RAPL's max_energy_range_uj)."""
    if after >= before:
        return after - before
    if wrap is None:
        return float("nan")  # a counter went back without a known range: the interval cannot be read
    return after + wrap - before


def sample_while(
    power: LinuxPower, secs: float, interval: float, clock, sleep
) -> tuple[list[float], list[list[float]]]:
    """Readings every ``interval`` seconds for ``secs`` seconds (the idle baseline): (times, raw)."""
    times, raw = [], []
    start = clock()
    while True:
        now = clock() - start
        times.append(round(now, 4))
        raw.append(power.read())
        if now >= secs:
            return times, raw
        sleep(min(interval, secs - now) if secs > now else interval)
