"""The ``edgebench`` command: one subcommand per module in ``bench/commands``, named like the module.

Bad input anywhere (``common.errors.InputError``) ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bench import quiet
from common.errors import InputError

# Subcommand modules, in the order `edgebench --help` lists them.
COMMAND_MODULES = [
    "benchmark",
    "models",
    "time",
    "records",
    "compare",
    "store",
    "export",
    "devices",
    "evaluate",
    "dataset",
    "train",
    "inspect",
    "lab",
]

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(message)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand registered."""
    parser = _Parser(prog="edgebench", description="Detectors: train, compress, evaluate, time, compare.")
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up and INFO logs (hidden by default)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"bench.commands.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    # Before any command module can import TensorFlow; the flag is parsed again, properly, below.
    quiet.install(verbose="--verbose" in argv[: _first_command(argv)])
    try:
        args = build_parser().parse_args(argv)
        # Each module registers the subcommand of its own name and runs it.
        module = importlib.import_module(f"bench.commands.{args.command}")
        return int(module.run(args) or 0)
    except InputError as error:
        print(f"edgebench: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("edgebench: interrupted", file=sys.stderr)
        return 130


def _first_command(argv: list[str]) -> int:
    """The index of the subcommand in ``argv`` (global flags come before it)."""
    return next((i for i, word in enumerate(argv) if word in COMMAND_MODULES), len(argv))


if __name__ == "__main__":
    sys.exit(main())
