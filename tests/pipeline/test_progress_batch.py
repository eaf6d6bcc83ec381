"""The pipeline's progress display counts an interleaved timing batch as the items it times."""

from __future__ import annotations

import io

from rich.console import Console

from bench.pipeline.progress import Progress


def test_a_batch_counts_and_spends_its_items():
    console = Console(file=io.StringIO(), width=200, color_system=None)
    progress = Progress({"export": [30.0], "time": [5.0, 5.0, 5.0]}, console=console)
    with progress.item("time", "3 artifacts on host, interleaved", items=3):
        pass
    assert progress.done == 3
    assert progress.eta() == 30.0  # only the export is left: the batch took all three time estimates
    assert "[  3/4] time" in console.file.getvalue()
