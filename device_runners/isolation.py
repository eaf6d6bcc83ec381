"""Run the timing worker in a child process and turn whatever happened into an ``Outcome``.

A child that writes its result file yields ``ok`` (or ``failed`` when LiteRT refused the model); a
child killed by a signal (segfault, abort, the out-of-memory killer) yields ``crashed``; a non-zero exit
or a timeout yields ``failed``. Nothing here raises for trouble in the child, so the next job always runs.

The argument building (:func:`worker_args`) and the result parsing (:func:`outcome_from_result`,
:func:`outcome_from_failure`) are shared with runners that run ``worker.py`` elsewhere (SSH, adb).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from common import process
from device_runners.base import Outcome
from results.schema import ErrorInfo, FallbackInfo, Status, TargetInfo, Timing, TimingSettings, ToolVersions

WORKER_PATH = Path(__file__).resolve().parent / "worker.py"
WORKER_PROTOCOL = 1  # the worker's PROTOCOL this parser understands
STARTUP_ALLOWANCE_SECS = 60.0  # interpreter start, model load and delegate preparation, generously
_STDERR_LINES = 20


class WorkerOutputError(Exception):
    """The worker exited 0 but its result file is missing or not what the protocol says."""


def worker_args(model: str, delegate: str, threads: int, settings: TimingSettings, out: str) -> list[str]:
    """The worker's command-line arguments (after ``python worker.py``) for one timing."""
    args = ["--model", model, "--delegate", delegate, "--threads", str(threads), "--out", out]
    args += ["--warmup-runs", str(settings.warmup_runs), "--warmup-min-secs", repr(settings.warmup_min_secs)]
    args += ["--min-runs", str(settings.min_runs), "--min-secs", repr(settings.min_secs)]
    args += ["--max-secs", repr(settings.max_secs), "--cooldown-secs", repr(settings.cooldown_secs)]
    if settings.max_runs is not None:
        args += ["--max-runs", str(settings.max_runs)]
    return args


def timeout_for(settings: TimingSettings) -> float:
    """How long a timing may take before the child is killed: both phases can run to ``max_secs``."""
    return STARTUP_ALLOWANCE_SECS + settings.cooldown_secs + 2 * settings.max_secs + settings.warmup_min_secs


def run_worker(argv: list[str], out: Path, timeout: float) -> tuple[dict, str]:
    """Run the worker command and read its result file.

    Returns:
        The parsed result and the child's stderr.

    Raises:
        CommandError: the child exited non-zero or died from a signal.
        CommandTimeout: it ran longer than ``timeout``.
        FileNotFoundError: the program does not exist.
        WorkerOutputError: it exited 0 without a readable result of our protocol.
    """
    completed = process.run(argv, timeout)
    try:
        result = json.loads(out.read_text())
    except (OSError, ValueError) as error:
        raise WorkerOutputError(f"no readable result file {str(out)!r}: {error}") from None
    if not isinstance(result, dict) or result.get("protocol") != WORKER_PROTOCOL:
        raise WorkerOutputError(f"result file {str(out)!r} is not of worker protocol {WORKER_PROTOCOL}")
    return result, completed.stderr


def time_in_child(
    argv: list[str], out: Path, timeout: float, target: TargetInfo, settings: TimingSettings
) -> Outcome:
    """Run one timing in a child process; never raises for anything that happens in the child."""
    try:
        result, stderr = run_worker(argv, out, timeout)
    except (process.CommandError, process.CommandTimeout, WorkerOutputError, FileNotFoundError) as error:
        return outcome_from_failure(error, target, argv)
    return outcome_from_result(result, target, settings, stderr)


def outcome_from_failure(error: Exception, target: TargetInfo, argv: list[str] | None = None) -> Outcome:
    """Map what went wrong with the child to a ``crashed`` or ``failed`` outcome."""
    if isinstance(error, process.CommandError) and error.signal is not None:
        name = _signal_name(error.signal)
        hint = " (the out-of-memory killer sends this)" if error.signal == signal.SIGKILL else ""
        info = ErrorInfo(
            type=name,
            message=f"the timing process was killed by {name}{hint}",
            command=error.argv,
            returncode=error.returncode,
            signal=error.signal,
            stderr_tail=process.tail(error.stderr, _STDERR_LINES) or None,
        )
        return Outcome(target=target, status=Status.CRASHED, error=info)
    if isinstance(error, process.CommandError):
        last = process.tail(error.stderr, 1) or "(no stderr)"
        info = ErrorInfo(
            type="CommandError",
            message=f"the timing process exited with {error.returncode}: {last}",
            command=error.argv,
            returncode=error.returncode,
            stderr_tail=process.tail(error.stderr, _STDERR_LINES) or None,
        )
    elif isinstance(error, process.CommandTimeout):
        info = ErrorInfo(
            type="CommandTimeout",
            message=f"the timing process did not finish within {error.timeout:g} s and was killed",
            command=error.argv,
            stderr_tail=process.tail(error.stderr, _STDERR_LINES) or None,
        )
    else:
        info = ErrorInfo(type=type(error).__name__, message=str(error), command=argv)
    return Outcome(target=target, status=Status.FAILED, error=info)


def outcome_from_result(
    result: dict, target: TargetInfo, settings: TimingSettings, stderr: str = ""
) -> Outcome:
    """Turn a worker result (the parsed JSON) into an ``ok`` outcome, ``failed`` when it reports an error."""
    runtime = result.get("runtime") or {}
    tools = ToolVersions(litert=runtime.get("litert"), python=runtime.get("python"))
    stderr_tail = process.tail(stderr, _STDERR_LINES) or None
    if not result.get("ok"):
        error = result.get("error") or {}
        info = ErrorInfo(
            type=str(error.get("type", "WorkerError")),
            message=f"LiteRT could not run the model: {error.get('message', 'no message')}",
            stderr_tail=stderr_tail,
        )
        return Outcome(target=target, status=Status.FAILED, error=info, tools=tools)
    try:
        if not result["samples_ms"]:
            raise ValueError("no timed samples")
        timing = Timing(
            settings=settings,
            samples_ms=result["samples_ms"],
            warmup_samples_ms=result.get("warmup_samples_ms", []),
            init_ms=result.get("init_ms"),
            first_inference_ms=result.get("first_inference_ms"),
            peak_memory_mb=result.get("peak_rss_mb"),
            ops_total=result.get("ops_total"),
            ops_outside_delegate=result.get("ops_outside_delegate"),
            round_sizes=result.get("round_sizes") or [],
        )
    except (KeyError, TypeError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        message = f"the worker's result is malformed: {' '.join(str(error).split())[:300]}"
        info = ErrorInfo(type="WorkerOutputError", message=message, stderr_tail=stderr_tail)
        return Outcome(target=target, status=Status.FAILED, error=info, tools=tools)
    return Outcome(
        target=target, status=Status.OK, timing=timing, fallback=fallback_info(result), tools=tools
    )


def fallback_info(result: dict) -> FallbackInfo | None:
    """A ``FallbackInfo`` when the delegate declined some or all of the model's ops, else None."""
    outside, total = result.get("outside_ops"), result.get("ops_total")
    if not outside or total is None:
        return None
    delegate = str(result.get("delegate", "the delegate"))
    names = _summarize_names(outside)
    if len(outside) >= total or not result.get("delegate_partitions"):
        detail = f"{delegate} took none of the {total} ops ({names}): this is a plain CPU-kernel timing"
        return FallbackInfo(full=True, detail=detail)
    return FallbackInfo(full=False, detail=f"{len(outside)} of {total} ops outside {delegate}: {names}")


def _summarize_names(names: list[str]) -> str:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(name if count == 1 else f"{name} x{count}" for name, count in counts.items())


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
