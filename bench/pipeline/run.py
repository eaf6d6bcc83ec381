"""The benchmark pipeline: plan -> dataset -> train -> export -> evaluate -> time -> store.

Two passes over the same walk: a *planning* pass looks every stage up in the cache and the store (this is
what ``--dry-run`` prints, and what decides the run id, see :mod:`bench.pipeline.runs`), then the
*execute* pass does what is missing, storing each record as soon as it exists.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bench.cache import StageCache
from bench.pipeline import runs
from bench.pipeline.builds import default_jobs
from bench.pipeline.context import Context, Data
from bench.pipeline.context import ItemStatus as S
from bench.pipeline.jobs import VariantWork, select, selection_names, slots
from bench.pipeline.progress import Progress
from bench.pipeline.stages import build_variant, dataset_stage
from bench.pipeline.timing import measure_batches, time_stage
from bench.plans import Plan
from bench.provenance import run_provenance
from results.schema import RunRecord


class RunStatus(StrEnum):
    """What a benchmark invocation did."""

    DONE = "done"  # the execute pass ran (records were made or completed)
    NOTHING_CHANGED = "nothing changed"  # a finished run of the same content is still current
    DRY_RUN = "dry run"  # planned only; nothing computed or stored


@dataclass(frozen=True)
class Options:
    """How to run a plan (the ``edgebench benchmark`` flags)."""

    workdir: Path = Path("work")  # caches, checkpoints, artifacts, run manifests
    store: str | None = None  # results store URL (None: $EDGEBENCH_STORE or results/edgebench.sqlite)
    only: str | None = None  # comma-separated wildcards over variants / recipes
    dry_run: bool = False  # print what would run; compute and store nothing
    retime: bool = False  # measure again instead of reusing cached timings (a new run id)
    quiet: bool = False  # no progress lines
    cluster: str | None = None  # Ray address ("auto" or HOST:PORT): run there (overrides the plan's)
    jobs: int | None = 1  # build processes at once (1: in this process); None: builds.default_jobs


@dataclass
class Outcome:
    """What a benchmark invocation did."""

    run_id: str
    status: RunStatus
    items: list = field(default_factory=list)  # bench.pipeline.context.Item of the pass that counts
    records: list[RunRecord] = field(default_factory=list)  # every record of the run (from the store)
    expected: int = 0  # records the plan selection makes
    resumed: bool = False
    seconds: float = 0.0  # wall time of this invocation's execute pass
    stage_seconds: dict[str, float] = field(default_factory=dict)  # stage -> seconds of its items' work here
    builders: int = 1  # the most build processes at once in this invocation (their stage seconds add up)
    store_url: str = ""


def run_benchmark(plan: Plan, options: Options) -> Outcome:
    """Run (or plan) a benchmark; see the module docstring.

    Raises:
        InputError: bad ``--only``, a broken dataset, an unusable store (before anything is written), or
            another run holding the work folder.
    """
    works = select(plan, options.only)
    section = cluster_section(plan, options)
    if section is not None and not options.dry_run:
        from bench.cluster.lab import check_address  # no Ray import: fails before anything is computed

        check_address(section.address)
    cache = StageCache(Path(options.workdir).resolve())
    with contextlib.nullcontext() if options.dry_run else runs.exclusive(cache.root):
        return _plan_and_run(plan, options, works, cache)


def _plan_and_run(plan: Plan, options: Options, works: list[VariantWork], cache: StageCache) -> Outcome:
    """The planning pass, then (unless a dry run or nothing changed) the execute pass."""
    from results.store import Store

    key = runs.content_key(plan.canonical(), selection_names(works))
    state = runs.find_run(cache.root, plan.name, key)
    planning = Context(plan, cache, execute=False, run_id=state.run_id, store=None, retime=options.retime)
    data = dataset_stage(planning)  # a broken COCO dataset raises here, before the store is opened
    store = Store(options.store)
    try:
        planning.store = store
        walk(planning, works, data)
        expected = sum(1 for item in planning.items if item.stage == "time")
        outcome = Outcome(
            state.run_id, RunStatus.DRY_RUN, planning.items, expected=expected, store_url=store.url
        )
        if options.dry_run:
            return outcome
        state = _choose_run(state, planning, options)
        if state is None:
            outcome.status, outcome.records = RunStatus.NOTHING_CHANGED, store.records(run_id=outcome.run_id)
            return outcome
        return _execute(plan, options, works, state, key, planning, outcome, store)
    finally:
        store.close()


def _choose_run(state: runs.RunState, planning: Context, options: Options) -> runs.RunState | None:
    """The run to store into after the planning pass; None when a finished run is still current."""
    if not state.previous_complete:
        return state  # the first run of this content, or an unfinished one to resume
    statuses = {item.status for item in planning.items}
    if not options.retime and statuses <= {S.CACHED, S.STORED}:
        return None
    if not options.retime and statuses <= {S.CACHED, S.STORED, S.TO_STORE}:
        return state  # same results, only some records missing (e.g. another store): complete the run
    return runs.start_new(state, planning.plan.name)


def _execute(plan, options, works, state, key, planning, outcome, store) -> Outcome:
    """The execute pass: mark the run started, walk, mark it finished; fill ``outcome``."""

    progress = Progress(estimates(plan, planning), quiet=options.quiet)
    ctx = Context(plan, planning.cache, True, state.run_id, store, options.retime, run_provenance(), progress)
    runs.write_manifest(state, plan.name, key, complete=False)
    if state.resumed:
        progress.note(f"resuming run {state.run_id} (an earlier run of this plan did not finish)")
    data = dataset_stage(ctx)
    section = cluster_section(plan, options)
    if section is None:
        walk(ctx, works, data, options.jobs or default_jobs(plan))
    else:  # Ray is imported on this path only
        from bench.cluster.scheduler import run_on_cluster

        run_on_cluster(ctx, works, section)
        if plan.models:  # the user's files are timed where they lie: on the driver's reachable targets
            from bench.pipeline.user_models import walk_user_models

            walk_user_models(ctx, data)
    records = store.records(run_id=state.run_id)
    seconds = {
        "seconds": round(progress.elapsed, 1),
        "stage_seconds": progress.stage_seconds,
        "builders": progress.peak_builders,
    }
    timings = {**seconds, "training": training_of(records)}
    runs.write_manifest(state, plan.name, key, complete=True, records=len(records), timings=timings)
    outcome.run_id, outcome.status, outcome.items, outcome.records = (
        state.run_id,
        RunStatus.DONE,
        ctx.items,
        records,
    )
    outcome.resumed, outcome.seconds = state.resumed, progress.elapsed
    outcome.stage_seconds, outcome.builders = progress.stage_seconds, progress.peak_builders
    return outcome


def training_of(records: list[RunRecord]) -> dict[str, dict]:
    """Variant label -> how it was trained (``ModelInfo.training``), from the records that say."""
    out = {}
    for record in records:
        model = record.model
        if model.training is not None and model.variant:
            label = f"{model.variant}@{model.input_size}x{model.width_multiplier}"
            out.setdefault(label, model.training.model_dump(mode="json"))
    return out


def cluster_section(plan: Plan, options: Options):
    """The plan's ``cluster:`` section with ``--cluster`` applied; None for a local run."""
    from bench.plans import ClusterSection

    if options.cluster:
        base = plan.cluster or ClusterSection()
        return base.model_copy(update={"address": options.cluster})
    return plan.cluster


def walk(ctx: Context, works: list[VariantWork], data: Data, jobs: int = 1) -> None:
    """Every stage of every selected variant and recipe: train, export and evaluate (with ``jobs`` > 1 in
    up to that many build processes at once, :mod:`bench.pipeline.builds`; else here, variant by variant),
    then every timing, each target's artifacts in one interleaved batch (``measure_batches``)."""
    built = []
    if ctx.execute and jobs > 1:
        from bench.pipeline.builds import build_side_by_side

        built = build_side_by_side(ctx, works, data, jobs)
    pending = []
    for work in works:
        for recipe, upstream in build_variant(ctx, data, work):
            for slot in slots(ctx.plan, recipe.format):
                pending.append((work, recipe, upstream, slot))
    restate(ctx, built)
    measure_batches(ctx, pending)
    for work, recipe, upstream, slot in pending:
        time_stage(ctx, work, recipe, upstream, slot)
    if ctx.plan.models:
        from bench.pipeline.user_models import walk_user_models

        walk_user_models(ctx, data)


def restate(ctx: Context, built: list) -> None:
    """Give the items the build processes ran their status from there (this pass found them cached)."""
    status = {(item.stage, item.label, item.key): item.status for item in built}
    for item in ctx.items:
        item.status = status.get((item.stage, item.label, item.key), item.status)


def estimates(plan: Plan, planning: Context) -> dict[str, list[float | None]]:
    """Prior seconds of every item the execute pass will run, per stage (for the first ETA)."""
    synthetic = plan.dataset.synthetic
    timing = plan.timing
    prior = {
        "dataset": (synthetic.train + synthetic.val) * 0.02 if synthetic else 5.0,
        "train": _train_prior(plan),
        "export": 30.0,
        "evaluate": 3.0 + 0.03 * (plan.evaluation.max_images or 500),
        "time": 4.0 + timing.warmup_min_secs + timing.min_secs,
    }
    out: dict[str, list[float | None]] = {}
    for item in planning.items:
        if item.status in (S.RUN, S.PENDING):
            out.setdefault(item.stage, []).append(prior[item.stage])
    return out


def _train_prior(plan: Plan) -> float:
    """Mean prior seconds of a variant's training: its steps at 25 images/s (capped by max_minutes)."""
    priors = []
    for variant in plan.variants:
        config = plan.train_config(variant)
        seconds = config.steps * config.batch_size / 25
        if config.max_minutes is not None:
            seconds = min(seconds, config.max_minutes * 60)
        priors.append(seconds + 30)
    return sum(priors) / len(priors) if priors else 30.0
