"""Power on a Mac from ``powermetrics``, for Core ML sustained runs, where it may run.

``powermetrics`` needs the superuser: it runs when edgebench runs as root, or when sudoers lets this
user run it without a password (``sudo -n``); otherwise the record says so instead of guessing. Its
``cpu_power,gpu_power,ane_power`` samplers print, per interval, ``Combined Power (CPU + GPU + ANE):
N mW`` on Apple silicon; Intel Macs print ``Intel energy model derived package power (CPUs+GT+SA): N W``.
Those package-level figures leave out the display, memory and the rest of the board, so they are a
lower bound of the machine's draw; the note in the record says so.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable

from common import process
from device_runners import energy_record
from results.energy import EnergyInfo, PowerSource, PowerTrace, not_available

POWERMETRICS = "/usr/bin/powermetrics"
_COMBINED = re.compile(r"^Combined Power \(CPU \+ GPU \+ ANE\):\s*([\d.]+)\s*mW", re.MULTILINE)
_INTEL = re.compile(
    r"^Intel energy model derived package power \(CPUs\+GT\+SA\):\s*([\d.]+)\s*W", re.MULTILINE
)
NOTE = "powermetrics package power (CPU + GPU + ANE): display, memory and the rest of the board excluded"


def powermetrics_prefix(
    geteuid: Callable[[], int] = os.geteuid, run=process.run
) -> tuple[list[str] | None, str]:
    """How to start powermetrics here: ([] as root, ["sudo", "-n"] when allowed), or (None, reason).

    Args:
        geteuid: The effective user id (injected for tests).
        run: ``common.process.run`` (injected for tests).
    """
    if not os.path.exists(POWERMETRICS):
        return None, f"{POWERMETRICS} does not exist (powermetrics ships with macOS)"
    if geteuid() == 0:
        return [], ""
    try:
        run(["sudo", "-n", POWERMETRICS, "-h"], timeout=10)
    except (process.CommandError, process.CommandTimeout, FileNotFoundError):
        return None, (
            "powermetrics needs root: run edgebench with sudo, or allow this user "
            f"`sudo -n {POWERMETRICS}` without a password in sudoers"
        )
    return ["sudo", "-n"], ""


def parse_powermetrics(text: str) -> list[float]:
    """Package power of each sample in mW, in order."""
    combined = [float(v) for v in _COMBINED.findall(text)]
    return combined or [float(v) * 1000.0 for v in _INTEL.findall(text)]


def sample(
    prefix: list[str], secs: float, interval_secs: float, run=process.run
) -> tuple[list[float], list[float]]:
    """Run powermetrics for ``secs`` seconds: (times at each sample's end, mW)."""
    count = max(1, round(secs / interval_secs))
    interval_ms = max(100, round(interval_secs * 1000))
    argv = [*prefix, POWERMETRICS, "--samplers", "cpu_power,gpu_power,ane_power", "-i", str(interval_ms)]
    done = run([*argv, "-n", str(count)], timeout=secs + 30.0)
    power = parse_powermetrics(done.stdout)
    return [round((i + 1) * interval_ms / 1000.0, 3) for i in range(len(power))], power


class Background:
    """powermetrics in a thread for at most ``secs`` seconds while the timing child runs."""

    def __init__(
        self, prefix: list[str], secs: float, interval_secs: float, run=process.run, clock=time.monotonic
    ):
        self.result: tuple[list[float], list[float]] = ([], [])
        self.error: str | None = None
        self.started = clock()
        self.interval = interval_secs
        self._args = (prefix, secs, interval_secs, run)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = sample(*self._args)
        except (process.CommandError, process.CommandTimeout, FileNotFoundError) as error:
            self.error = str(error)

    def window(self, ended_at: float, duration_secs: float) -> tuple[list[float], list[float]]:
        """Wait, then keep the samples that fall in the paced run (its last ``duration_secs`` before
        ``ended_at``), with times from the paced run's start: loading and warm-up are left out."""
        self._thread.join()
        start = ended_at - self.started - duration_secs
        # A sample covers the interval that ends at its time: keep those whose middle is in the run.
        middle = self.interval / 2
        kept = [
            (t - start, p)
            for t, p in zip(*self.result, strict=True)
            if start < t - middle < start + duration_secs
        ]
        return [round(t, 3) for t, _ in kept], [p for _, p in kept]


class MacPower:
    """One Core ML sustained run's power: the idle baseline now, powermetrics in the background, figures."""

    def __init__(
        self, prefix: list[str] | None, reason: str, config, settings, run=process.run, clock=time.monotonic
    ):
        self.reason, self.clock = reason, clock
        self.idle: tuple[list[float], list[float]] = ([], [])
        self.background: Background | None = None
        if prefix is None:
            return
        interval = config.power_interval_secs
        if config.idle_secs > 0:
            self.idle = sample(prefix, config.idle_secs, interval, run)
        # Loading, compiling and warming up come first; the window keeps only the paced run.
        secs = settings.cooldown_secs + settings.sustained_secs + 30.0
        self.background = Background(prefix, secs, interval, run, clock)

    def finish(self, timing) -> EnergyInfo:
        """The record's energy part, once the child has finished with ``timing``."""
        ended = self.clock()
        if self.background is None:
            return not_available(self.reason)
        if timing is None or timing.sustained is None:
            return not_available("the sustained run did not finish")
        times, power = self.background.window(ended, timing.sustained.duration_secs)
        if self.background.error:
            return not_available(f"powermetrics failed: {self.background.error}")
        idle = PowerTrace(times_s=self.idle[0], power_mw=self.idle[1]) if self.idle[0] else None
        trace = PowerTrace(times_s=times, power_mw=power)
        return energy_record.measured(
            PowerSource.POWERMETRICS,
            "powermetrics",
            idle,
            trace,
            timing,
            len(timing.samples_ms),
            notes=(NOTE,),
        )


def start(target, settings, run=process.run, geteuid: Callable[[], int] = os.geteuid) -> MacPower | None:
    """Power sampling for a Core ML job when its target asks (``sustained.power``) and it is sustained."""
    config = target.sustained if target is not None else None
    if config is None or not config.power or not (settings.sustained_fps and settings.sustained_secs):
        return None
    prefix, reason = powermetrics_prefix(geteuid, run)
    return MacPower(prefix, reason, config, settings, run)
