"""Interleaved rounds on the host: every artifact of a batch timed in turns, so noise hits them all alike.

One timing window per artifact in its own child (the old way) lets a slow spell of a shared VM fall on
one artifact and not on the next: on a 2-vCPU machine a run's window disagreed with a bare loop by up to
37% (issue 19). Here one child per (delegate, threads, settings) loads every artifact once (one start-up
instead of one per artifact) and runs ``settings.rounds`` rounds; in each round every artifact gets one
window of ``1/rounds`` of the timed runs (``worker.py --rounds``). The samples keep their rounds
(``Timing.round_sizes``), so the spread between rounds is visible in every record.

Crash isolation: the child rewrites its result file before loading each artifact, before each window and
after each window, naming the artifact it is on. When the child dies (a signal, a non-zero exit, a
timeout), that artifact gets the ``crashed`` / ``failed`` record a lone child would have given it; the
samples of the others are kept, and a fresh child runs the rounds they still lack without the culprit.
So one bad artifact costs the others one restart, never their samples.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import process
from device_runners.base import Outcome
from device_runners.isolation import (
    STARTUP_ALLOWANCE_SECS,
    WORKER_PATH,
    WORKER_PROTOCOL,
    WorkerOutputError,
    outcome_from_failure,
    outcome_from_result,
    timeout_for,
    worker_args,
)
from results.schema import TargetInfo, TimingSettings

# Loading one more artifact (interpreter, delegate preparation) in a batch child, generously.
LOAD_ALLOWANCE_SECS = 20.0


@dataclass
class _Collected:
    """What the children measured of one artifact so far."""

    first: dict | None = None  # the first child's entry: description, warm-up, first inference
    samples: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)


def time_rounds(
    python: str,
    models: Sequence[str],
    delegate: str,
    threads: int,
    settings: TimingSettings,
    target: TargetInfo,
) -> dict[str, Outcome]:
    """Time every model in interleaved rounds (see the module docstring); never raises for the child.

    Args:
        python: The interpreter that runs ``worker.py``.
        models: The .tflite paths (duplicates are timed once).
        delegate: ``cpu`` or ``xnnpack``.
        threads: Thread count.
        settings: Timing settings; ``settings.rounds`` rounds (1: one window each, still one child).
        target: What the outcomes say of where they ran.

    Returns:
        Model path -> its outcome (``ok`` with every round's samples, or why not).
    """
    pending = list(dict.fromkeys(models))
    collected = {model: _Collected() for model in pending}
    outcomes: dict[str, Outcome] = {}
    while pending:
        left = settings.rounds - min(len(collected[m].sizes) for m in pending)
        if left <= 0:
            break
        state, error, argv = _run_child(python, pending, delegate, threads, settings, left)
        culprit = _merge(state, collected, outcomes, target, settings)
        if error is None:
            break
        if culprit is None or culprit in outcomes:  # died before naming an artifact: all share the fate
            for model in pending:
                outcomes.setdefault(model, outcome_from_failure(error, target, argv))
            break
        outcomes[culprit] = outcome_from_failure(error, target, argv)
        pending = [m for m in pending if m not in outcomes]
    for model, got in collected.items():
        if model not in outcomes:
            # After a restart, a model that had its window in the crashed round has one round too many.
            got.samples, got.sizes = (
                got.samples[: sum(got.sizes[: settings.rounds])],
                got.sizes[: settings.rounds],
            )
            outcomes[model] = _outcome(got, target, settings)
    return outcomes


def _run_child(
    python, models, delegate, threads, settings, rounds
) -> tuple[dict | None, Exception | None, list]:
    """One batch child: (its last state, what went wrong or None, its argv)."""
    with tempfile.TemporaryDirectory(prefix="edgebench-rounds-") as scratch:
        out = Path(scratch) / "result.json"
        args = worker_args(models[0], delegate, threads, settings, str(out))
        for model in models[1:]:
            args += ["--model", model]
        argv = [python, str(WORKER_PATH), *args, "--rounds", str(rounds)]
        per_model = timeout_for(settings) - STARTUP_ALLOWANCE_SECS + LOAD_ALLOWANCE_SECS
        error: Exception | None = None
        try:
            process.run(argv, STARTUP_ALLOWANCE_SECS + per_model * len(models))
        except (process.CommandError, process.CommandTimeout, FileNotFoundError) as failure:
            error = failure
        state = _read_state(out)
        if error is None and (state is None or state.get("current") is not None):
            error = WorkerOutputError(f"the batch child exited 0 without finishing its result {str(out)!r}")
    return state, error, argv


def _read_state(out: Path) -> dict | None:
    try:
        state = json.loads(out.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("protocol") != WORKER_PROTOCOL or "models" not in state:
        return None
    return state


def _merge(state, collected, outcomes, target: TargetInfo, settings: TimingSettings) -> str | None:
    """Add a child's samples to ``collected``; artifacts LiteRT refused get their outcome. Returns the
    artifact the child was on when it stopped (None when it finished or said nothing)."""
    if state is None:
        return None
    for entry in state["models"]:
        model = entry["model"]
        if not entry.get("ok"):
            outcomes[model] = outcome_from_result(
                {**entry, "runtime": state.get("runtime")}, target, settings
            )
            continue
        got = collected[model]
        if got.first is None and entry.get("round_sizes"):
            got.first = {**entry, "runtime": state.get("runtime"), "delegate": state.get("delegate")}
        got.samples.extend(entry.get("samples_ms", []))
        got.sizes.extend(entry.get("round_sizes", []))
    current = state.get("current")
    return state["models"][current["model"]]["model"] if current else None


def _outcome(got: _Collected, target: TargetInfo, settings: TimingSettings) -> Outcome:
    """The ``ok`` outcome of every round's samples (or ``failed`` when none were taken)."""
    result = {**(got.first or {"ok": True}), "samples_ms": got.samples, "round_sizes": got.sizes}
    return outcome_from_result(result, target, settings)
