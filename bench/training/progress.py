"""The training progress display: a rich progress bar on a terminal, periodic log lines otherwise.

Columns: step / total, loss, images per second, elapsed, ETA. The ETA is the smaller of the steps left at
the current rate and, with a wall-clock cap, the time left under the cap.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from bench.console import stderr_console

_LOG_INTERVAL_S = 30.0  # log-line cadence when stderr is not a terminal


def _clock(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class TrainProgress:
    """A context manager showing training progress; a silent no-op when ``enabled`` is False.

    Args:
        title: Shown before the bar (e.g. the variant).
        total_steps: Steps of the whole run.
        start_step: Steps already done (a resumed run).
        max_seconds: The wall-clock cap, if any.
        enabled: False shows nothing.
        console: Where to draw; default stderr.
    """

    def __init__(
        self,
        title: str,
        total_steps: int,
        start_step: int = 0,
        max_seconds: float | None = None,
        *,
        enabled: bool = True,
        console: Console | None = None,
    ) -> None:
        self.title, self.total, self.max_seconds, self.enabled = title, total_steps, max_seconds, enabled
        self.console = console or stderr_console(quiet=False)  # log lines unwrapped when not a terminal
        self._progress: Progress | None = None
        self._task = None
        self._start_step = start_step
        self._last_log = 0.0

    def __enter__(self) -> TrainProgress:
        if self.enabled and self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[status]}"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                self.title, total=self.total, completed=self._start_step, status="tracing the step..."
            )
        return self

    def __exit__(self, *exc_info) -> None:
        if self._progress is not None:
            self._progress.stop()

    def eta(self, step: int, images_per_s: float, batch_size: int, elapsed: float) -> float:
        """Seconds left: the steps to go at the current rate, capped by the time left under the cap."""
        left = (self.total - step) * batch_size / images_per_s if images_per_s > 0 else float("inf")
        if self.max_seconds is not None:
            left = min(left, max(self.max_seconds - elapsed, 0.0))
        return left

    def update(self, step: int, loss: float, images_per_s: float, batch_size: int, elapsed: float) -> None:
        """Show the state after ``step`` steps; ``elapsed`` counts every resumed run."""
        if not self.enabled:
            return
        eta = self.eta(step, images_per_s, batch_size, elapsed)
        status = (
            f"loss {loss:.3f}  {images_per_s:.1f} img/s  elapsed {_clock(elapsed)}  "
            f"ETA {_clock(eta) if eta != float('inf') else '?'}"
        )
        if self._progress is not None:
            self._progress.update(self._task, completed=step, status=status)
            return
        now = time.monotonic()
        if now - self._last_log >= _LOG_INTERVAL_S or step >= self.total:
            self._last_log = now
            self.console.print(f"{self.title}: step {step}/{self.total}  {status}")

    def message(self, text: str) -> None:
        """One line above the bar, or in the log after the title (variants may train side by side)."""
        if not self.enabled:
            return
        self.console.print(text if self._progress is not None else f"{self.title}: {text}")
