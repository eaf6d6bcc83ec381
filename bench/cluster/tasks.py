"""The Ray tasks of a distributed run: train, export + evaluate, and one timing job.

Each task rebuilds a pipeline pass (:class:`bench.pipeline.context.Context`) from a :class:`Job` and calls
the ordinary stage function, so a cluster run caches, fails and stores exactly as a local one. Records go
straight from the timing task to the shared store; their ids are deterministic (run id + identity,
:mod:`bench.pipeline.timing`), and ``time_stage`` skips a record already stored, so a task Ray runs twice
(after a node died) stores each record once.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import ray

from bench.cache import StageCache
from bench.cluster.shipping import arrive, pack
from bench.pipeline.context import Context, Item
from bench.pipeline.entries import Exported, Failure, Trained
from bench.pipeline.jobs import Slot, VariantWork
from bench.plans import Plan
from bench.provenance import Provenance


@dataclass(frozen=True)
class Job:
    """What every task of one run needs to rebuild its pass."""

    plan: Plan
    workdir: str  # the work folder (a shared path, or the same path on each node)
    store_url: str  # the shared results store
    run_id: str
    retime: bool
    provenance: Provenance


@dataclass(frozen=True)
class Timed:
    """What a timing task reports back (the record itself is already in the store)."""

    record_id: str
    status: str  # the item status of the record (run, cached, stored, failed, unsupported, ...)
    start: float  # wall-clock seconds (time.time) when the job got its target
    end: float  # ... and when it gave it back
    node: str  # host name and pid of the worker that ran it
    items: list[Item]


def _context(job: Job, store=None) -> Context:
    from bench.pipeline.progress import Progress

    cache = StageCache(Path(job.workdir))
    progress = Progress({}, quiet=True)
    return Context(job.plan, cache, True, job.run_id, store, job.retime, job.provenance, progress)


def _data(ctx: Context):
    from bench.pipeline.stages import dataset_stage

    data = dataset_stage(ctx)  # cached in the work folder; regenerated identically on a node without it
    ctx.items.clear()  # the driver reported the dataset already
    return data


@ray.remote(num_returns=3)
def train_task(job: Job, work: VariantWork):
    """Train one variant (or find it cached): (Trained | Failure, weights archive or None, items).

    The archive is a return value, so the driver owns it in the object store (it outlives this worker).
    """
    from bench.pipeline.stages import train_stage

    ctx = _context(job)
    trained = train_stage(ctx, _data(ctx), work)
    return trained, pack(trained.weights) if isinstance(trained, Trained) else None, ctx.items


@ray.remote(num_returns=4)
def export_task(job: Job, work: VariantWork, recipe, trained, shipped: list):
    """Export and evaluate one recipe: (Exported | Failure, evaluation, artifact archive or None, items).

    ``shipped`` is ``[ref]`` of the weights archive: a ref inside a list is not fetched unless needed.
    """
    from bench.pipeline.stages import evaluate_stage, export_stage

    ctx = _context(job)
    data = _data(ctx)
    if isinstance(trained, Trained):
        archive = _fetch(trained.weights, trained.weights_sha256, shipped)
        arrive(trained.weights, trained.weights_sha256, archive)
    exported = export_stage(ctx, data, work, trained, recipe)
    evaluated = evaluate_stage(ctx, data, exported, f"{work.label} {recipe.name}")
    archive = pack(exported.artifact.path) if isinstance(exported, Exported) else None
    return exported, evaluated, archive, ctx.items


@ray.remote(num_cpus=0)
def time_task(
    job: Job, work: VariantWork, recipe, slot: Slot, trained, exported, evaluated, shipped: list
) -> Timed:
    """Time one artifact on one slot, holding the target's resource; the record goes to the store.

    The upstream results are top-level arguments (Ray resolves those); ``shipped`` is ``[ref]`` of the
    artifact archive, fetched only when the artifact is not already here.
    """
    from bench.pipeline.timing import time_stage
    from results.store import Store

    start = time.time()
    if isinstance(exported, Exported):
        archive = _fetch(exported.artifact.path, exported.artifact.sha256, shipped)
        arrive(exported.artifact.path, exported.artifact.sha256, archive)
    store = Store(job.store_url)
    try:
        ctx = _context(job, store)
        time_stage(ctx, work, recipe, (trained, exported, evaluated), slot)  # stores the record
    finally:
        store.close()
    status = ctx.items[-1].status.value if ctx.items else "stored"
    rid = slot_record_id(job.run_id, work, recipe, slot)
    node = f"{socket.gethostname()}:{os.getpid()}"
    return Timed(rid, status, start, time.time(), node, ctx.items)


def slot_record_id(run_id: str, work: VariantWork, recipe, slot: Slot) -> str:
    """The deterministic id of the record of one slot (the pipeline's: run id + identity)."""
    from bench.pipeline.jobs import identity
    from bench.pipeline.runs import record_id

    return record_id(run_id, identity(work, recipe.name, slot))


def _fetch(path: str, sha256: str, shipped: list) -> bytes | None:
    """The archive of ``path`` from the object store, unless the path already holds that content."""
    from bench.cluster.shipping import sha256_of

    if Path(path).exists() and sha256_of(path) == sha256:
        return None
    return ray.get(shipped[0]) if shipped and shipped[0] is not None else None


def upstream_failure(error: BaseException, stage: str) -> Failure:
    """A task that raised (or whose node died past its retries) as the typed failure of its stage."""
    return Failure.of(stage, error)
