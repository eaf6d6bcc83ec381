"""The driver of a distributed run: submit every stage as a Ray task, collect, fail lost targets.

Training and export ask for CPUs (GPUs when the plan's ``cluster.train_gpus`` says); each timing job asks
for its target's custom resource ``target:<name>`` (declared once by ``edgebench lab node`` on the host the
device hangs off), so a device runs one job at a time and its cooldown stays inside the reservation. Ray
orders the work by data dependency: a variant's timings start as soon as its artifact exists, on every
target at once. A target no node offers any more (its lab node died, or never joined) ends, after
``cluster.lost_target_secs``, as ``failed`` records naming the reason; the rest of the run continues.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import ray

from bench.cluster import tasks
from bench.cluster.lab import RESOURCE_PREFIX
from bench.pipeline.context import Context
from bench.pipeline.context import ItemStatus as S
from bench.pipeline.entries import Exported, Failure, Trained
from bench.pipeline.jobs import Slot, VariantWork, slots
from bench.pipeline.timing import reach
from bench.plans import ClusterSection
from common.errors import InputError
from results.schema import ErrorInfo

POLL_SECS = 1.0  # how often the driver looks at finished tasks and at the cluster's resources
TIMING_RETRIES = 2  # Ray re-runs a timing task whose node died; a stored record makes the rerun a no-op


def resource_name(target_label: str) -> str:
    """The custom Ray resource of one target: ``target:<name>``."""
    return RESOURCE_PREFIX + target_label


@dataclass
class Pending:
    """A submitted timing task, with what a failed record of it needs."""

    work: VariantWork
    recipe: object  # converters.recipes.Recipe
    slot: Slot
    upstream: tuple  # ObjectRefs of (trained, exported, evaluated)


def connect(address: str) -> bool:
    """Join the Ray cluster at ``address`` ("auto" or HOST:PORT); False when this process already had.

    Raises:
        InputError: no cluster answers there.
    """
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING", configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as error:
        first = " ".join(str(error).split())[:300]
        raise InputError(
            f"--cluster: no Ray cluster at {address!r} ({first}); start one with `ray start --head` "
            "or `edgebench lab node`"
        ) from None
    return True


def run_on_cluster(ctx: Context, works: list[VariantWork], section: ClusterSection) -> None:
    """The execute pass on the cluster: every record of the selection lands in ``ctx.store``.

    Args:
        ctx: The driver's execute pass (its store URL must reach every node: a server or a shared path).
        works: The selected variants and recipes.
        section: Address and resources.
    """
    joined = connect(section.address)
    try:
        job = tasks.Job(ctx.plan, str(ctx.workdir), ctx.store.url, ctx.run_id, ctx.retime, ctx.provenance)
        pending, absent, item_refs = _submit(ctx, job, works, section)
        _collect(ctx, pending, item_refs, section)
        for task in absent:
            _record_unreachable(ctx, task)
    finally:
        if joined:
            ray.shutdown()


def _submit(ctx: Context, job, works: list[VariantWork], section: ClusterSection):
    """Every task of the run, chained by their results; returns pending timings and item-report refs."""
    build = {"num_cpus": section.train_cpus, "num_gpus": section.train_gpus}
    pending: dict = {}
    absent: list[Pending] = []  # slots of targets no node offers and the driver cannot reach either
    offered = ray.cluster_resources()
    item_refs: dict = {}  # ref of a train / export task's report items -> what it is, for progress
    for work in works:
        trained, weights, items = tasks.train_task.options(**build).remote(job, work)
        item_refs[items] = f"train {work.label}"
        for recipe in work.recipes:
            refs = tasks.export_task.options(**build).remote(job, work, recipe, trained, [weights])
            exported, evaluated, artifact, items = refs
            item_refs[items] = f"export {work.label} {recipe.name}"
            for slot in slots(ctx.plan, recipe.format):
                if resource_name(slot.target.label) not in offered and not reach(ctx, slot).ok:
                    absent.append(Pending(work, recipe, slot, (trained, exported, evaluated)))
                    continue
                ref = tasks.time_task.options(
                    resources={resource_name(slot.target.label): 1}, max_retries=TIMING_RETRIES
                ).remote(job, work, recipe, slot, trained, exported, evaluated, [artifact])
                pending[ref] = Pending(work, recipe, slot, (trained, exported, evaluated))
    return pending, absent, item_refs


def _report_build(ctx: Context, ref, label: str) -> None:
    """A finished train / export task: its report items, and a progress line."""
    try:
        items = ray.get(ref)
    except Exception as error:  # its timings fail with this error, each in its own record
        ctx.progress.note(f"{label}: task failed: {_one_line(error)[:300]}")
        return
    ctx.items.extend(items)
    statuses = ", ".join(sorted({item.status.value for item in items})) or "done"
    ctx.progress.note(f"{label}: {statuses}")


def _collect(ctx: Context, pending: dict, builds: dict, section: ClusterSection) -> None:
    """Wait for every task; fail the timings that raised or whose target left the cluster."""
    missing_since: dict[str, float] = {}
    while pending or builds:
        waiting = [*builds, *pending]
        done, _ = ray.wait(waiting, num_returns=len(waiting), timeout=POLL_SECS)
        for ref in done:
            if ref in builds:
                _report_build(ctx, ref, builds.pop(ref))
                continue
            task = pending.pop(ref)
            try:
                timed = ray.get(ref)
            except Exception as error:  # a task error of any kind is this record's reason
                _fail(ctx, task, type(error).__name__, _one_line(error))
                continue
            ctx.items.extend(timed.items)
            _log_span(ctx, task, timed)
            ctx.progress.note(
                f"time {task.work.label} {task.recipe.name} on {task.slot.describe()}: "
                f"{timed.status} ({timed.end - timed.start:.1f} s on {timed.node})"
            )
        _expire_lost_targets(ctx, pending, missing_since, section.lost_target_secs)


def spans_path(workdir, run_id: str):
    """The run's timing log: one JSON line per timing task (target, node, start, end) for lab owners."""
    from pathlib import Path

    return Path(workdir) / "cluster" / f"{run_id}.jsonl"


def _log_span(ctx: Context, task: Pending, timed: tasks.Timed) -> None:
    """Append when and where a timing ran (appends of whole lines: a crash loses at most the last one)."""
    import json

    path = spans_path(ctx.workdir, ctx.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "record_id": timed.record_id,
        "target": task.slot.target.label,
        "status": timed.status,
        "node": timed.node,
        "start": timed.start,
        "end": timed.end,
    }
    with path.open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def _expire_lost_targets(ctx: Context, pending: dict, missing_since: dict, limit: float) -> None:
    """Fail the pending jobs of targets no node has offered for ``limit`` seconds."""
    offered = ray.cluster_resources()
    now = time.monotonic()
    for ref, task in list(pending.items()):
        name = resource_name(task.slot.target.label)
        if name in offered:
            missing_since.pop(name, None)
            continue
        since = missing_since.setdefault(name, now)
        if now - since < limit:
            continue
        ray.cancel(ref)
        del pending[ref]
        reason = (
            f"target {task.slot.target.label!r} left the cluster: no node has offered resource {name!r} "
            f"for {limit:.0f} s (its lab node died or never joined)"
        )
        _fail(ctx, task, "TargetLost", reason)


def _fail(ctx: Context, task: Pending, error_type: str, message: str) -> None:
    """Store the ``failed`` record of a timing that did not come back (unless one is stored already)."""
    from bench.pipeline.timing import failed_record, timing_job

    rid = tasks.slot_record_id(ctx.run_id, task.work, task.recipe, task.slot)
    if ctx.store.has(rid):
        return  # the task stored its record before its node went away
    trained, exported = (_value(ref) for ref in task.upstream[:2])
    job = timing_job(ctx, task.work, task.recipe, trained, exported, task.slot, rid)
    record = failed_record(job, task.slot, ErrorInfo(type=error_type, message=message[:2000]))
    tools = exported.tools if isinstance(exported, Exported) else {}
    ctx.store.add(ctx.provenance.stamp(record, tools))
    ctx.report("time", f"{task.work.label} {task.recipe.name} on {task.slot.describe()}", S.FAILED)
    ctx.progress.note(
        f"time {task.work.label} {task.recipe.name} on {task.slot.describe()}: FAILED: {message}"
    )


def _record_unreachable(ctx: Context, task: Pending) -> None:
    """The record of a target nobody offers and the driver cannot reach: ``unsupported``, as a local run.

    A Mac in the plan of a lab with no Mac gets the same record (and reason) as without ``--cluster``.
    """
    from bench.pipeline.timing import time_stage

    try:
        upstream = tuple(ray.get(list(task.upstream)))
    except Exception as error:  # an upstream task failed past its retries: this record says so
        _fail(ctx, task, type(error).__name__, _one_line(error))
        return
    time_stage(ctx, task.work, task.recipe, upstream, task.slot)


def _value(ref) -> Trained | Exported | Failure:
    """An upstream result, or a Failure standing in for it when its task raised or is not done."""
    try:
        return ray.get(ref, timeout=POLL_SECS)
    except Exception as error:  # the record only needs what is known
        return Failure(stage="train", type=type(error).__name__, message=_one_line(error)[:2000])


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:2000] or type(error).__name__
