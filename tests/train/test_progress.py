"""The progress display: ETA, log lines off a terminal, a live bar on one, silence when disabled."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bench.training.progress import TrainProgress


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=160, color_system=None), buffer


def test_eta_uses_the_rate_and_the_time_cap():
    display = TrainProgress("v", total_steps=100, max_seconds=None, enabled=False)
    assert display.eta(step=50, images_per_s=10.0, batch_size=2, elapsed=0.0) == pytest.approx(10.0)
    capped = TrainProgress("v", total_steps=100, max_seconds=30.0, enabled=False)
    assert capped.eta(step=50, images_per_s=10.0, batch_size=2, elapsed=25.0) == pytest.approx(5.0)
    assert display.eta(step=0, images_per_s=0.0, batch_size=2, elapsed=0.0) == float("inf")


def test_log_lines_when_not_a_terminal():
    console, buffer = _console(terminal=False)
    with TrainProgress("ssdlite", total_steps=10, console=console) as display:
        display.update(1, loss=3.5, images_per_s=0.0, batch_size=4, elapsed=2.0)
        display.update(5, loss=2.0, images_per_s=8.0, batch_size=4, elapsed=4.0)  # within 30 s: no line
        display.update(10, loss=1.25, images_per_s=8.0, batch_size=4, elapsed=7.0)  # the last step: a line
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("ssdlite: step 1/10  loss 3.500")
    assert "ETA ?" in lines[0]
    assert "step 10/10" in lines[1] and "8.0 img/s" in lines[1] and "elapsed 0:00:07" in lines[1]


def test_bar_on_a_terminal_and_silence_when_disabled():
    console, buffer = _console(terminal=True)
    with TrainProgress("ssdlite", total_steps=10, console=console) as display:
        display.update(10, loss=1.0, images_per_s=5.0, batch_size=1, elapsed=3.0)
    assert "10/10" in buffer.getvalue() and "loss 1.000" in buffer.getvalue()
    console, buffer = _console(terminal=True)
    with TrainProgress("ssdlite", total_steps=10, console=console, enabled=False) as display:
        display.update(10, loss=1.0, images_per_s=5.0, batch_size=1, elapsed=3.0)
        display.message("resuming")
    assert buffer.getvalue() == ""


def test_log_lines_of_messages_name_the_variant():
    # Variants may train side by side (bench.pipeline.builds): every log line says whose it is.
    console, buffer = _console(terminal=False)
    with TrainProgress("ssdlite_mobiledet_cpu", total_steps=10, console=console) as display:
        display.message("resuming ckpt-200 at step 200")
    assert buffer.getvalue().splitlines() == ["ssdlite_mobiledet_cpu: resuming ckpt-200 at step 200"]
