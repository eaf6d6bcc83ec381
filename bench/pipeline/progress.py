"""Progress of a benchmark run on stderr: one line per item that does work, with elapsed time and ETA.

The ETA sums the estimated seconds of every item still to run (known from the planning pass): the mean
of the items of the same stage already done in this invocation, else a rough prior from the plan. On a
terminal a spinner shows the running item; training draws its own bar (``bench.training``), so no
spinner runs then (rich allows one live display at a time).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator

from rich.console import Console

from bench.console import stderr_console

STAGES = ("dataset", "train", "export", "evaluate", "time")
BUILD_STAGES = ("train", "export", "evaluate")  # a variant's build: what bench.pipeline.builds runs apart


def clock(seconds: float | None) -> str:
    """``H:MM:SS``, or ``?`` when unknown."""
    if seconds is None:
        return "?"
    seconds = max(int(round(seconds)), 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Lines like ``[ 7/42] export  ssdlite_mobilenet_v2 tflite_int8  12.3 s  elapsed 0:03:12  ETA 0:14:05``.

    Args:
        pending: Stage name -> list of prior estimates (seconds, None if unknown) of the items to run.
        quiet: Print nothing.
        console: Where to print (stderr by default).
    """

    def __init__(
        self, pending: dict[str, list[float | None]], quiet: bool = False, console: Console | None = None
    ) -> None:
        self.console = console or stderr_console(quiet)
        self.enabled = not quiet
        self.start = time.monotonic()
        self.total = sum(len(v) for v in pending.values())
        self.done = 0
        self._left = {stage: list(estimates) for stage, estimates in pending.items()}
        self._spent: dict[str, list[float]] = defaultdict(list)
        self.builders = 1  # build processes running side by side now (bench.pipeline.builds sets it)
        self.peak_builders = 1  # the most at any time in this invocation

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.start

    @property
    def stage_seconds(self) -> dict[str, float]:
        """Seconds spent per stage on the items that did work in this invocation (stage order); with
        variants built side by side, the build stages' seconds add up more than the wall time."""
        return {stage: round(sum(self._spent[stage]), 1) for stage in STAGES if self._spent.get(stage)}

    def eta(self) -> float | None:
        """Estimated seconds left, None when some item has no estimate yet; the build stages' items are
        divided among the ``builders`` that run them side by side."""
        total = 0.0
        for stage, estimates in self._left.items():
            spent = self._spent.get(stage)
            mean = sum(spent) / len(spent) if spent else None
            share = 1 / self.builders if stage in BUILD_STAGES else 1.0
            for prior in estimates:
                guess = mean if mean is not None else prior
                if guess is None:
                    return None
                total += guess * share
        return total

    @contextlib.contextmanager
    def item(self, stage: str, label: str, *, spinner: bool = True, items: int = 1) -> Iterator[None]:
        """Around one item that does work: a spinner while it runs, a line when it ends. ``items`` > 1:
        one batch doing that many items' work (the interleaved host timings), counted and estimated so."""
        began = time.monotonic()
        use_spinner = spinner and self.enabled and self.console.is_terminal
        head = self.begin(stage, label, items=items, line=not use_spinner)
        status = self.console.status(head) if use_spinner else contextlib.nullcontext()
        outcome = "interrupted"
        try:
            with status:
                yield
            outcome = "done"
        finally:
            self.end(head, stage, time.monotonic() - began, outcome, items=items)

    def begin(self, stage: str, label: str, *, items: int = 1, line: bool = True) -> str:
        """Count an item that starts now (here or in a build process, :mod:`bench.pipeline.builds`);
        returns its head (``[ 7/42] export  LABEL``), printed with `` ...`` when ``line``."""
        self.done += items
        head = f"[{self.done:>3}/{self.total}] {stage:<8} {label}"
        if line:
            self.console.print(f"{head} ...", highlight=False)
        return head

    def end(self, head: str, stage: str, spent: float, outcome: str, *, items: int = 1) -> None:
        """An item begun with :meth:`begin` ended after ``spent`` seconds (``done``, ``interrupted``...)."""
        self._spent[stage].extend([spent / items] * items)
        del self._left.get(stage, [])[:items]
        tail = f"elapsed {clock(self.elapsed)}  ETA {clock(self.eta())}"
        self.console.print(f"{head}  {outcome} in {spent:.1f} s  {tail}", highlight=False)

    def note(self, text: str) -> None:
        """A line of its own (failures, warnings, stage summaries)."""
        self.console.print(text, highlight=False)
