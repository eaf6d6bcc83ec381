"""The training loop itself, with a stand-in step function: no model, so these run in milliseconds."""

from __future__ import annotations

import itertools
import time

import pytest

from bench.training.checkpoints import TrainState
from bench.training.progress import TrainProgress
from bench.training.trainer import Loop, TrainingError, run_loop

QUIET = TrainProgress("test", 10, enabled=False)


def _batches():
    return itertools.repeat((None, None, None))


def _loop(step_fn, **changes) -> Loop:
    values = {
        "step_fn": step_fn,
        "iterator": _batches(),
        "end_step": 10,
        "batch_size": 4,
        "lr_at": lambda step: 0.1 * (step + 1),
        "log_every": 4,
    }
    return Loop(**{**values, **changes})


def test_steps_history_rates_and_checkpoints():
    rates, saved = [], []

    def step_fn(images, boxes, classes, lr):
        rates.append(round(float(lr), 3))
        return {"loss": 10.0 - len(rates)}

    stats = run_loop(_loop(step_fn, on_checkpoint=saved.append, checkpoint_every=3), TrainState(), QUIET)
    assert rates == [round(0.1 * i, 3) for i in range(1, 11)]
    assert stats.steps_done == 10 and stats.stopped_by == "steps"
    # Windows of 4 steps, the last one shorter; the mean loss of each window.
    assert stats.history == [(4, 7.5), (8, 3.5), (10, 0.5)]
    assert stats.last_loss == 0.5
    assert saved == [3, 6, 9]


def test_resumes_from_the_state_step():
    state = TrainState()
    state.step.assign(7)
    seen = []
    stats = run_loop(_loop(lambda *a: {"loss": 1.0}, on_step=lambda s, losses: seen.append(s)), state, QUIET)
    assert seen == [8, 9, 10] and stats.steps_done == 3 and int(state.step.numpy()) == 10


def test_non_finite_loss_stops_with_the_step_and_does_not_advance():
    losses = iter([1.0, 2.0, float("nan")])
    state = TrainState()
    with pytest.raises(TrainingError, match="step 3: the loss is nan"):
        run_loop(_loop(lambda *a: {"loss": next(losses)}), state, QUIET)
    assert int(state.step.numpy()) == 2


def test_time_cap_and_paused_hooks():
    def slow_step(*args):
        time.sleep(0.05)
        return {"loss": 1.0}

    state = TrainState()
    stats = run_loop(_loop(slow_step, end_step=1000, max_seconds=0.2), state, QUIET)
    assert stats.stopped_by == "time" and 2 <= stats.steps_done < 10
    assert float(state.elapsed.numpy()) >= 0.2

    # Time spent in on_step is not training time: 3 steps with a 0.2 s hook stay well under 0.5 s.
    state = TrainState()
    run_loop(
        _loop(lambda *a: {"loss": 1.0}, end_step=3, on_step=lambda s, losses: time.sleep(0.2)), state, QUIET
    )
    assert float(state.elapsed.numpy()) < 0.3
