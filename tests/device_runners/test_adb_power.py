"""Energy on a phone, end to end against the fake ADB device serving scripted sysfs power files.

Vendor variants (microamps negative while discharging, as Pixels; milliamps positive, as some Samsung
and Qualcomm gauges), charging over USB (refused), `dumpsys battery unplug` (always reset), and a
disconnect in the middle of a run (the unplug reset on reconnect, or reported when it cannot be).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dr_fake_adb import DeviceConfig, FakeAdbDevice
from dr_helpers import fake_benchmark_binary, make_job, recorded

from device_runners import power_android as pa
from device_runners.adb import AdbRunner
from device_runners.targets import TargetConfig
from results.energy import EnergyStatus, PowerSource
from results.schema import Delegate, Status, TimingSettings

BATTERY = "/sys/class/power_supply/battery"
COOL = (recorded("dumpsys_thermalservice.txt"), recorded("dumpsys_battery.txt"))
USB = recorded("dumpsys_battery.txt")  # USB powered, status 2 (charging), level 87, charge counter 3391000
WIFI = recorded("dumpsys_battery_wifi.txt")  # nothing powered, status 3 (discharging)
SETTINGS = TimingSettings(
    warmup_runs=1, warmup_min_secs=0, min_runs=3, min_secs=0, sustained_fps=30, sustained_secs=2
)
# Pixel-style: microamps, negative while discharging; microvolts.
PIXEL = {"current_now": ["-250000", "-900000", "-1100000"], "voltage_now": ["3900000"]}
# Some gauges: milliamps, positive while discharging; millivolts.
SAMSUNG = {"current_now": ["250", "900", "1100"], "voltage_now": ["3900"]}


@pytest.fixture
def device(tmp_path: Path):
    root = tmp_path / "device"
    (root / "data/local/tmp").mkdir(parents=True)
    for name, kind in (("battery", "Battery"), ("usb", "USB")):
        (root / f"sys/class/power_supply/{name}").mkdir(parents=True)
        (root / f"sys/class/power_supply/{name}/type").write_text(kind + "\n")
    config = DeviceConfig(
        root=root,
        getprop=recorded("getprop_pixel7.txt"),
        thermal=[COOL],
        benchmark_outputs={"xnnpack": recorded("bm_xnnpack.txt")},
    )
    fake = FakeAdbDevice(config)
    yield fake
    fake.stop()


def script(device: FakeAdbDevice, values: dict, status: str = "Discharging", battery: str = WIFI) -> None:
    device.config.sysfs = {f"{BATTERY}/{name}": list(v) for name, v in values.items()}
    device.config.sysfs[f"{BATTERY}/status"] = [status]
    device.config.battery = battery
    (device.config.root / BATTERY.lstrip("/") / "charge_full").write_text("4500000\n")  # 4500 mAh


def measure(device: FakeAdbDevice, tmp_path: Path, **sustained):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    target = TargetConfig(
        runner="adb",
        host="127.0.0.1",
        port=device.port,
        use_adb_server=False,
        connect_timeout_secs=5,
        benchmark_model=fake_benchmark_binary(tmp_path / "bm"),
        retries=sustained.pop("retries", 0),
        retry_backoff_secs=0,
        sustained={
            "fps": 30,
            "secs": 2,
            "chunk_secs": 1,
            "power": True,
            "idle_secs": 0,
            "power_interval_secs": 60,
            **sustained,
        },
    )
    runner = AdbRunner(target, sleep=lambda _s: None)
    return runner, runner.time(make_job(model, Delegate.XNNPACK, settings=SETTINGS))


def battery_commands(device: FakeAdbDevice) -> list[str]:
    words = [c.split(" 2>&1")[0] for c in device.config.commands]
    return [w for w in words if w in ("dumpsys battery unplug", "dumpsys battery reset")]


@pytest.mark.parametrize("vendor, unit, voltage, sign", [(PIXEL, "uA", "uV", -1), (SAMSUNG, "mA", "mV", 1)])
def test_vendor_units_and_signs_normalise_to_the_same_figures(device, tmp_path, vendor, unit, voltage, sign):
    script(device, vendor)
    _, record = measure(device, tmp_path)
    assert record.status is Status.OK, record.error
    energy = record.energy
    assert energy.status is EnergyStatus.MEASURED and energy.source is PowerSource.ANDROID_BATTERY
    battery = energy.battery
    assert (battery.current_unit, battery.voltage_unit, battery.discharge_sign) == (unit, voltage, sign)
    assert battery.capacity_mah == 4500 and battery.capacity_source == "charge_full"
    assert battery.unplugged is False and battery.restored is None and battery.level_start_pct == 87
    # Idle 250 mA x 3.9 V; the run reads 900 then 1100 mA: 3510 and 4290 mW, 3900 mW on average.
    assert energy.idle.power_mw == pytest.approx([975.0])
    assert energy.trace.power_mw == pytest.approx([3510.0, 4290.0])
    assert energy.trace.current_ma == pytest.approx([900.0, 1100.0])
    assert energy.trace.raw[0][0] == float(vendor["current_now"][1])  # raw kept as the gauge said it
    figures = energy.figures
    assert figures.idle_mw == pytest.approx(975.0) and figures.active_mw == pytest.approx(3900.0)
    assert figures.above_idle_mw == pytest.approx(2925.0)
    assert figures.inferences == 60  # two chunks of 30
    assert figures.energy_per_inference_mj == pytest.approx(2925.0 / figures.achieved_fps)
    assert figures.drain_pct_per_hour == pytest.approx(1000.0 / 4500 * 100)
    assert figures.drain_above_idle_pct_per_hour == pytest.approx(750.0 / 4500 * 100)
    assert battery_commands(device) == []  # on battery already: nothing to unplug


def test_charging_over_usb_is_refused_and_latency_still_measured(device, tmp_path):
    script(device, PIXEL, status="Charging", battery=USB)
    _, record = measure(device, tmp_path)
    assert record.status is Status.OK and record.timing.sustained is not None
    assert record.energy.status is EnergyStatus.REFUSED
    assert "'Charging' with USB power attached" in record.energy.reason
    assert "adb over Wi-Fi" in record.energy.reason and record.energy.figures is None
    assert battery_commands(device) == []  # not allowed to unplug: never touched


def test_unplug_does_not_stop_a_charger_so_it_is_refused_and_reset(device, tmp_path):
    script(device, PIXEL, status="Charging", battery=USB)
    _, record = measure(device, tmp_path, allow_unplug=True)
    assert (
        record.energy.status is EnergyStatus.REFUSED
        and "even after `dumpsys battery unplug`" in record.energy.reason
    )
    assert battery_commands(device) == ["dumpsys battery unplug", "dumpsys battery reset"]
    assert record.energy.battery.unplugged
    assert not device.config.battery_unplugged


def test_charging_disabled_and_unplugged_measures_then_resets(device, tmp_path):
    script(device, PIXEL, status="Discharging", battery=USB)  # USB attached, charging suspended
    _, record = measure(device, tmp_path, allow_unplug=True)
    assert record.energy.status is EnergyStatus.MEASURED, record.energy.reason
    assert record.energy.battery.unplugged and record.energy.battery.restored is True
    assert battery_commands(device) == ["dumpsys battery unplug", "dumpsys battery reset"]
    assert not device.config.battery_unplugged


def test_power_monitor_uses_the_gauge_magnitude(device, tmp_path):
    script(device, PIXEL, status="Full", battery=USB)
    _, record = measure(device, tmp_path, power_monitor=True)
    assert record.energy.status is EnergyStatus.MEASURED
    assert record.energy.trace.power_mw == pytest.approx([3510.0, 4290.0])
    assert any("power_monitor" in note for note in record.energy.notes)


def test_disconnect_mid_run_resets_on_reconnect(device, tmp_path):
    script(device, {"current_now": ["-250000"], "voltage_now": ["3900000"]}, battery=USB)
    drops = {"chunk": 1, "reset": 2}

    def drop(command: str) -> bool:  # the phone vanishes during the first chunk and briefly after it
        if "--run_delay=" in command and drops["chunk"]:
            drops["chunk"] -= 1
            return True
        if command.startswith("dumpsys battery reset") and drops["reset"] and not drops["chunk"]:
            drops["reset"] -= 1
            return True
        return False

    device.config.drop_when = drop
    runner, record = measure(device, tmp_path, allow_unplug=True, retries=1)
    assert record.status is Status.OK, record.error
    assert "reset on reconnect" in " ".join(record.energy.notes)
    assert record.energy.battery.restored is True and runner.pending_resets == {}
    resets = [c for c in battery_commands(device) if c == "dumpsys battery reset"]
    assert len(resets) == 4  # two dropped, one on reconnect, one after the second run
    assert not device.config.battery_unplugged


def test_disconnect_for_good_reports_the_unplug_it_could_not_reset(device, tmp_path):
    script(device, {"current_now": ["-250000"], "voltage_now": ["3900000"]}, battery=USB)
    gone = {"now": False}

    def drop(command: str) -> bool:
        gone["now"] = gone["now"] or "--run_delay=" in command
        return gone["now"] and not command.startswith("cat ")  # the sampler's reads die with it below

    device.config.drop_when = drop
    runner, record = measure(device, tmp_path, allow_unplug=True, retries=1)
    assert record.status is Status.FAILED and record.error.type == "TransportError"
    battery = record.energy.battery
    assert battery.unplugged and battery.restored is False
    assert "dumpsys battery reset" in battery.restore_error and "adb -s 127.0.0.1:" in battery.restore_error
    assert device.config.battery_unplugged  # still in effect on the phone, as the record says
    assert runner.pending_resets


def test_dumpsys_battery_fields_and_capacity_from_the_charge_counter():
    dump = pa.parse_dumpsys_battery(USB)
    assert dump.powered == ("usb",) and dump.status == 2 and dump.level_pct == 87
    assert dump.capacity_mah == pytest.approx(3391.0 / 0.87)  # 3391 mAh left at 87 %
    assert pa.parse_dumpsys_battery(WIFI).powered == ()


def test_units_from_magnitude_and_the_supply_by_type():
    assert pa.current_unit([-250000.0, -260000.0]) == ("uA", 1e-3)
    assert pa.current_unit([250.0, 900.0]) == ("mA", 1.0)
    assert pa.voltage_unit([3_900_000.0])[0] == "uV" and pa.voltage_unit([3900.0])[0] == "mV"
    assert pa.voltage_unit([3.9])[0] == "V"
    assert pa.discharge_sign([120.0, 130.0], discharging=True) == 1
    assert pa.discharge_sign([120.0, 130.0], discharging=False) == -1  # not provable: Android's convention
    assert pa.choose_supply(["usb", "bms", "max1720x"], {"max1720x": "Battery\n", "usb": "USB"}) == "max1720x"
    assert pa.parse_pair("-250000\n3900000\n") == (-250000.0, 3900000.0)
    assert pa.parse_pair("cat: /sys/...: Permission denied\n") is None


def test_phone_without_a_battery_is_not_available(device, tmp_path):
    import shutil

    script(device, PIXEL)
    shutil.rmtree(device.config.root / "sys/class/power_supply/battery")
    _, record = measure(device, tmp_path)
    assert record.status is Status.OK
    assert record.energy.status is EnergyStatus.NOT_AVAILABLE
    assert record.energy.reason == "not available: no battery under /sys/class/power_supply (entries: usb)"


def test_screen_turning_off_mid_run_is_noted(device, tmp_path):
    script(device, PIXEL)
    device.config.screen = ["Awake", "Asleep"]
    _, record = measure(device, tmp_path)
    assert "the screen went Awake -> Asleep during the run" in " ".join(record.energy.notes)
    device.config.screen = ["Awake"]
    script(device, PIXEL)
    _, again = measure(device, tmp_path)
    assert "screen Awake throughout" in " ".join(again.energy.notes)
