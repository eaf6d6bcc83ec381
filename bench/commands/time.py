"""``edgebench time MODEL [MODEL ...]``: time any .tflite file on the host, one stored record per row.

Every model and option is validated before anything is timed or stored (bad input: one line, exit 2).
Several models are timed in interleaved rounds (``--rounds``, 5 by default; ``device_runners.rounds``):
one child process per delegate and thread count loads every model once, and each round gives every model
one window, so a slow spell of the machine hits them all alike. A model that crashes the child becomes a
``crashed`` record and the others keep their samples. ``--profile`` adds where each model's time goes per
op type (``device_runners/op_profile.py``) to its record. Exit code 0 when every record is ok or
unsupported, 1 when any failed or crashed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from bench import console as output
from bench.provenance import run_provenance
from common.errors import InputError, choice_error
from common.ids import new_run_id
from common.sidecar import sidecar_of
from device_runners.base import TimingJob
from device_runners.host import HostRunner, check_model
from results.schema import (
    ArtifactInfo,
    Delegate,
    ModelInfo,
    RunRecord,
    Status,
    TimingSettings,
)
from results.sidecar import file_artifact_info, read_sidecar
from results.sidecar import model_info as sidecar_model_info
from results.store import Store

# Timing flags -> TimingSettings fields; None leaves benchmark_model's default (schema defaults).
_SETTING_FLAGS = {
    "warmup": ("warmup_runs", "--warmup"),
    "warmup_secs": ("warmup_min_secs", "--warmup-secs"),
    "runs": ("min_runs", "--runs"),
    "min_secs": ("min_secs", "--min-secs"),
    "max_runs": ("max_runs", "--max-runs"),
    "max_secs": ("max_secs", "--max-secs"),
    "rounds": ("rounds", "--rounds"),
}
DEFAULT_ROUNDS = 5


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``time`` subcommand."""
    parser = subparsers.add_parser(
        "time",
        help="time .tflite models on this machine (LiteRT), one stored record per model x delegate x threads",
        description="Time .tflite models on this machine with LiteRT, like benchmark_model: warm up, "
        "then run until both minimums are met. Each timing runs in its own child process.",
    )
    parser.add_argument("models", nargs="+", metavar="MODEL", help=".tflite files (any, float or int8)")
    parser.add_argument(
        "--delegate",
        default="xnnpack",
        help="comma-separated delegates (default: xnnpack); cpu = builtin kernels without XNNPack; "
        "delegates the host lacks (gpu, nnapi, coreml_*) give an 'unsupported' record",
    )
    parser.add_argument("--threads", default="1", help="comma-separated thread counts (default: 1)")
    parser.add_argument("--warmup", type=int, help="minimum warmup runs (default 1)")
    parser.add_argument("--warmup-secs", type=float, help="minimum warmup seconds (default 0.5)")
    parser.add_argument("--runs", type=int, help="minimum timed runs (default 50)")
    parser.add_argument("--min-secs", type=float, help="minimum timed seconds (default 1)")
    parser.add_argument("--max-runs", type=int, help="at most this many timed runs (default: no cap)")
    parser.add_argument(
        "--max-secs", type=float, help="stop each phase after this many seconds (default 150)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"interleaved rounds: the timed runs are split into this many windows per model, every model "
        f"getting one window per round (default {DEFAULT_ROUNDS}; 1: one window each)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also measure where the time goes per op type (CONV_2D, the post-processing op, QUANTIZE, ...)"
        " and store it with each record",
    )
    parser.add_argument(
        "--store", help="store URL or SQLite path (default: $EDGEBENCH_STORE or results/edgebench.sqlite)"
    )
    parser.add_argument("--json", action="store_true", help="print the records as a JSON list; no progress")


def run(args: argparse.Namespace) -> int:
    """Validate everything, then time every model x delegate x threads and store each record."""
    delegates = parse_delegates(args.delegate)
    threads = parse_threads(args.threads)
    settings = parse_settings(args)
    models = list(dict.fromkeys(args.models))
    for model in models:
        check_model(model)
    store = Store(args.store)  # opened last: nothing is created for bad input
    try:
        records = time_models(
            models, delegates, threads, settings, store, quiet=args.json, profile=args.profile
        )
    finally:
        store.close()
    if args.json:
        output.print_json(output.records_json(records))
    else:
        output.stdout_console().print(output.timing_table(records, title=f"run {records[0].run_id}"))
    broken = [r for r in records if r.status in (Status.FAILED, Status.CRASHED)]
    return 1 if broken else 0


def time_models(
    models: list[str],
    delegates: list[Delegate],
    threads: list[int],
    settings: TimingSettings,
    store: Store,
    quiet: bool = False,
    profile: bool = False,
) -> list[RunRecord]:
    """Time every combination on the host runner in interleaved rounds, then store each record."""
    runner = HostRunner()
    run_id = new_run_id("time")
    provenance = run_provenance()
    console = output.stderr_console(quiet)
    described = {model: describe_model_file(model, console) for model in models}
    jobs = [
        TimingJob(
            artifact=described[m][0],
            delegate=d,
            threads=t,
            settings=settings,
            run_id=run_id,
            model=described[m][1],
        )
        for m in models
        for d in delegates
        for t in threads
    ]
    with console.status(
        f"timing {len(jobs)} model x delegate x threads in {settings.rounds} interleaved rounds"
    ):
        timed = runner.time_many(jobs)
    records = []
    for index, (job, record) in enumerate(zip(jobs, timed, strict=True), start=1):
        label = f"[{index}/{len(jobs)}] {Path(job.artifact.path).name} {job.delegate.value} x{job.threads}"
        if profile and record.status is Status.OK:
            with console.status(f"profiling {label}"):
                found, why_not = runner.op_profile(job)
            if found is not None:
                record = record.model_copy(
                    update={"timing": record.timing.model_copy(update={"op_profile": found})}
                )
            else:
                console.print(f"{label}: no op profile: {why_not}")
        record = provenance.stamp(record)
        store.add(record)
        records.append(record)
        median = record.timing.median_ms if record.timing else None
        suffix = f" median {output.ms(median)} ms" if median is not None else ""
        console.print(f"{label}: {output.status_text(record)}{suffix}")
    return records


def describe_model_file(model: str, console) -> tuple[ArtifactInfo, ModelInfo]:
    """What the records say of a model file: recipe and detector from its edgebench sidecar, if any.

    A sidecar that no longer matches its file is reported and ignored: the file is still timed, as a
    file of unknown origin.
    """
    sidecar = sidecar_of(model)
    if sidecar.is_file():
        try:
            content, info = read_sidecar(sidecar)
        except InputError as error:
            console.print(f"ignoring the sidecar: {error}")
        else:
            return info.model_copy(update={"path": str(model)}), sidecar_model_info(content)
    return file_artifact_info(model), ModelInfo()


def parse_delegates(text: str) -> list[Delegate]:
    """'cpu,xnnpack' -> [Delegate.CPU, Delegate.XNNPACK]; an unknown name raises InputError listing all."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise choice_error("--delegate", text, [d.value for d in Delegate])
    delegates = []
    for name in names:
        try:
            delegates.append(Delegate(name))
        except ValueError:
            raise choice_error("--delegate", name, [d.value for d in Delegate]) from None
    return list(dict.fromkeys(delegates))


def parse_threads(text: str) -> list[int]:
    """'1,2' -> [1, 2]; anything but positive integers raises InputError."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise InputError(f"--threads: got {text!r}; expected positive integers separated by commas, e.g. 1,2")
    return list(dict.fromkeys(int(part) for part in parts))


def parse_settings(args: argparse.Namespace) -> TimingSettings:
    """The timing flags as TimingSettings; out-of-range values raise InputError naming the flag."""
    given = {
        field: getattr(args, attr)
        for attr, (field, _) in _SETTING_FLAGS.items()
        if getattr(args, attr, None) is not None
    }
    given.setdefault("rounds", DEFAULT_ROUNDS)
    try:
        return TimingSettings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        field = first["loc"][0] if first["loc"] else ""
        flag = next((f for name, f in _SETTING_FLAGS.values() if name == field), str(field))
        raise InputError(f"{flag}: got {first.get('input')!r}; {first['msg'].lower()}") from None
