"""``edgebench benchmark --plan NAME|FILE``: the whole pipeline, from data to stored records.

Every stage is cached by content hash in the work folder (``work/`` or ``--workdir``): a re-run does
only what changed, an interrupted run (Ctrl-C, kill -9) resumes under the same run id without duplicating
a record, and a second run with nothing changed only reports the run it already stored. Variants are
built (trained, exported, evaluated) side by side in processes of their own (``--jobs``,
:mod:`bench.pipeline.builds`). Exit codes: 0 when every record is ok or unsupported, 1 when some failed or
crashed or a build process died, 2 for bad input.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench import console as output
from results.schema import Status

WORKDIR_ENV = "EDGEBENCH_WORKDIR"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``benchmark`` subcommand."""
    from bench.plans import DEFAULT_PLAN, plan_names

    parser = subparsers.add_parser(
        "benchmark",
        help="run a plan: dataset -> train -> export -> evaluate -> time -> store (cached, resumable)",
        description="Run a benchmark plan end to end. Stages are cached by content hash in the work "
        "folder; an interrupted run resumes where it stopped; a re-run does only what changed.",
    )
    parser.add_argument(
        "--plan",
        default=DEFAULT_PLAN,
        help=f"a built-in plan ({', '.join(plan_names())}) or a plan YAML file (default: {DEFAULT_PLAN})",
    )
    parser.add_argument(
        "--store", help="store URL or SQLite path (default: $EDGEBENCH_STORE or results/edgebench.sqlite)"
    )
    parser.add_argument(
        "--workdir",
        help=f"work folder for caches, checkpoints and artifacts (default: ${WORKDIR_ENV} or ./work)",
    )
    parser.add_argument(
        "--only",
        metavar="PATTERN",
        help="comma-separated wildcards: keep variants or recipes matching one (e.g. 'ssdlite_mobilenet_v2', "
        "'tflite_int8*', 'tiny_*/tflite_fp32')",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the stages that would run, with cache hits; do nothing"
    )
    parser.add_argument(
        "--retime",
        action="store_true",
        help="measure every timing again (a new run id) instead of reusing cached ones",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines; only the summary")
    parser.add_argument(
        "--jobs",
        type=_jobs,
        metavar="N",
        help="build processes at once: each trains a variant or runs one of its fine-tunes, at the plan's "
        "training.threads (the files do not depend on N; default: 2 per core, 1 per 4 GB of memory; "
        "1: everything in this process)",
    )
    parser.add_argument(
        "--cluster",
        metavar="auto|ADDRESS",
        help="run on an existing Ray cluster (`auto`: the one this machine belongs to, or HOST:PORT of its "
        "head); the store URL must reach every node (default: the plan's `cluster:`, else local)",
    )


def run(args: argparse.Namespace) -> int:
    """Load and validate the plan, run it, print the summary."""
    from bench.pipeline import Options, RunStatus, run_benchmark
    from bench.pipeline.builds import BuildError
    from bench.pipeline.summary import dry_run_table, print_summary, stage_counts
    from bench.plans import load_plan

    plan = load_plan(args.plan)
    # coremltools draws tqdm bars for every conversion pass; they would bury the progress lines.
    os.environ.setdefault("TQDM_DISABLE", "1")
    workdir = Path(args.workdir or os.environ.get(WORKDIR_ENV) or "work")
    options = Options(
        workdir, args.store, args.only, args.dry_run, args.retime, args.quiet, args.cluster, jobs=args.jobs
    )
    console = output.stdout_console()
    try:
        outcome = run_benchmark(plan, options)
    except KeyboardInterrupt:
        output.stderr_console(False).print(
            f"interrupted: run the same command again to resume plan {plan.name!r} where it stopped"
        )
        raise
    except BuildError as error:
        output.stderr_console(False).print(
            f"edgebench: error: {error}; what the builds finished is cached: run the same command again to "
            "resume"
        )
        return 1
    if outcome.status is RunStatus.DRY_RUN:
        console.print(dry_run_table(outcome.items, outcome.expected))
        console.print(stage_counts(outcome.items))
        return 0
    if outcome.status is RunStatus.NOTHING_CHANGED:
        console.print(
            f"nothing changed: {len(outcome.records)} records already stored in run {outcome.run_id} "
            "(use --retime to measure again)"
        )
    else:
        console.print(stage_counts(outcome.items))
    print_summary(console, outcome, f" in {outcome.seconds / 60:.1f} min" if outcome.seconds else "")
    broken = [r for r in outcome.records if r.status in (Status.FAILED, Status.CRASHED)]
    return 1 if broken else 0


def _jobs(text: str) -> int:
    """``--jobs``: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: a whole number >= 1")
    return value
