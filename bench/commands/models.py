"""``edgebench models [--input-size N] [--num-classes K] [--json]``: the detector zoo and its complexity.

One row per registered variant: anchors, params (trainable, with BN statistics, BN-folded) and MAdds,
counted on the built Keras model by the rules of reference/detectors.md. Tiny test variants are left
out unless ``--tiny``; ``--filter`` takes a wildcard (``'ssdlite_mobiledet_*'``).
"""

from __future__ import annotations

import argparse

from rich.table import Table

from bench import console as output
from common.errors import InputError, choice_error

_WILDCARDS = set("*?[")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``models`` subcommand."""
    parser = subparsers.add_parser(
        "models",
        help="list the detector zoo with anchors, params and MAdds",
        description="Build every registered detector variant and print its anchor count, params and MAdds.",
    )
    parser.add_argument(
        "--input-size", type=int, metavar="N", help="square input side for every variant (default: each own)"
    )
    parser.add_argument(
        "--num-classes", type=int, metavar="K", help="object classes, background excluded (default: 90)"
    )
    parser.add_argument("--width", type=float, metavar="M", help="width multiplier (default: each own)")
    parser.add_argument(
        "--filter", default="*", metavar="PATTERN", help="variant names to show, a wildcard (default: all)"
    )
    parser.add_argument("--tiny", action="store_true", help="also list the tiny test variants")
    parser.add_argument("--json", action="store_true", help="a JSON list of objects instead of a table")


def run(args: argparse.Namespace) -> int:
    """Build the selected variants and print their figures."""
    # Imported here: TensorFlow loads only when this command runs, not for every `edgebench` call.
    from bench.models.registry import TINY_PREFIX, list_models

    names = list_models(args.filter, exclude=None if args.tiny else f"{TINY_PREFIX}*")
    if not names:
        allowed = list_models(exclude=None if args.tiny else f"{TINY_PREFIX}*")
        if _WILDCARDS.isdisjoint(args.filter):
            raise choice_error("--filter", args.filter, allowed)
        raise InputError(f"--filter: no variant matches {args.filter!r}; allowed: {', '.join(allowed)}")
    progress = output.stderr_console(quiet=args.json)
    rows = []
    for name in names:
        with progress.status(f"building {name}"):
            rows.append(describe(name, args.input_size, args.num_classes, args.width))
    if args.json:
        output.print_json(rows)
    else:
        output.stdout_console().print(models_table(rows))
    return 0


def describe(name: str, input_size: int | None, num_classes: int | None, width: float | None) -> dict:
    """Build one variant and return its row (the JSON object the command prints).

    Raises:
        InputError: Unknown variant or invalid size / classes / width.
    """
    import tf_keras as keras

    from bench.models.complexity import count_complexity
    from bench.models.registry import build_model, get_config

    config = get_config(name, input_size=input_size, num_classes=num_classes, width_multiplier=width)
    complexity = count_complexity(build_model(config))
    keras.backend.clear_session()  # eight full-size graphs would otherwise pile up in memory
    return {
        "name": config.name,
        "backbone": config.backbone,
        "head": config.head.value,
        "input_size": config.input_size,
        "width_multiplier": config.width_multiplier,
        "num_classes": config.num_classes,
        "anchors": config.num_anchors,
        **complexity.as_dict(),
        "source": config.source,
    }


def models_table(rows: list[dict]) -> Table:
    """The table the command prints."""
    headers = ["variant", "input", "classes", "anchors", "params", "incl. BN stats", "BN-folded", "MAdds"]
    table = Table(*headers, title=f"{len(rows)} detector variants", title_justify="left")
    for column in table.columns[1:]:
        column.justify = "right"
    for row in rows:
        table.add_row(
            row["name"],
            f"{row['input_size']}x{row['input_size']}",
            str(row["num_classes"]),
            str(row["anchors"]),
            f"{row['params_trainable']:,}",
            f"{row['params_with_bn_stats']:,}",
            f"{row['params_bn_folded']:,}",
            f"{row['madds'] / 1e9:.3f}B",
        )
    return table
