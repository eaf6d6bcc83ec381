"""What an Android device says about itself: ``getprop``, ``dumpsys thermalservice``, ``dumpsys battery``.

Pure text parsing, so every function is tested on recorded outputs without a device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PROP = re.compile(r"^\[([^\]]+)\]:\s*\[(.*)\]\s*$")
_THERMAL_STATUS = re.compile(r"^\s*Thermal Status:\s*(\d+)", re.MULTILINE)
_TEMPERATURE = re.compile(r"Temperature\{mValue=([-\d.eE+]+), mType=(-?\d+), mName=([^,}]*)")
_BATTERY_TEMPERATURE = re.compile(r"^\s*temperature:\s*(-?\d+)\s*$", re.MULTILINE)

# android.os.PowerManager THERMAL_STATUS_* constants.
THERMAL_STATUS_NAMES = ("NONE", "LIGHT", "MODERATE", "SEVERE", "CRITICAL", "EMERGENCY", "SHUTDOWN")
# android.os.Temperature TYPE_* constants that say most about throttling of the SoC.
_SOC_TEMPERATURE_TYPES = {0: "cpu", 1: "gpu", 3: "skin", 9: "npu"}
_BATTERY_TYPE = 2


@dataclass(frozen=True)
class AndroidProps:
    """The getprop values a record needs."""

    model: str | None  # "Pixel 7"
    manufacturer: str | None  # "Google"
    soc: str | None  # ro.soc.model (Android 12+), else the board platform, else the hardware name
    android_version: str | None  # "14"
    sdk: str | None  # "34"
    abi: str | None  # "arm64-v8a"
    emulator: bool  # ro.kernel.qemu=1 or a "goldfish" / "ranchu" hardware name

    @property
    def device_model(self) -> str | None:
        """'Google Pixel 7', without repeating a manufacturer the model already names."""
        if not self.model:
            return self.manufacturer
        if self.manufacturer and not self.model.lower().startswith(self.manufacturer.lower()):
            return f"{self.manufacturer} {self.model}"
        return self.model

    @property
    def os(self) -> str | None:
        """'Android 14 (API 34)'."""
        if not self.android_version:
            return None
        return f"Android {self.android_version}" + (f" (API {self.sdk})" if self.sdk else "")


@dataclass(frozen=True)
class ThermalReading:
    """A thermal snapshot: the framework's throttling status and temperatures in degrees C."""

    status: str | None = None  # "NONE" .. "SHUTDOWN", None where thermalservice is missing (Android < 10)
    battery_c: float | None = None
    soc_c: float | None = None  # hottest CPU / GPU / skin / NPU sensor

    def describe(self) -> str | None:
        """For ``Timing.thermal_before`` / ``thermal_after``: 'NONE battery=31.2C soc=44.1C'."""
        parts = [self.status] if self.status else []
        if self.battery_c is not None:
            parts.append(f"battery={self.battery_c:.1f}C")
        if self.soc_c is not None:
            parts.append(f"soc={self.soc_c:.1f}C")
        return " ".join(parts) or None

    @property
    def hottest_c(self) -> float | None:
        """The temperature a sustained trace records: the SoC's, else the battery's."""
        return self.soc_c if self.soc_c is not None else self.battery_c


def parse_getprop(text: str) -> dict[str, str]:
    """``getprop`` output (``[key]: [value]`` lines) as a dict; other lines are ignored."""
    props = {}
    for line in text.splitlines():
        match = _PROP.match(line.strip())
        if match:
            props[match.group(1)] = match.group(2)
    return props


def android_props(props: dict[str, str]) -> AndroidProps:
    """Pick the fields a record needs from getprop's dict."""

    def first(*keys: str) -> str | None:
        for key in keys:
            value = props.get(key, "").strip()
            if value:
                return value
        return None

    hardware = first("ro.hardware") or ""
    return AndroidProps(
        model=first("ro.product.model", "ro.product.vendor.model"),
        manufacturer=first("ro.product.manufacturer", "ro.product.vendor.manufacturer"),
        soc=_soc(first("ro.soc.manufacturer"), first("ro.soc.model"))
        or first("ro.board.platform", "ro.hardware.chipname", "ro.hardware"),
        android_version=first("ro.build.version.release_or_codename", "ro.build.version.release"),
        sdk=first("ro.build.version.sdk"),
        abi=first("ro.product.cpu.abi"),
        emulator=props.get("ro.kernel.qemu") == "1" or hardware in ("goldfish", "ranchu", "cutf_cvm"),
    )


def _soc(manufacturer: str | None, model: str | None) -> str | None:
    if not model:
        return None
    if manufacturer and not model.lower().startswith(manufacturer.lower()):
        return f"{manufacturer} {model}"
    return model


def parse_thermal(thermalservice: str, battery: str) -> ThermalReading:
    """Combine ``dumpsys thermalservice`` and ``dumpsys battery``.

    The HAL's current temperatures are preferred to the cached ones (printed first), because the
    cache only holds values that crossed a threshold.
    """
    status = None
    match = _THERMAL_STATUS.search(thermalservice)
    if match:
        code = int(match.group(1))
        status = THERMAL_STATUS_NAMES[code] if 0 <= code < len(THERMAL_STATUS_NAMES) else str(code)
    _, _, current = thermalservice.partition("Current temperatures from HAL:")
    temperatures = _temperatures(current) or _temperatures(thermalservice)
    soc = [value for kind, value in temperatures if kind in _SOC_TEMPERATURE_TYPES]
    hal_battery = [value for kind, value in temperatures if kind == _BATTERY_TYPE]
    return ThermalReading(
        status=status,
        battery_c=parse_battery_temperature(battery) or (hal_battery[0] if hal_battery else None),
        soc_c=max(soc) if soc else None,
    )


def _temperatures(text: str) -> list[tuple[int, float]]:
    found = []
    for value, kind, _name in _TEMPERATURE.findall(text):
        try:
            found.append((int(kind), float(value)))
        except ValueError:
            continue
    return found


def parse_battery_temperature(text: str) -> float | None:
    """Battery temperature in degrees C from ``dumpsys battery`` (which prints tenths of a degree)."""
    match = _BATTERY_TEMPERATURE.search(text)
    return int(match.group(1)) / 10.0 if match else None


def elf_machine(header: bytes) -> str | None:
    """The Android ABI an ELF binary is built for, from its header; None when it is not ELF.

    Lets the runner say "this benchmark_model is arm64, the emulator is x86_64" instead of a cryptic
    "not executable" from the device.
    """
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    little = header[5] == 1
    machine = int.from_bytes(header[18:20], "little" if little else "big")
    return {0xB7: "arm64-v8a", 0x28: "armeabi-v7a", 0x3E: "x86_64", 0x03: "x86"}.get(
        machine, f"e_machine {machine}"
    )
