"""Output shared by the commands and the pipeline: consoles that suit a terminal or a log, tables, JSON."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from results.schema import RunRecord, Status

_PIPE_WIDTH = 200  # rich assumes 80 columns when stdout is not a terminal; tables need more


def stdout_console() -> Console:
    """A console on stdout that does not squeeze tables when piped to a file."""
    console = Console(soft_wrap=False, highlight=False)
    if not console.is_terminal:
        console = Console(soft_wrap=False, highlight=False, width=_PIPE_WIDTH, color_system=None)
    return console


def stderr_console(quiet: bool) -> Console:
    """A console on stderr for progress; silent when ``quiet`` (e.g. with --json)."""
    console = Console(stderr=True, quiet=quiet, highlight=False)
    if not console.is_terminal:  # a log file: one line per job, no wrapping at 80 columns
        console = Console(stderr=True, quiet=quiet, highlight=False, width=_PIPE_WIDTH, color_system=None)
    return console


def print_json(value: object) -> None:
    """Write ``value`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(value, indent=2) + "\n")
    sys.stdout.flush()


def silence_closed_stdout() -> None:
    """After a BrokenPipeError (``| head``): point stdout at /dev/null so the exit flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def records_json(records: Iterable[RunRecord]) -> list[dict]:
    """Records as JSON-ready dicts, the same shape as the store's record_json."""
    return [record.model_dump(mode="json") for record in records]


def ms(value: float | None) -> str:
    """Milliseconds for a table cell: three significant figures past the point, '-' when absent."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.2f}" if value < 100 else f"{value:.1f}"


def mb(value: float | None) -> str:
    """Megabytes for a table cell."""
    return "-" if value is None else f"{value:.1f}"


def ops_outside(record: RunRecord) -> str:
    """'outside/total' ops, or '-' when no delegate applies (plain CPU kernels) or nothing was timed."""
    timing = record.timing
    if timing is None or timing.ops_outside_delegate is None:
        return "-"
    total = "?" if timing.ops_total is None else str(timing.ops_total)
    return f"{timing.ops_outside_delegate}/{total}"


def status_text(record: RunRecord) -> str:
    """'ok', 'ok (fallback)', or the status with its short reason."""
    if record.status is Status.OK:
        if record.fallback is None:
            return "ok"
        return "ok (full fallback)" if record.fallback.full else "ok (partial fallback)"
    reason = record.error.message if record.error else ""
    return f"{record.status.value}: {reason}"


def timing_table(records: Sequence[RunRecord], title: str | None = None) -> Table:
    """The table `edgebench time` prints: one row per record."""
    headers = ["model", "delegate", "threads", "median ms", "p90 ms", "std ms", "init ms", "first ms"]
    headers += ["peak MB", "ops outside", "status"]
    table = Table(*headers, title=title, title_justify="left")
    for column in table.columns[2:10]:
        column.justify = "right"
    for record in records:
        timing = record.timing
        table.add_row(
            Path(record.artifact.path).name,
            record.target.delegate.value,
            str(record.target.threads),
            ms(timing and timing.median_ms),
            ms(timing and timing.p90_ms),
            ms(timing and timing.std_ms),
            ms(timing and timing.init_ms),
            ms(timing and timing.first_inference_ms),
            mb(timing and timing.peak_memory_mb),
            ops_outside(record),
            status_text(record),
        )
    return table
