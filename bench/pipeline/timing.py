"""The last stage: one record per artifact x timing slot, stored as soon as it exists.

Timings are cached by (artifact sha256, target, delegate, threads, settings, runner code): a resumed or
repeated run reuses them instead of measuring again (``--retime`` measures again). Each record gets a
deterministic id from (run id, identity), so storing it twice is a no-op and a record already in the
store is skipped before anything is timed. Accuracy and the model's size and compute are merged in.

Before the per-artifact stage, :func:`measure_batches` times every artifact still to be timed on a target
in one batch (the host runner interleaves them in rounds, ``device_runners.rounds``) and puts each
record in the timing cache; the per-artifact stage then finds it there, exactly as a resumed run does.
"""

from __future__ import annotations

from bench.cache import stage_key
from bench.pipeline.context import Context
from bench.pipeline.context import ItemStatus as S
from bench.pipeline.entries import Evaluated, Exported, Failure, Loaded, Trained
from bench.pipeline.jobs import Slot, VariantWork, identity
from bench.pipeline.runs import record_id
from device_runners.base import Support, TimingJob, unsupported_record
from results.migrations import load_record
from results.schema import (
    ArtifactInfo,
    ErrorInfo,
    ModelInfo,
    RunRecord,
    Status,
    TargetInfo,
)


def time_stage(ctx: Context, work: VariantWork, recipe, upstream: tuple, slot: Slot) -> RunRecord | None:
    """Make (or find) the record of one artifact on one slot; store it in an execute pass.

    Args:
        ctx: The pass.
        work: The variant.
        recipe: The recipe.
        upstream: (train or load, export, evaluate results, :mod:`bench.pipeline.entries`); None is pending.
        slot: Where and how to time.

    Returns:
        The record made in this pass, or None (already stored, or pending in a planning pass).
    """
    trained, exported, evaluated = upstream
    label = f"{work.label} {recipe.name} on {slot.describe()}"
    rid = record_id(ctx.run_id, identity(work, recipe.name, slot))
    if ctx.store is not None and ctx.store.has(rid):
        ctx.report("time", label, S.STORED)
        return None
    if trained is None or exported is None or evaluated is None:
        # An unreachable target needs no upstream result: its record is only a reason.
        ctx.report("time", label, S.TO_STORE if not reach(ctx, slot).ok else S.PENDING)
        return None
    job = timing_job(ctx, work, recipe, trained, exported, slot, rid)
    if isinstance(exported, Failure):
        record, status = failed_record(job, slot, exported.error()), S.FAILED
    else:
        record, status = _measure(ctx, job, slot, label)
        if record is None:
            return None
    if isinstance(evaluated, Evaluated):
        record = record.model_copy(update={"accuracy": evaluated.accuracy})
    record = _finish(ctx, record, rid, exported.tools if isinstance(exported, Exported) else {})
    if not ctx.execute:
        ctx.report("time", label, S.TO_STORE)
        return record
    ctx.store.add(record)
    ctx.report("time", label, status)
    return record


def time_key(artifact: ArtifactInfo, slot: Slot) -> str:
    """The timing cache key of an artifact on a slot."""
    target = slot.target.model_dump(mode="json")
    settings = slot.settings.model_dump(mode="json")
    return stage_key(
        "time", artifact.sha256, artifact.format.value, target, slot.delegate.value, slot.threads, settings
    )


def measure_batches(ctx: Context, pending: list[tuple]) -> None:
    """Time, target by target in one batch, every artifact the per-artifact stage would time now.

    Args:
        ctx: An execute pass (a planning pass does nothing here).
        pending: ``(work, recipe, upstream, slot)`` of every time-stage item of the pass, in order.

    Each record goes into the timing cache under its key, and the key into ``ctx.fresh``, so the
    per-artifact stage reports it as run in this pass (with ``--retime`` too) and stores it.
    """
    if not ctx.execute:
        return
    batches: dict[str, tuple[list, list[str]]] = {}
    for work, recipe, (trained, exported, _), slot in pending:
        if not isinstance(exported, Exported) or slot.sustained or not reach(ctx, slot).ok:
            continue
        if not runner_for(ctx, slot).interleaves:
            continue
        rid = record_id(ctx.run_id, identity(work, recipe.name, slot))
        key = time_key(exported.artifact, slot)
        if (ctx.store is not None and ctx.store.has(rid)) or key in ctx.fresh:
            continue
        if not ctx.retime and ctx.cache.get("time", key):
            continue
        jobs, keys = batches.setdefault(slot.target.label, ([], []))
        if key not in keys:  # the same bytes on the same slot (e.g. a user's copy) are timed once
            jobs.append(timing_job(ctx, work, recipe, trained, exported, slot, rid))
            keys.append(key)
    for name, (jobs, keys) in batches.items():
        label = f"{len(jobs)} artifacts on {name}, interleaved"
        with ctx.progress.item("time", label, items=len(jobs)):
            records = runner_for(ctx, _slot_of(pending, name)).time_many(jobs)
        for key, record in zip(keys, records, strict=True):
            ctx.cache.put("time", key, {"record": record.model_dump(mode="json")})
            ctx.fresh[key] = record


def _slot_of(pending: list[tuple], target: str) -> Slot:
    return next(item[3] for item in pending if item[3].target.label == target)


def _measure(ctx: Context, job: TimingJob, slot: Slot, label: str) -> tuple[RunRecord | None, S]:
    """A cached, unsupported or freshly measured record (None: would be measured, planning pass)."""
    support = reach(ctx, slot)
    if not support.ok:
        record = unsupported_record(job, slot.target.runner, support.reason, slot.target.device_id)
        return record, S.UNSUPPORTED
    key = time_key(job.artifact, slot)
    fresh = ctx.fresh.get(key)
    if fresh is not None:  # measured in this pass by measure_batches
        status = S.RUN if fresh.status is Status.OK else S(fresh.status.value)
        return fresh.model_copy(update={"model": job.model, "artifact": job.artifact}), status
    hit = None if ctx.retime else ctx.cache.get("time", key)
    if hit:
        # The same bytes may be another model's artifact (a user's .tflite equal to a conversion): the
        # timing is reused, what the record is about comes from this job.
        cached = load_record(hit["record"])  # migrated first: it may predate a schema bump
        return cached.model_copy(update={"model": job.model, "artifact": job.artifact}), S.CACHED
    if not ctx.execute:
        ctx.report("time", label, S.RUN, key)
        return None, S.RUN
    with ctx.progress.item("time", label):
        record = runner_for(ctx, slot).time(job)
    ctx.cache.put("time", key, {"record": record.model_dump(mode="json")})
    return record, S.RUN if record.status is Status.OK else S(record.status.value)


def reach(ctx: Context, slot: Slot) -> Support:
    """Whether the slot's target is reachable now (probed once per target per pass)."""
    name = slot.target.label
    if name not in ctx.reachability:
        probes = runner_for(ctx, slot).probe()
        reason = "; ".join(p.reason for p in probes if p.reason) or "not reachable"
        ctx.reachability[name] = Support.yes() if any(p.ok for p in probes) else Support.no(reason)
    return ctx.reachability[name]


def runner_for(ctx: Context, slot: Slot):
    """The runner instance of the slot's target (one per target per pass)."""
    from device_runners.registry import runner_class

    name = slot.target.label
    if name not in ctx.runners:
        ctx.runners[name] = runner_class(slot.target.runner)(slot.target)
    return ctx.runners[name]


def timing_job(
    ctx: Context,
    work: VariantWork,
    recipe,
    trained: Trained | Loaded | Failure,
    exported: Exported | Failure,
    slot: Slot,
    rid: str,
) -> TimingJob:
    """The runner's job for one slot (also what a failed record names when nothing was timed)."""
    model = trained.model if isinstance(trained, (Trained, Loaded)) else ModelInfo(variant=work.spec.name)
    if isinstance(exported, Exported):
        artifact = exported.artifact
    else:  # nothing was written: the record still names what it is about
        artifact = ArtifactInfo(
            recipe=recipe.name, format=recipe.format, path="(not written)", sha256="", size_bytes=0
        )
    return TimingJob(
        artifact=artifact,
        delegate=slot.delegate,
        threads=slot.threads,
        settings=slot.settings,
        run_id=ctx.run_id,
        plan=ctx.plan.name,
        model=model,
        record_id=rid,
        device_id=slot.target.device_id,
    )


def failed_record(job: TimingJob, slot: Slot, error: ErrorInfo) -> RunRecord:
    """A ``failed`` record of the job, saying why (an upstream stage failed, the target was lost)."""
    target = TargetInfo(
        runner=slot.target.runner, device_id=job.device_id, delegate=job.delegate, threads=job.threads
    )
    return RunRecord(
        record_id=job.record_id,
        run_id=job.run_id,
        plan=job.plan,
        model=job.model,
        artifact=job.artifact,
        target=target,
        status=Status.FAILED,
        error=error,
    )


def _finish(ctx: Context, record: RunRecord, rid: str, artifact_tools: dict) -> RunRecord:
    """This run's identity and provenance on a (possibly cached) record; tool versions merged."""
    identified = record.model_copy(update={"record_id": rid, "run_id": ctx.run_id, "plan": ctx.plan.name})
    return ctx.provenance.stamp(identified, artifact_tools)
