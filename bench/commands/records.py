"""``edgebench records [--run RUN] [--json|--csv]``: print what the store holds.

A table by default; ``--json`` prints the full records (raw samples included) as a JSON list, the form
to share results in; ``--csv`` prints the store's flat columns, one row per record, for scripts.
"""

from __future__ import annotations

import argparse
import sys

from rich.table import Table

from bench import console as output
from common.errors import InputError
from results.schema import RunRecord
from results.store import Store

_RUNS_LISTED = 5  # how many recent run ids an unknown --run error suggests


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``records`` subcommand."""
    parser = subparsers.add_parser(
        "records",
        help="print the stored records (a table, JSON or CSV)",
        description="Print the records the store holds, oldest first, optionally of one run.",
    )
    parser.add_argument("--run", metavar="RUN", help="only the records of this run id")
    form = parser.add_mutually_exclusive_group()
    form.add_argument(
        "--json", action="store_true", help="full records as a JSON list (raw samples included)"
    )
    form.add_argument("--csv", action="store_true", help="the flat columns as CSV, one row per record")
    parser.add_argument(
        "--store", help="store URL or SQLite path (default: $EDGEBENCH_STORE or results/edgebench.sqlite)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the store's records in the requested form."""
    try:
        return _print_records(args)
    except BrokenPipeError:  # the reader (e.g. `| head`) stopped early: not an error
        output.silence_closed_stdout()
        return 0


def _print_records(args: argparse.Namespace) -> int:
    store = Store(args.store)
    try:
        if args.run is not None:
            _require_run(store, args.run)
        if args.csv:
            store.frame(run_id=args.run).to_csv(sys.stdout, index=False)
            return 0
        records = store.records(run_id=args.run)
    finally:
        store.close()
    if args.json:
        output.print_json(output.records_json(records))
    else:
        output.stdout_console().print(records_table(records))
    return 0


def _require_run(store: Store, run_id: str) -> None:
    runs = store.runs()
    known = list(runs["run_id"]) if len(runs) else []
    if run_id not in known:
        recent = ", ".join(known[:_RUNS_LISTED]) or "none stored"
        raise InputError(f"--run: no records with run id {run_id!r}; most recent runs: {recent}")


def records_table(records: list[RunRecord]) -> Table:
    """One row per record: when, which run, what, where, and the headline figures."""
    headers = ["created", "run", "model", "recipe", "runner", "device", "delegate", "threads"]
    headers += ["median ms", "p90 ms", "peak MB", "mAP", "status"]
    table = Table(*headers, title=f"{len(records)} records", title_justify="left")
    for column in table.columns[7:12]:
        column.justify = "right"
    for record in records:
        timing, accuracy = record.timing, record.accuracy
        table.add_row(
            record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            record.run_id,
            record.model.variant or record.artifact.path.rsplit("/", 1)[-1],
            record.artifact.recipe or "-",
            record.target.runner,
            record.target.device_id,
            record.target.delegate.value,
            str(record.target.threads),
            output.ms(timing and timing.median_ms),
            output.ms(timing and timing.p90_ms),
            output.mb(timing and timing.peak_memory_mb),
            "-" if accuracy is None else f"{accuracy.map:.3f}",
            output.status_text(record),
        )
    return table
