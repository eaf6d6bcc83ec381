"""Apple's device tools, through ``common.process.run``: ``xcrun devicectl`` (iPhones) and ``xcrun simctl``.

``devicectl`` (Xcode 15+) writes its machine-readable answer to the file named by ``--json-output``:
``{"info": {"outcome": "success", ...}, "result": {...}}``. ``simctl list --json`` prints JSON on stdout.
Launching with ``--console`` keeps the tool attached until the app exits and forwards the app's
stdout and stderr, which is where LiteRT's benchmark prints. Parsing is pure, so it is tested on
recorded answers without a Mac.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common import process
from device_runners.ios_models import marketing_name_of, soc_of

_LIST_TIMEOUT = 60.0


@dataclass(frozen=True)
class IosDevice:
    """An iPhone (or a simulator) as the tools describe it."""

    identifier: str  # what --device takes: devicectl's identifier, or the simulator's UDID
    udid: str | None
    name: str | None  # the user's name for it, "Maria's iPhone"
    model: str | None  # marketing name, "iPhone 11"
    product_type: str | None  # "iPhone12,1"
    os_version: str | None  # "17.4.1"
    soc: str | None  # from the identifier table (device_runners/ios_models.py)
    reachable: bool
    reason: str = ""  # why not reachable
    simulated: bool = False

    @property
    def os(self) -> str | None:
        """'iOS 17.4.1'."""
        return f"iOS {self.os_version}" if self.os_version else None

    def matches(self, wanted: str) -> bool:
        """Whether ``wanted`` (a target's serial) names this device: identifier, UDID or name."""
        return wanted in (self.identifier, self.udid, self.name)


def parse_devicectl_devices(data: dict) -> list[IosDevice]:
    """iPhones from ``devicectl list devices --json-output`` (other device types are left out)."""
    devices = []
    for entry in data.get("result", {}).get("devices", []):
        hardware = entry.get("hardwareProperties", {})
        if hardware.get("platform", "iOS") != "iOS" or hardware.get("reality", "physical") != "physical":
            continue
        props = entry.get("deviceProperties", {})
        connection = entry.get("connectionProperties", {})
        product = hardware.get("productType")
        reachable, reason = _reachability(connection, props)
        devices.append(
            IosDevice(
                identifier=entry.get("identifier") or hardware.get("udid", ""),
                udid=hardware.get("udid"),
                name=props.get("name"),
                model=hardware.get("marketingName") or marketing_name_of(product) or product,
                product_type=product,
                os_version=props.get("osVersionNumber"),
                soc=soc_of(product),
                reachable=reachable,
                reason=reason,
            )
        )
    return devices


def _reachability(connection: dict, props: dict) -> tuple[bool, str]:
    # devicectl lists every phone ever paired; only a connected tunnel (USB or network) can run apps.
    if connection.get("pairingState", "paired") != "paired":
        return False, "not paired with this Mac: unlock it and trust this computer"
    if connection.get("tunnelState") not in ("connected", None):
        return (
            False,
            f"not connected (tunnel {connection.get('tunnelState')}): plug it in or join its network",
        )
    if props.get("developerModeStatus", "enabled") != "enabled":
        return False, "Developer Mode is off: Settings > Privacy & Security > Developer Mode"
    return True, ""


def parse_simctl_devices(data: dict) -> list[IosDevice]:
    """iPhone simulators from ``simctl list devices --json``; only booted ones are reachable."""
    found = []
    for runtime, entries in data.get("devices", {}).items():
        if ".iOS-" not in runtime:
            continue  # watchOS, tvOS, visionOS runtimes
        version = runtime.rpartition(".iOS-")[2].replace("-", ".")
        for entry in entries:
            if not entry.get("isAvailable", True) or "iPhone" not in entry.get("name", ""):
                continue
            booted = entry.get("state") == "Booted"
            found.append(
                IosDevice(
                    identifier=entry["udid"],
                    udid=entry["udid"],
                    name=entry.get("name"),
                    model=f"{entry.get('name')} (Simulator)",
                    product_type=None,
                    os_version=version,
                    soc=None,  # the Mac's CPU runs it
                    reachable=booted,
                    reason=""
                    if booted
                    else f"simulator is {entry.get('state', 'not booted')}: xcrun simctl boot",
                    simulated=True,
                )
            )
    return found


def list_devices(timeout: float = _LIST_TIMEOUT) -> list[IosDevice]:
    """Every iPhone devicectl knows, reachable or not.

    Raises:
        CommandError, CommandTimeout: devicectl failed. FileNotFoundError: no xcrun.
    """
    return parse_devicectl_devices(_devicectl_json(["list", "devices"], timeout))


def list_simulators(timeout: float = _LIST_TIMEOUT) -> list[IosDevice]:
    """Every available iPhone simulator.

    Raises:
        CommandError, CommandTimeout: simctl failed. FileNotFoundError: no xcrun.
    """
    done = process.run(["xcrun", "simctl", "list", "devices", "available", "--json"], timeout)
    return parse_simctl_devices(json.loads(done.stdout or "{}"))


def install(device: IosDevice, app: Path, timeout: float) -> None:
    """Install the built .app on the device or simulator (replacing an older build)."""
    if device.simulated:
        process.run(["xcrun", "simctl", "install", device.identifier, str(app)], timeout)
    else:
        _devicectl_json(["device", "install", "app", "--device", device.identifier, str(app)], timeout)


def launch_console(device: IosDevice, bundle_id: str, timeout: float) -> str:
    """Launch the app, stay attached until it exits, and return what it printed (stdout and stderr).

    Raises:
        CommandError: the launch failed or the app died (the device went away, a crash).
        CommandTimeout: it did not exit in time.
    """
    if device.simulated:
        argv = ["xcrun", "simctl", "launch", "--console", "--terminate-running-process"]
        argv += [device.identifier, bundle_id]
    else:
        argv = ["xcrun", "devicectl", "device", "process", "launch", "--console", "--terminate-existing"]
        argv += ["--device", device.identifier, bundle_id]
    done = process.run(argv, timeout)
    return done.stdout + ("\n" + done.stderr if done.stderr else "")


def _devicectl_json(args: list[str], timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="edgebench-devicectl-") as folder:
        out = Path(folder) / "out.json"
        process.run(["xcrun", "devicectl", *args, "--json-output", str(out)], timeout)
        try:
            return json.loads(out.read_text())
        except (OSError, ValueError):
            return {}  # an old devicectl that wrote nothing: treated as "no devices"
