"""powermetrics on a Mac: whether it may run (root, sudo -n), its output, and the paced-run window."""

from __future__ import annotations

import pytest

from common import process
from device_runners import power_macos
from device_runners.targets import parse_target
from results.energy import EnergyStatus, PowerSource
from results.schema import SustainedTrace, Timing, TimingSettings

SAMPLE = """*** Sampled system activity (Sun Dec  6 21:00:00 2026 +0000) (1000.12ms elapsed) ***
**** Processor usage ****
CPU Power: 1200 mW
GPU Power: 150 mW
ANE Power: 0 mW
Combined Power (CPU + GPU + ANE): {mw} mW
"""


@pytest.fixture
def binary(tmp_path, monkeypatch):
    path = tmp_path / "powermetrics"
    path.write_text("")
    monkeypatch.setattr(power_macos, "POWERMETRICS", str(path))
    return str(path)


def refuse_sudo(argv, timeout):
    raise process.CommandError(argv, 1, "", "sudo: a password is required")


def test_needs_root_or_passwordless_sudo(binary):
    prefix, reason = power_macos.powermetrics_prefix(lambda: 501, refuse_sudo)
    assert prefix is None and reason.startswith("powermetrics needs root")
    assert power_macos.powermetrics_prefix(lambda: 0, refuse_sudo) == ([], "")
    allowed = power_macos.powermetrics_prefix(lambda: 501, lambda argv, timeout: None)
    assert allowed == (["sudo", "-n"], "")


def test_missing_binary_is_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(power_macos, "POWERMETRICS", str(tmp_path / "nope"))
    prefix, reason = power_macos.powermetrics_prefix(lambda: 0, refuse_sudo)
    assert prefix is None and "does not exist" in reason


def test_parses_apple_silicon_and_intel_output():
    assert power_macos.parse_powermetrics(SAMPLE.format(mw=1350) + SAMPLE.format(mw=1400)) == [1350.0, 1400.0]
    intel = "Intel energy model derived package power (CPUs+GT+SA): 3.41W\n"
    assert power_macos.parse_powermetrics(intel) == [3410.0]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_energy_from_the_paced_window_only(binary):
    clock = Clock()
    calls = []

    def run(argv, timeout):
        calls.append(argv)
        count = int(argv[argv.index("-n") + 1])
        if count == 2:  # the idle baseline
            return process.Completed(argv, SAMPLE.format(mw=500) * 2, "")
        # Loading and warm-up (3 s at 2000 mW), then the 4 s paced run at 1500 mW, then idle again.
        text = SAMPLE.format(mw=2000) * 3 + SAMPLE.format(mw=1500) * 4 + SAMPLE.format(mw=500) * 3
        return process.Completed(argv, text, "")

    target = parse_target(
        {"runner": "coreml_mac", "sustained": {"fps": 30, "secs": 4, "power": True, "idle_secs": 2}}
    )
    settings = TimingSettings(sustained_fps=30, sustained_secs=4)
    power = power_macos.start(target, settings, run=run, geteuid=lambda: 0)
    power.clock = clock
    power.background.started = 100.0
    power.background._thread.join()
    clock.now = 107.0  # the child finished 7 s after powermetrics started
    times = [i / 30 for i in range(120)]
    timing = Timing(
        samples_ms=[10.0] * 120,
        sustained=SustainedTrace(target_fps=30, duration_secs=4.0, sample_times_s=times),
    )
    energy = power.finish(timing)
    assert energy.status is EnergyStatus.MEASURED and energy.source is PowerSource.POWERMETRICS
    assert energy.trace.power_mw == [1500.0] * 4  # the load and the idle tail are left out
    assert energy.figures.idle_mw == 500.0 and energy.figures.above_idle_mw == 1000.0
    assert energy.figures.energy_per_inference_mj == pytest.approx(1000.0 / 30)
    assert "display, memory" in energy.notes[0]
    assert calls[0][:2] == [binary, "--samplers"]


def test_not_root_gives_the_reason_in_the_record(binary):
    target = parse_target({"runner": "coreml_mac", "sustained": {"power": True}})
    power = power_macos.start(
        target, TimingSettings(sustained_fps=30, sustained_secs=4), refuse_sudo, lambda: 501
    )
    energy = power.finish(Timing())
    assert energy.status is EnergyStatus.NOT_AVAILABLE and "powermetrics needs root" in energy.reason
    assert power_macos.start(target, TimingSettings(), refuse_sudo, lambda: 501) is None  # not sustained
