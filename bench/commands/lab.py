"""``edgebench lab node --targets FILE [--address ADDR]``: offer this host's devices to a Ray device lab.

Probes the file's targets (as ``edgebench devices`` does), then starts a Ray head, or joins the cluster at
``--address``, declaring one custom resource ``target:<name>`` per reachable target, and prints what it
declared. Runs on each USB host; ``edgebench benchmark --cluster ADDR`` then times every job on the node
that owns its target, one job per device at a time.
"""

from __future__ import annotations

import argparse

from bench import console as output


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``lab`` subcommand."""
    parser = subparsers.add_parser(
        "lab",
        help="device lab on Ray: `lab node` offers this host's targets to the cluster",
        description="Run a device lab on Ray: each USB host runs `edgebench lab node`.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    node = actions.add_parser(
        "node", help="start or join the Ray node with one `target:<name>` resource per reachable target"
    )
    node.add_argument("--targets", metavar="FILE", required=True, help="YAML file with a 'targets:' list")
    node.add_argument("--address", help="the head's HOST:PORT to join (default: start a new head here)")
    node.add_argument("--num-cpus", type=int, help="CPUs this node offers for training and export")
    node.add_argument("--dry-run", action="store_true", help="print what would be declared; start nothing")


def run(args: argparse.Namespace) -> int:
    """Probe, declare, start."""
    from bench.cluster.lab import declare, ray_start_argv, start_node
    from device_runners.targets import load_target_file

    declaration = declare(load_target_file(args.targets))
    console = output.stdout_console()
    for name in declaration.resources:
        console.print(f"declares {name}")
    for name, reason in declaration.left_out.items():
        console.print(f"leaves out {name}: {reason}")
    if args.dry_run:
        console.print(" ".join(ray_start_argv(declaration, args.address, args.num_cpus)))
        return 0
    console.print(start_node(declaration, args.address, args.num_cpus).strip(), markup=False)
    return 0
