"""What every stage of one pipeline pass shares: the plan, the cache, the run, and the pass's report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bench.cache import StageCache
from bench.pipeline.entries import parse_entry
from bench.plans import Plan
from bench.provenance import Provenance


class ItemStatus(StrEnum):
    """The status of one stage item in the report of a pass (what ``--dry-run`` prints)."""

    CACHED = "cached"  # the stage's result is in the cache
    RUN = "run"  # the stage ran in this pass (or would run, in a planning pass)
    PENDING = "pending"  # waits for an upstream item that has to run first (planning pass only)
    STORED = "stored"  # the record is already in the store under this run id
    TO_STORE = "to store"  # the record can be made from cached results; only storing it is left
    FAILED = "failed"  # the item failed; its records say why
    UNSUPPORTED = "unsupported"  # the target cannot run it; its record says why
    CRASHED = "crashed"  # the timing child process died (a signal); its record says which


@dataclass(frozen=True)
class Data:
    """The dataset stage's result.

    Attributes:
        key: Names the data exactly (synthetic cache key, or the COCO splits' content hashes).
        train: The training split; None in a planning pass before the data exists.
        val: The validation split; likewise.
    """

    key: str
    train: Any = None  # bench.data.coco.CocoDataset
    val: Any = None

    @property
    def ready(self) -> bool:
        """Whether both splits are loaded."""
        return self.train is not None and self.val is not None


@dataclass
class Item:
    """One stage item of a pass, for --dry-run, the progress display and the "nothing changed" check."""

    stage: str  # dataset, train, export, evaluate or time
    label: str  # the item as the report shows it
    status: ItemStatus
    key: str = ""  # the item's cache key ("" when it has none yet)


@dataclass
class Context:
    """One pass of the pipeline over a plan.

    Attributes:
        plan: The validated plan.
        cache: The stage cache in the work folder.
        execute: False for a planning pass (dry run): look up, never compute or store.
        run_id: The run records are stored under.
        store: The results store (``results.store.Store``).
        retime: Ignore cached timings (measure again).
        provenance: git commit / dirty flag and tool versions for every record.
        progress: The progress display (execute passes only).
        items: The report, filled as the pass goes.
    """

    plan: Plan
    cache: StageCache
    execute: bool
    run_id: str
    store: Any
    retime: bool = False
    provenance: Provenance = field(default_factory=Provenance.unknown)
    progress: Any = None
    items: list[Item] = field(default_factory=list)
    reachability: dict = field(default_factory=dict)  # target label -> device_runners.base.Support
    runners: dict = field(default_factory=dict)  # target label -> runner instance
    models: dict = field(default_factory=dict)  # variant label -> converters.ConversionInputs (loaded model)
    fresh: dict = field(default_factory=dict)  # timing cache key -> RunRecord measured in this pass

    @property
    def workdir(self) -> Path:
        """The work folder."""
        return self.cache.root

    def report(self, stage: str, label: str, status: ItemStatus, key: str = "") -> None:
        """Add an item to the report."""
        self.items.append(Item(stage, label, status, key))

    def lookup(
        self, stage: str, label: str, key: str, ready: bool, valid: Callable[[Any], bool] | None = None
    ) -> tuple[Any, bool]:
        """A stage item's cached result, or whether the caller computes it now; reports the item.

        Args:
            stage: The stage (cache namespace).
            label: The item, as the report shows it.
            key: The item's cache key.
            ready: Whether the item's input data is loaded.
            valid: Re-checks a cached entry (e.g. that the file it names still exists); None accepts it.

        Returns:
            ``(entry, False)`` on a valid cache hit, typed (:mod:`bench.pipeline.entries`), reported
            cached; ``(None, False)`` when this pass does not compute it (a planning pass: reported run, or
            pending while the data is missing); ``(None, True)`` when the caller computes it now.
        """
        raw = self.cache.get(stage, key)
        hit = parse_entry(stage, raw) if raw else None
        if hit is not None and (valid is None or valid(hit)):
            self.report(stage, label, ItemStatus.CACHED, key)
            return hit, False
        if not self.execute or not ready:
            self.report(stage, label, ItemStatus.RUN if ready else ItemStatus.PENDING, key)
            return None, False
        return None, True

    def keep(self, stage: str, key: str, entry: BaseModel) -> Any:
        """Cache a stage item's typed result (atomically) and return it."""
        self.cache.put(stage, key, entry.model_dump(mode="json"))
        return entry

    def counts(self) -> dict[str, Counter]:
        """Stage -> Counter of statuses."""
        out: dict[str, Counter] = {}
        for item in self.items:
            out.setdefault(item.stage, Counter())[item.status] += 1
        return out

    def nothing_to_do(self) -> bool:
        """True when every item is cached, stored or unsupported-and-stored: a run would change nothing."""
        return all(item.status in (ItemStatus.CACHED, ItemStatus.STORED) for item in self.items)
