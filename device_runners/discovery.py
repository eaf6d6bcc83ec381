"""Which targets are reachable now, and why the others are not (``edgebench devices``).

Every registered runner discovers its own devices (``Runner.discover``): the host is always there; adb
devices come from a running adb server, ``$EDGEBENCH_ADB_DEVICES`` and configured targets; the Mac only
on macOS; boards from configured targets and ``$EDGEBENCH_SSH_HOSTS``.
"""

from __future__ import annotations

from collections.abc import Sequence

from device_runners.base import Probe
from device_runners.registry import runner_class, runner_names
from device_runners.targets import TargetConfig


def discover(targets: Sequence[TargetConfig] = ()) -> list[Probe]:
    """Probe every registered runner's devices plus the given targets, each once.

    Args:
        targets: Targets from a plan or a targets file (their names label the rows).

    Returns:
        One probe per target or device, runner by runner in registration order: reachable with its
        DeviceInfo, or the reason why not.
    """
    probes: list[Probe] = []
    for name in runner_names():
        probes += runner_class(name).discover([target for target in targets if target.runner == name])
    return probes
