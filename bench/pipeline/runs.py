"""Run identity: which run id a benchmark invocation stores its records under, and each record's id.

The choice (documented in the README and the issue report):

* A *run manifest* ``work/runs/<plan>-<key>.json`` exists per plan content (the validated plan plus the
  ``--only`` selection). It holds the run id and whether that run finished.
* An unfinished run (Ctrl-C, kill -9, a crash) is resumed: same run id, and since every record id is
  ``sha256(run id, record identity)``, records already stored are skipped, never duplicated.
* A finished run whose every stage is still cached and whose records are all in the store is not run
  again: "nothing changed". Timing is cached too (by artifact hash, target, delegate, threads and
  settings), so a second run with nothing changed trains, converts and times nothing.
* Anything changed (code, tools, an upstream result) or ``--retime``: a new run id. Unchanged artifacts'
  timings are then copied from the cache into the new run (keeping when they were measured), unless
  ``--retime`` asks for fresh measurements.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.cache import digest, read_json, write_json_atomic
from common.errors import InputError
from common.ids import new_run_id
from results.identity import Identity

MANIFEST_VERSION = 1


@dataclass
class RunState:
    """The run this invocation stores into.

    Attributes:
        run_id: The run id records carry.
        manifest_path: ``work/runs/<plan>-<key>.json``.
        resumed: True when an unfinished run of the same content is being continued.
        previous: The manifest found before this invocation (None for the first run).
    """

    run_id: str
    manifest_path: Path
    resumed: bool
    previous: dict | None

    @property
    def previous_complete(self) -> bool:
        """Whether the last run of this plan content finished."""
        return bool(self.previous and self.previous.get("complete"))


def content_key(plan_canonical: dict, selection: list[str]) -> str:
    """The hash naming a plan's content and selection (what a run manifest is kept per)."""
    return digest("run", MANIFEST_VERSION, plan_canonical, sorted(selection))


def manifest_path(workdir: Path, plan_name: str, key: str) -> Path:
    """Where the manifest of this plan content lives."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in plan_name)
    return Path(workdir) / "runs" / f"{safe}-{key[:16]}.json"


def find_run(workdir: Path, plan_name: str, key: str) -> RunState:
    """The run to use before deciding anything: the previous one's id, or a fresh id."""
    path = manifest_path(workdir, plan_name, key)
    previous = read_json(path)
    if isinstance(previous, dict) and isinstance(previous.get("run_id"), str):
        return RunState(previous["run_id"], path, not previous.get("complete"), previous)
    return RunState(new_run_id("bench", plan_name), path, False, None)


def start_new(state: RunState, plan_name: str) -> RunState:
    """A fresh run id for the same manifest path (something changed, or --retime)."""
    return RunState(new_run_id("bench", plan_name), state.manifest_path, False, state.previous)


def write_manifest(
    state: RunState,
    plan_name: str,
    key: str,
    *,
    complete: bool,
    records: int = 0,
    timings: dict | None = None,
) -> None:
    """Record the run as started (``complete=False``) or finished, atomically.

    ``timings`` (a finished run): ``seconds`` (wall time of the invocation that finished it),
    ``stage_seconds`` (per stage, the work done in that invocation; summed over the variants built side
    by side, ``builders`` the most at once) and ``training`` (per variant: steps, planned steps, training
    seconds, stopped_by, seed, weights hash, threads; ``RunRecord.model.training``).
    """
    now = datetime.now(UTC).isoformat()
    started = (state.previous or {}).get("started_at") if state.resumed or _same(state) else None
    value = {
        "manifest_version": MANIFEST_VERSION,
        "run_id": state.run_id,
        "plan": plan_name,
        "content_key": key,
        "started_at": started or now,
        "updated_at": now,
        "complete": complete,
        "records": records,
        **(timings or {}),
    }
    write_json_atomic(state.manifest_path, value)


def _same(state: RunState) -> bool:
    return bool(state.previous and state.previous.get("run_id") == state.run_id)


def record_id(run_id: str, identity: Identity) -> str:
    """The deterministic record id of one measurement in one run (a resumed run re-derives it)."""
    return digest("record", run_id, identity.key)[:32]


@contextlib.contextmanager
def exclusive(workdir: Path) -> Iterator[None]:
    """Hold ``workdir/.lock`` while a run executes: two runs sharing a work folder would each resume the
    other's unfinished run. The lock is the kernel's (flock), so a killed run never leaves it held.

    Raises:
        InputError: another process holds the folder (its pid is named).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / ".lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise InputError(
                f"{workdir}: another edgebench benchmark (pid {holder}) is running in this work folder; "
                "wait for it or pass a different --workdir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
