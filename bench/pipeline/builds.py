"""Variants built side by side: train -> export -> evaluate in processes of their own, several at once.

Why: training is most of a run, and one training process uses a small machine's cores poorly. On this
2-core machine a MobileDet-CPU step took 0.43 s of wall time for 0.77 CPU seconds at 2 intra-op threads,
and 0.54 s for 0.56 at 1: variants training at one thread each, side by side, finish well before the same
variants one after the other at two, and one variant's single-threaded conversions overlap another's
training. A variant's first job trains it and exports its recipes without a fine-tune; each of its
fine-tunes (QAT, pruning) is a job of its own that starts once the training is cached (:func:`split`).
The files do not depend on how many jobs run at once: each process runs TensorFlow on the variant's
``training.threads`` (set before its runtime starts, :func:`bench.training.steps.make_deterministic`), and
a fine-tune seeds itself.

A build process writes only to the stage cache (content-keyed, atomic writes), never to the store. The
parent then walks the plan as usual, finds every build cached, and times and stores. Progress comes to the
parent through a queue and is printed by its display; the children's training lines go straight to
stderr, as log lines (no second live display). Ctrl-C reaches the children too: each checkpoints its
training, and the next run resumes them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import queue
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.pipeline.context import Context, Data, Item
from bench.pipeline.context import ItemStatus as S
from bench.pipeline.jobs import VariantWork
from bench.plans import Plan
from bench.provenance import Provenance
from common.errors import InputError

POLL_SECS = 0.5  # how often the parent looks at the queue and at its children
STOP_SECS = 60.0  # after Ctrl-C: how long a child may take to write its checkpoint before it is killed
# A build process's peak resident memory: in the quick plan's run (256 px, width 0.5) the training jobs
# peaked at 1.7-2.7 GB, MobileDet-CPU's QAT and pruning jobs at 3.2 and 3.8 GB.
MEMORY_PER_BUILD = 4 << 30
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class BuildError(RuntimeError):
    """A build process raised (its traceback was shown) or died without saying why (a signal, the OOM
    killer). What it finished is cached: a re-run resumes there."""


@dataclass(frozen=True)
class BuildJob:
    """What one build process needs: everything but the store."""

    plan: Plan
    workdir: Path
    run_id: str
    provenance: Provenance
    work: VariantWork
    progress: bool  # relay progress lines (False: --quiet)
    parent: int  # the run's process id: a build outliving it stops
    name: str  # the variant and its recipes in this job, for messages
    first: bool  # trains the variant (says when it is cached); the others find it cached


def default_jobs(plan: Plan) -> int:
    """Build processes at once when the user does not say: two per core that one build's training threads
    fill, and one per ``MEMORY_PER_BUILD`` of the machine's memory (at least 1).

    Two per core, because the jobs are few and of unequal length: with one per core, a core idles while
    the longest job finishes alone; with two, both stay busy nearly to the end. Their wall times (the
    summary's training minutes) then include the sharing.
    """
    from bench.training.steps import machine_cores

    by_cores = 2 * machine_cores() // plan.threads
    by_memory = _memory_bytes() // MEMORY_PER_BUILD
    return max(min(by_cores, by_memory), 1)


def _memory_bytes() -> int:
    """The machine's physical memory (a large number where the platform does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return 1 << 40


def needs_build(ctx: Context, data: Data, work: VariantWork) -> bool:
    """Whether some train, export or evaluate item of the variant is not cached (a lookup-only pass)."""
    from bench.pipeline.stages import build_variant

    probe = dataclasses.replace(ctx, execute=False, progress=None, items=[], models={}, fresh={})
    build_variant(probe, data, work)
    return any(item.status in (S.RUN, S.PENDING) for item in probe.items)


def split(work: VariantWork) -> tuple[VariantWork, list[VariantWork]]:
    """A variant's build as jobs: the first trains and exports the recipes without a fine-tune; each
    fine-tune's recipes follow in a job of their own once the training is cached, so that a variant's
    QAT and pruning run side by side too (the pruned TFLite and Core ML files share their fine-tune,
    ``Recipe.shared_finetune``)."""
    groups: dict[str, list] = {}
    for recipe in work.recipes:
        groups.setdefault(recipe.shared_finetune(), []).append(recipe)
    first = dataclasses.replace(work, recipes=tuple(groups.pop("", [])))
    return first, [dataclasses.replace(work, recipes=tuple(recipes)) for recipes in groups.values()]


def build_side_by_side(ctx: Context, works: list[VariantWork], data: Data, jobs: int) -> list[Item]:
    """Build every variant that needs it, up to ``jobs`` processes at once: the variants' first jobs in plan
    order, each variant's fine-tunes as soon as its training is cached (:func:`split`). Returns the report
    items of the builds (train / export / evaluate: run, cached or failed).

    Raises:
        InputError: a build found bad input (its message, as the in-process walk would raise it).
        BuildError: a build raised or died; the others are stopped (their work so far is cached).
    """
    builds = _Builds(ctx)
    for work in works:  # each job's cache lookups once: a cached variant makes no job at all
        first, rest = split(work)
        rest = [job for job in rest if needs_build(ctx, data, job)]
        if needs_build(ctx, data, first):
            builds.queue.append((first, True))
            builds.waiting[work.label] = rest
        else:  # trained already: the fine-tunes may start now
            builds.queue.extend((job, False) for job in rest)
    if not builds.queue:
        return []
    jobs = min(jobs, len(builds.queue) + sum(len(rest) for rest in builds.waiting.values()))
    variants = len({work.label for work, _ in builds.queue})
    ctx.progress.builders = jobs
    ctx.progress.peak_builders = max(ctx.progress.peak_builders, jobs)
    ctx.progress.note(f"building {variants} variants, up to {jobs} processes at a time (--jobs)")
    try:
        while builds.queue or builds.running:
            while builds.queue and len(builds.running) < jobs:
                builds.start(*builds.queue.pop(0))
            builds.relay(POLL_SECS)
            for process in [p for p in builds.running if not p.is_alive()]:
                builds.ended(process)
    except BaseException:
        _stop(builds.running)
        raise
    finally:
        ctx.progress.builders = 1
    return builds.reports


class _Builds:
    """The parent's side of the build processes: what waits, what runs, what they said."""

    def __init__(self, ctx: Context) -> None:
        import multiprocessing

        self.ctx = ctx
        self.spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: TensorFlow not yet started
        self.events = self.spawn.Queue()
        self.queue: list[tuple[VariantWork, bool]] = []  # (job, trains first), in start order
        self.waiting: dict[str, list[VariantWork]] = {}  # variant label -> fine-tune jobs after its training
        self.running: dict = {}  # process -> job name
        self.reports: list[Item] = []
        self.finished: set[str] = set()  # job names that sent their report
        self.heads: dict[str, str] = {}  # item tag -> its progress head

    def start(self, work: VariantWork, first: bool) -> None:
        """Start one build process."""
        ctx = self.ctx
        name = f"{work.label} ({', '.join(r.name for r in work.recipes) or 'training'})"
        job = BuildJob(
            ctx.plan,
            ctx.workdir,
            ctx.run_id,
            ctx.provenance,
            work,
            ctx.progress.enabled,
            os.getpid(),
            name,
            first,
        )
        process = self.spawn.Process(target=_build, args=(job, self.events), name=f"build {name}")
        process.start()
        self.running[process] = name

    def ended(self, process) -> None:
        """A build process is gone: it must have sent its report.

        Raises:
            BuildError: it died without one.
        """
        process.join()
        self.relay(0.0)  # what it said before it ended
        name = self.running.pop(process)
        if name not in self.finished:
            raise BuildError(f"building {name}: its process ended without a result ({_exit(process)})")

    def relay(self, wait: float) -> None:
        """Show and keep what the build processes sent; wait up to ``wait`` seconds for the first message.

        Raises:
            InputError: a build found bad input.
            BuildError: a build raised (its traceback is shown).
        """
        progress = self.ctx.progress
        while True:
            try:
                message = self.events.get(timeout=wait) if wait else self.events.get_nowait()
            except queue.Empty:
                return
            wait = 0.0
            kind, name, *rest = message
            if kind == "begin":
                tag, stage, item, items = rest
                self.heads[tag] = progress.begin(stage, item, items=items)
            elif kind == "end":
                tag, stage, spent, outcome, items = rest
                progress.end(self.heads.pop(tag), stage, spent, outcome, items=items)
            elif kind == "note":
                progress.note(rest[0])
            elif kind == "trained":  # its fine-tunes go first: they are what that variant waits for
                self.queue[:0] = [(job, False) for job in self.waiting.pop(rest[0], [])]
            elif kind == "built":
                self.reports.extend(rest[0])
                self.finished.add(name)
            elif kind == "bad input":
                raise InputError(rest[0])
            elif kind == "raised":
                summary, trace = rest
                progress.note(trace.rstrip())
                raise BuildError(f"building {name}: {summary}")


def _stop(running: dict) -> None:
    """Ask every build process to stop as Ctrl-C does (its training checkpoints), then make sure."""
    import signal

    for process in running:
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_SECS
    for process in running:
        process.join(max(deadline - time.monotonic(), 0.0))
        if process.is_alive():
            process.kill()
            process.join()


def _exit(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        return f"killed by signal {-code}"
    return f"exit code {code}"


def _build(job: BuildJob, events) -> None:
    """The body of a build process: pin TensorFlow's threads, build the variant, send back the report."""
    from bench import quiet

    _stop_with(job.parent)
    os.environ["TTY_COMPATIBLE"] = "0"  # the training display prints lines: the parent owns the terminal
    quiet.install(verbose=os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0")
    label = job.work.label
    try:
        from bench.cache import StageCache
        from bench.pipeline.stages import build_variant, dataset_stage
        from bench.training.steps import make_deterministic

        make_deterministic(job.plan.train_config(job.work.spec).threads)  # before any op of this process
        ctx = Context(job.plan, StageCache(job.workdir), True, job.run_id, None, provenance=job.provenance)
        ctx.progress = RelayProgress(events, job.name, job.progress)
        data = dataset_stage(ctx)
        ctx.items.clear()  # the dataset is the parent's item
        trained = (lambda: events.put(("trained", job.name, label))) if job.first else None
        build_variant(ctx, data, job.work, on_trained=trained)
        # The training is the first job's item; a fine-tune job only found it cached.
        items = [item for item in ctx.items if job.first or item.stage != "train"]
        events.put(("built", job.name, items))
    except InputError as error:
        events.put(("bad input", job.name, str(error)))
    except KeyboardInterrupt:
        pass  # the parent is stopping the run; what is done is cached and checkpointed
    except Exception as error:  # the parent raises it, with this traceback shown
        events.put(("raised", job.name, f"{type(error).__name__}: {error}", traceback.format_exc()))


def _stop_with(parent: int) -> None:
    """On Linux, get SIGINT when the run's process dies (kill -9): the training checkpoints and the build
    ends, instead of writing on for a run that is gone while its re-run resumes the same variant."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)
    if os.getppid() != parent:  # it died before the line above
        raise SystemExit(1)


class RelayProgress:
    """The progress display of a build process: sends each item's start and end to the parent's display.

    Args:
        events: The queue the parent reads.
        label: The job this process runs (its variant and recipes).
        enabled: Whether progress is shown at all (training's own display follows it).
    """

    def __init__(self, events, label: str, enabled: bool) -> None:
        self.events, self.label, self.enabled = events, label, enabled
        self._tags = (f"{os.getpid()}-{n}" for n in itertools.count())

    @contextlib.contextmanager
    def item(self, stage: str, label: str, *, spinner: bool = True, items: int = 1) -> Iterator[None]:
        """Like :meth:`bench.pipeline.progress.Progress.item`; the parent prints the lines."""
        tag = next(self._tags)
        self.events.put(("begin", self.label, tag, stage, label, items))
        began, outcome = time.monotonic(), "interrupted"
        try:
            yield
            outcome = "done"
        finally:
            self.events.put(("end", self.label, tag, stage, time.monotonic() - began, outcome, items))

    def note(self, text: str) -> None:
        """A line of its own, printed by the parent."""
        self.events.put(("note", self.label, text))
