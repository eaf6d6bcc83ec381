"""What devices say of themselves: getprop, dumpsys, adb devices -l, board info, ELF headers, exit markers."""

from __future__ import annotations

import shlex

import pytest
from dr_helpers import fake_benchmark_binary, recorded

from device_runners.adb_server import parse_devices_l
from device_runners.adb_transport import (
    EXIT_MARKER,
    TransportError,
    split_exit,
    wrap_command,
)
from device_runners.android_info import (
    ThermalReading,
    android_props,
    elf_machine,
    parse_battery_temperature,
    parse_getprop,
    parse_thermal,
)
from device_runners.ssh_client import parse_board_info


def test_getprop_of_a_pixel():
    props = android_props(parse_getprop(recorded("getprop_pixel7.txt")))
    assert (props.device_model, props.os, props.soc, props.abi) == (
        "Google Pixel 7",
        "Android 14 (API 34)",
        "Google Tensor G2",
        "arm64-v8a",
    )
    assert props.emulator is False


def test_getprop_of_an_emulator_and_an_old_phone():
    emulator = android_props(parse_getprop(recorded("getprop_emulator.txt")))
    assert emulator.emulator is True and emulator.abi == "x86_64" and emulator.soc == "AOSP ranchu"
    old = android_props(parse_getprop(recorded("getprop_old_samsung.txt")))
    # No ro.soc.model before Android 12: the board platform names the SoC family.
    assert (old.device_model, old.os, old.soc) == ("samsung SM-A305F", "Android 9 (API 28)", "exynos5")


def test_getprop_ignores_noise_and_keeps_empty_values():
    props = parse_getprop("garbage\n[ro.a]: [x]\n[ro.empty]: []\n  [ro.b]: [two words]  \n")
    assert props == {"ro.a": "x", "ro.empty": "", "ro.b": "two words"}


def test_thermal_cool_and_hot():
    cool = parse_thermal(recorded("dumpsys_thermalservice.txt"), recorded("dumpsys_battery.txt"))
    assert cool == ThermalReading(status="NONE", battery_c=31.2, soc_c=38.6)  # HAL values, not the cache
    hot = parse_thermal(recorded("dumpsys_thermalservice_hot.txt"), recorded("dumpsys_battery_hot.txt"))
    assert hot.status == "MODERATE" and hot.soc_c == 71.3 and hot.battery_c == 37.9
    assert hot.describe() == "MODERATE battery=37.9C soc=71.3C" and hot.hottest_c == 71.3


def test_thermal_without_thermalservice_uses_the_battery():
    reading = parse_thermal("Can't find service: thermalservice\n", recorded("dumpsys_battery.txt"))
    assert reading == ThermalReading(status=None, battery_c=31.2, soc_c=None)
    assert reading.describe() == "battery=31.2C" and reading.hottest_c == 31.2
    assert ThermalReading().describe() is None
    assert parse_battery_temperature("no such line") is None


def test_elf_machine(tmp_path):
    assert elf_machine(fake_benchmark_binary(tmp_path / "a").read_bytes()[:20]) == "arm64-v8a"
    assert elf_machine(fake_benchmark_binary(tmp_path / "b", machine=0x3E).read_bytes()[:20]) == "x86_64"
    assert elf_machine(b"#!/bin/sh\necho not an elf") is None


def test_adb_devices_l():
    devices = {d.serial: d for d in parse_devices_l(recorded("adb_devices_l.txt"))}
    assert devices["28031FDH2000BY"].state == "device"
    assert devices["28031FDH2000BY"].attributes["model"] == "Pixel_7"
    assert devices["R58M123ABC"].state == "unauthorized"
    assert devices["192.168.1.20:5555"].state == "offline"
    assert len(devices) == 4


@pytest.mark.parametrize(
    ("name", "model", "soc", "abi", "os"),
    [
        (
            "board_rpi5.txt",
            "Raspberry Pi 5 Model B Rev 1.0",
            "brcm,bcm2712",
            "aarch64",
            "Linux 6.6.31+rpt-rpi-2712",
        ),
        (
            "board_rpi4_32bit.txt",
            "Raspberry Pi 4 Model B Rev 1.4",
            "BCM2711",
            "armv7l",
            "Linux 5.10.103-v7l+",
        ),
        (
            "board_jetson_orin.txt",
            "NVIDIA Jetson Orin Nano Developer Kit",
            "nvidia,tegra234",
            "aarch64",
            "Linux 5.15.136-tegra",
        ),
    ],
)
def test_board_info(name, model, soc, abi, os):
    info = parse_board_info(recorded(name), "pi.local")
    assert (info.model, info.soc, info.abi, info.os, info.device_id) == (model, soc, abi, os, "pi.local")


def test_exit_marker_round_trip():
    command = wrap_command(["/data/local/tmp/x y/benchmark_model", "--graph=a;b"])
    assert shlex.split(command)[:2] == ["/data/local/tmp/x y/benchmark_model", "--graph=a;b"]
    result = split_exit(f"INFO: hello\r\n{EXIT_MARKER}139\r\n")
    assert (result.output, result.exit_code) == ("INFO: hello", 139)
    assert split_exit(f"{EXIT_MARKER}0\n").output == ""
    with pytest.raises(TransportError, match="ended before"):
        split_exit("INFO: STARTING!\n")
