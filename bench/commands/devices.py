"""``edgebench devices [--targets FILE] [--json]``: the targets reachable now, and why the others are not.

Every registered runner (``device_runners.registry``) discovers its own devices, in registry order.
The host is always listed; Android devices come from a running adb server (``adb`` on PATH), from
``$EDGEBENCH_ADB_DEVICES`` and from the targets file; the Mac only on macOS; Linux boards from the
targets file and ``$EDGEBENCH_SSH_HOSTS``. A targets file is a YAML mapping with a ``targets:`` list (a
plan's own ``targets:`` works too). Exit code 0; reachability is reported, not judged.
"""

from __future__ import annotations

import argparse

from rich.table import Table

from bench import console as output
from device_runners.base import Probe
from device_runners.discovery import discover
from device_runners.targets import load_target_file


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``devices`` subcommand."""
    parser = subparsers.add_parser(
        "devices",
        help="list the reachable targets (host, adb devices, Mac, ssh boards) and why others are not",
        description="List every target edgebench can time on now, and for the rest the reason why not.",
    )
    parser.add_argument(
        "--targets", metavar="FILE", help="YAML file with a 'targets:' list (a plan works too)"
    )
    parser.add_argument("--json", action="store_true", help="print the targets as a JSON list")


def run(args: argparse.Namespace) -> int:
    """Probe and print."""
    targets = load_target_file(args.targets) if args.targets else []
    probes = discover(targets)
    if args.json:
        output.print_json([as_dict(probe) for probe in probes])
        return 0
    table = Table(title="edgebench targets")
    for column in ("runner", "target", "reachable", "model", "os", "soc", "abi", "delegates / reason"):
        table.add_column(column)
    for probe in probes:
        device = probe.device
        if device is None:
            table.add_row(probe.runner, probe.label, "no", "-", "-", "-", "-", probe.reason)
        else:
            delegates = ", ".join(d.value for d in device.delegates)
            table.add_row(
                probe.runner,
                probe.label,
                "yes",
                device.model or "-",
                device.os or "-",
                device.soc or "-",
                device.abi or "-",
                delegates,
            )
    output.stdout_console().print(table)
    return 0


def as_dict(probe: Probe) -> dict:
    """One probe as JSON-ready data."""
    device = probe.device
    return {
        "runner": probe.runner,
        "target": probe.label,
        "reachable": device is not None,
        "device_id": device.device_id if device else None,
        "model": device.model if device else None,
        "os": device.os if device else None,
        "soc": device.soc if device else None,
        "abi": device.abi if device else None,
        "delegates": [d.value for d in device.delegates] if device else [],
        "reason": probe.reason or None,
    }
