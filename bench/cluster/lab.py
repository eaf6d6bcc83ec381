"""A USB host joins the device lab: one Ray resource ``target:<name>`` per reachable target it owns.

``edgebench lab node --targets FILE`` probes the file's targets through the runner registry (the same
discovery as ``edgebench devices``), then starts a Ray head (no ``--address``) or joins the cluster at
``--address`` with those resources. A timing task asks for one unit of its target's resource, so each
phone, Mac or board serves one job at a time. Unreachable targets are left out (and said so): a job for
them waits, and ends ``failed`` once the run's ``lost_target_secs`` pass.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError
from device_runners.base import Probe
from device_runners.discovery import discover
from device_runners.targets import TargetConfig

RESOURCE_PREFIX = "target:"  # also bench.cluster.scheduler's; kept here so lab never imports Ray
START_TIMEOUT_SECS = 120


@dataclass(frozen=True)
class Declaration:
    """What a lab node offers: the resources of its reachable targets, and why the others are left out."""

    resources: dict[str, float]  # target:<name> -> 1
    left_out: dict[str, str]  # target name -> why it is not reachable


def declare(targets: list[TargetConfig]) -> Declaration:
    """Probe ``targets`` and declare one resource per reachable one.

    Raises:
        InputError: two targets share a name (one resource cannot stand for two devices).
    """
    names = [target.label for target in targets]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise InputError(f"--targets: target names must be unique on a lab node; {doubled[0]!r} repeats")
    probes = discover(targets)
    resources, left_out = {}, {}
    for target in targets:
        found = [p for p in probes if p.runner == target.runner and p.label == target.label]
        if any(p.ok for p in found):
            resources[RESOURCE_PREFIX + target.label] = 1.0
        else:
            left_out[target.label] = _reason(found)
    return Declaration(resources, left_out)


def _reason(probes: list[Probe]) -> str:
    return "; ".join(p.reason for p in probes if p.reason) or "not found by its runner"


def check_address(address: str, timeout: float = 5.0) -> None:
    """Fail fast, before anything is computed, when no Ray head answers at ``address`` (HOST:PORT).

    ``auto`` is left to Ray (it finds the local node's cluster, or says there is none, at once); an
    address nobody answers would otherwise keep Ray retrying for minutes.

    Raises:
        InputError: the address is malformed or nothing accepts a connection there.
    """
    import socket

    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--cluster: got {address!r}; allowed: auto or HOST:PORT of the Ray head")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise InputError(f"--cluster: no Ray head answers at {address} ({error})") from None


def ray_start_argv(declaration: Declaration, address: str | None, num_cpus: int | None) -> list[str]:
    """The ``ray start`` command that starts a head (no address) or joins ``address`` with the resources."""
    ray = Path(sys.executable).with_name("ray")
    resources = json.dumps(declaration.resources, sort_keys=True)
    # No usage reports to Ray's servers: a lab host talks to its cluster and the store only.
    argv = [str(ray), "start", f"--resources={resources}", "--disable-usage-stats"]
    argv += [f"--address={address}"] if address else ["--head", "--include-dashboard=false"]
    if num_cpus is not None:
        argv.append(f"--num-cpus={num_cpus}")
    return argv


def start_node(declaration: Declaration, address: str | None, num_cpus: int | None) -> str:
    """Run ``ray start``; returns its output (which says how other nodes join).

    Raises:
        InputError: Ray is not installed (the ``cluster`` extra) or ``ray start`` failed.
    """
    from common.process import CommandError, CommandTimeout, run

    argv = ray_start_argv(declaration, address, num_cpus)
    try:
        done = run(argv, START_TIMEOUT_SECS)
    except FileNotFoundError:
        raise InputError("lab node: Ray is not installed; pip install 'edgebench[cluster]'") from None
    except (CommandError, CommandTimeout) as error:
        first = " ".join(str(error).split())[:400]
        raise InputError(f"lab node: `ray start` failed: {first}") from None
    return done.stdout
