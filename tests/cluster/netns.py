"""Run a Ray test inside a private network namespace, where Ray stays on 127.0.0.1.

Ray on Linux advertises the machine's interface address even when told 127.0.0.1, so a test cluster
would be reachable (and confused) from the network. The test re-executes itself under ``unshare -n`` with
only the loopback up; it skips, saying why, where unprivileged namespaces are not permitted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

INSIDE_ENV = "EDGEBENCH_TEST_NETNS"


def inside() -> bool:
    """Whether this process already runs in the private namespace."""
    return os.environ.get(INSIDE_ENV) == "1"


def rerun_isolated(nodeid: str, timeout: float = 600) -> None:
    """Run one pytest node again under ``unshare -n``; fail with its output when it fails."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here ({probe.stderr.strip() or probe.returncode})")
    pytest_cmd = f"{sys.executable} -m pytest -q -x -p no:cacheprovider -m '' '{nodeid}'"
    env = {**os.environ, INSIDE_ENV: "1"}
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {pytest_cmd}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert re.match(r"=* ?1 passed", summary), done.stdout[-3000:]  # ran: not skipped, not deselected
