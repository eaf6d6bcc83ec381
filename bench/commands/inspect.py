"""``edgebench inspect MODEL [MODEL ...] [--json]``: where the bytes of .tflite files go.

Per file: its size, the constant tensor data per type (FLOAT32, FLOAT16, INT8, INT32 ...), the bytes of the
quantization parameters (per-channel scales and zero points), and the graph's operators with their counts
(custom ops such as ``TFLite_Detection_PostProcess`` by name). Reads the file only; no TensorFlow.
"""

from __future__ import annotations

import argparse

from rich.table import Table

from bench import console as output


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``inspect`` subcommand."""
    parser = subparsers.add_parser(
        "inspect",
        help="byte breakdown of .tflite files: weights by type, quantization parameters, graph",
        description="Show where the bytes of .tflite files go and which operators their graph holds.",
    )
    parser.add_argument("models", nargs="+", metavar="MODEL", help=".tflite file(s)")
    parser.add_argument("--json", action="store_true", help="a JSON list, one object per file")


def run(args: argparse.Namespace) -> int:
    """Print the breakdown of every file (all files are read before anything is printed)."""
    from bench.tflite_bytes import breakdown

    infos = [breakdown(path) for path in args.models]
    if args.json:
        output.print_json([info.model_dump() for info in infos])
        return 0
    console = output.stdout_console()
    for info in infos:
        console.print(_table(info))
    return 0


def _table(info) -> Table:
    table = Table(
        "part", "bytes", "share", title=f"{info.path}: {info.file_bytes:,} bytes", title_justify="left"
    )
    for name, size in info.tensor_bytes.items():
        table.add_row(f"tensor data {name}", f"{size:,}", _share(size, info.file_bytes))
    table.add_row(
        f"quantization parameters ({info.per_channel_channels:,} per-channel channels)",
        f"{info.quantization_bytes:,}",
        _share(info.quantization_bytes, info.file_bytes),
    )
    rest = info.file_bytes - sum(info.tensor_bytes.values()) - info.quantization_bytes
    table.add_row("graph, names and metadata", f"{rest:,}", _share(rest, info.file_bytes))
    ops = ", ".join(f"{name} x{count}" for name, count in info.ops.items())
    table.caption = f"{info.subgraphs} subgraph(s), {info.tensors} tensors; ops: {ops}"
    table.caption_justify = "left"
    return table


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"
