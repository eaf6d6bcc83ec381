"""Which targets are reachable now, and why the others are not (``edgebench devices``).

The host is always there; adb devices come from a running adb server, ``$EDGEBENCH_ADB_DEVICES`` and
configured targets; the Mac only on macOS; boards from configured targets and ``$EDGEBENCH_SSH_HOSTS``.
"""

from __future__ import annotations

from collections.abc import Sequence

from device_runners.targets import Probe, TargetConfig, env_targets


def discover(targets: Sequence[TargetConfig] = ()) -> list[Probe]:
    """Probe every runner's devices plus the given targets, each once.

    Args:
        targets: Targets from a plan or a targets file (their names label the rows).

    Returns:
        One probe per target or device: reachable with its DeviceInfo, or the reason why not.
    """
    from device_runners.adb import AdbRunner
    from device_runners.coreml_mac import CoreMLRunner
    from device_runners.host import HostRunner
    from device_runners.ssh import SshRunner

    probes = [Probe("host", "local", device) for device in HostRunner().devices()]
    configured = {(t.runner, t.device_id) for t in targets}
    probes += [p for p in AdbRunner().probe() if ("adb", _device_id(p)) not in configured or not p.ok]
    probes += CoreMLRunner().probe()
    env_ssh = [t for t in env_targets() if t.runner == "ssh" and (t.runner, t.device_id) not in configured]
    for target in [*targets, *env_ssh]:
        if target.runner == "adb":
            probes += AdbRunner(target).probe()
        elif target.runner == "ssh":
            probes += SshRunner(target).probe()
    if not any(t.runner == "ssh" for t in [*targets, *env_ssh]):
        probes += SshRunner().probe()  # says why there is no board
    return probes


def _device_id(probe: Probe) -> str:
    return probe.device.device_id if probe.device is not None else probe.label
