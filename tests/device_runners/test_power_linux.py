"""Linux power sensors on a fake sysfs tree: RAPL counters (with a wrap), hwmon, the reasons when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from device_runners import energy_record
from device_runners.power_linux import LinuxPower, counter_delta
from device_runners.sustained_worker import paced_run, power_result
from results.energy import EnergyStatus, PowerSource
from results.schema import Delegate, SustainedTrace, Timing

RANGE = 262_143_328_850  # max_energy_range_uj of a real package zone


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


def rapl_tree(root: Path, start_uj: int) -> Path:
    zone = "sys/class/powercap/intel-rapl:0"
    write(root, f"{zone}/name", "package-0")
    write(root, f"{zone}/max_energy_range_uj", str(RANGE))
    write(root, f"{zone}:0/name", "core")  # a subzone: inside the package figure, never added
    write(root, f"{zone}:0/energy_uj", "5")
    return write(root, f"{zone}/energy_uj", str(start_uj))


def test_counter_wrap_is_read_through_max_energy_range():
    assert counter_delta(RANGE - 1_000_000, 1_000_000, RANGE) == 2_000_000
    assert counter_delta(10, 30, RANGE) == 20
    assert counter_delta(30, 10, None) != counter_delta(30, 10, None)  # NaN: no range, no reading


def test_rapl_power_across_a_wrap(tmp_path):
    rapl_tree(tmp_path, 0)
    power = LinuxPower(str(tmp_path))
    assert power.source == "rapl" and power.sensor_label == "intel-rapl:0 (package-0)"
    raw = [[RANGE - 3_000_000], [RANGE - 1_000_000], [1_000_000], [3_500_000]]
    trace = power.to_trace([0.0, 1.0, 2.0, 3.0], raw)
    # 2 J per second before and across the wrap, then 2.5 J in a second: mW.
    assert trace["times_s"] == [1.0, 2.0, 3.0]
    assert trace["power_mw"] == pytest.approx([2000.0, 2000.0, 2500.0])
    assert trace["raw"] == raw[1:]


def test_hwmon_takes_the_largest_rail(tmp_path):
    write(tmp_path, "sys/class/hwmon/hwmon0/name", "ina3221")
    write(tmp_path, "sys/class/hwmon/hwmon0/power1_input", "4000000")
    write(tmp_path, "sys/class/hwmon/hwmon0/power1_label", "VDD_IN")
    write(tmp_path, "sys/class/hwmon/hwmon0/power2_input", "1500000")
    power = LinuxPower(str(tmp_path))
    assert power.source == "hwmon" and "ina3221:VDD_IN" in power.sensor_label
    trace = power.to_trace([0.0, 1.0], [power.read(), [3_000_000.0, 1_000_000.0]])
    assert trace["power_mw"] == [4000.0, 3000.0]


def test_no_sensor_says_why(tmp_path):
    power = LinuxPower(str(tmp_path))
    assert not power.sensors and power.reason.startswith("no RAPL zone")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_root_only_counter_says_so(tmp_path):
    rapl_tree(tmp_path, 0).chmod(0)
    power = LinuxPower(str(tmp_path))
    assert not power.sensors and "readable by root only" in power.reason


class BurningTime:
    """A fake clock whose invocations burn 3 W above a 1 W idle on the fake RAPL counter (wrapping)."""

    def __init__(self, counter: Path, start_uj: int) -> None:
        self.now, self.counter, self.energy = 0.0, counter, start_uj

    def clock(self):
        return self.now

    def _advance(self, secs: float, watts: float) -> None:
        self.now += secs
        self.energy = (self.energy + round(watts * secs * 1e6)) % RANGE
        self.counter.write_text(f"{self.energy}\n")

    def sleep(self, secs):
        self._advance(secs, 1.0)

    def invoke(self):
        self._advance(0.025, 1.0 + 3.0 * (1 / 30) / 0.025)  # 3 W averaged over each 1/30 s frame


def test_paced_run_with_rapl_gives_energy_figures(tmp_path):
    counter = rapl_tree(tmp_path, RANGE - 4_000_000)  # wraps after four seconds
    fake = BurningTime(counter, RANGE - 4_000_000)
    power = LinuxPower(str(tmp_path))
    idle_times, idle_raw = [], []
    for second in range(3):
        idle_times.append(float(second))
        idle_raw.append(power.read())
        fake.sleep(1.0)
    fake.now = 0.0
    paced = paced_run(fake.invoke, 30, 9.0, lambda: 40.0, 1.0, fake.clock, fake.sleep, read_power=power.read)
    result = power_result(power, (idle_times, idle_raw), paced)
    trace = SustainedTrace(
        target_fps=30,
        duration_secs=paced["duration_secs"],
        sample_times_s=paced["sample_times_s"],
        dropped_frames=paced["dropped_frames"],
    )
    timing = Timing(samples_ms=paced["samples_ms"], sustained=trace)
    info = energy_record.from_worker(result, timing)
    assert info.status is EnergyStatus.MEASURED and info.source is PowerSource.RAPL
    figures = info.figures
    assert figures.idle_mw == pytest.approx(1000.0)
    assert figures.active_mw == pytest.approx(4000.0, rel=0.02)  # readings fall at frame starts
    assert figures.inferences == 270 and figures.achieved_fps == pytest.approx(30.0, rel=0.01)
    # 3 W above idle at 30 inferences per second: 100 mJ per inference.
    assert figures.energy_per_inference_mj == pytest.approx(100.0, rel=0.03)
    assert figures.throttle_onset_s is None and figures.dropped_frames == 0


def test_worker_without_sensor_is_not_available():
    info = energy_record.from_worker({"reason": "no RAPL zone under /sys/class/powercap"}, Timing())
    assert info.status is EnergyStatus.NOT_AVAILABLE
    assert info.reason == "not available: no RAPL zone under /sys/class/powercap"


def test_sustained_args_ask_for_power_only_when_configured():
    from dr_helpers import make_job

    from device_runners.ssh import sustained_args
    from device_runners.targets import SustainedConfig

    job = make_job(Path(__file__), Delegate.XNNPACK)
    settings = job.settings.model_copy(update={"sustained_fps": 30.0, "sustained_secs": 60.0})
    plain = sustained_args("m.tflite", job, settings, "out.json")
    assert "--power" not in plain
    config = SustainedConfig(power=True, idle_secs=5, power_interval_secs=0.5)
    args = sustained_args("m.tflite", job, settings, "out.json", config)
    assert args[:5] == ["--power", "--idle-secs", "5.0", "--thermal-interval-secs", "0.5"]


@pytest.mark.slow
def test_worker_reads_a_fake_hwmon_tree_end_to_end(tiny_tflite, tmp_path):
    import json
    import subprocess
    import sys

    from device_runners import sustained_worker

    write(tmp_path, "sys/class/hwmon/hwmon0/name", "ina226")
    write(tmp_path, "sys/class/hwmon/hwmon0/power1_input", "2500000")  # 2.5 W, constant
    out = tmp_path / "r.json"
    argv = [sys.executable, sustained_worker.__file__, "--model", str(tiny_tflite), "--out", str(out)]
    argv += ["--fps", "50", "--secs", "1", "--power", "--idle-secs", "0.3", "--thermal-interval-secs", "0.1"]
    subprocess.run([*argv, "--sysfs-root", str(tmp_path)], check=True, timeout=120)
    result = json.loads(out.read_text())
    power = result["power"]
    assert power["source"] == "hwmon" and power["sensor"] == "ina226:power1_input"
    assert len(power["idle"]["times_s"]) >= 3 and len(power["trace"]["times_s"]) >= 9
    trace = SustainedTrace(
        **{k: result["sustained"][k] for k in ("target_fps", "duration_secs", "sample_times_s")}
    )
    info = energy_record.from_worker(power, Timing(samples_ms=result["samples_ms"], sustained=trace))
    assert info.figures.active_mw == pytest.approx(2500.0) and info.figures.above_idle_mw == pytest.approx(
        0.0
    )
    assert info.figures.inferences == len(
        result["samples_ms"]
    ) and info.figures.achieved_fps == pytest.approx(50, rel=0.1)
