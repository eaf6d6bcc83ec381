"""Checkpoints on a small Keras model: save and restore, fall back past a damaged one, atomic weights."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from bench.training import checkpoints as ckpt
from common.errors import EdgebenchWarning


def _objects(workdir, keep=3):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)
    state = ckpt.TrainState()
    return model, optimizer, state, ckpt.make_manager(workdir, model, optimizer, state, keep)


def _train_one_step(model, optimizer):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(np.ones((1, 3), np.float32)) ** 2)
    optimizer.apply_gradients(
        zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables, strict=True)
    )


def test_save_then_restore_into_fresh_objects(tmp_path):
    model, optimizer, state, manager = _objects(tmp_path)
    _train_one_step(model, optimizer)
    state.step.assign(5)
    state.elapsed.assign(12.5)
    manager.save(checkpoint_number=5)

    fresh, fresh_optimizer, fresh_state, fresh_manager = _objects(tmp_path)
    assert ckpt.restore_latest(fresh_manager) == str(tmp_path / "ckpt-5")
    assert int(fresh_state.step.numpy()) == 5 and float(fresh_state.elapsed.numpy()) == 12.5
    np.testing.assert_array_equal(fresh.get_weights()[0], model.get_weights()[0])
    # Adam's moments came back too, not only the weights.
    assert int(fresh_optimizer.iterations.numpy()) == 1
    assert any(np.any(v.numpy() != 0) for v in fresh_optimizer.variables[1:])


def test_nothing_to_restore_in_a_new_folder(tmp_path):
    *_, manager = _objects(tmp_path)
    assert ckpt.restore_latest(manager) is None


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    model, optimizer, state, manager = _objects(tmp_path)
    for step in (1, 2):
        state.step.assign(step)
        manager.save(checkpoint_number=step)
    (tmp_path / "ckpt-2.index").write_bytes(b"not a checkpoint index")
    *_, fresh_state, fresh_manager = _objects(tmp_path)
    with pytest.warns(EdgebenchWarning, match="ckpt-2: cannot restore"):
        assert ckpt.restore_latest(fresh_manager) == str(tmp_path / "ckpt-1")
    assert int(fresh_state.step.numpy()) == 1


def test_state_file_without_timestamps_still_names_the_latest(tmp_path):
    model, optimizer, state, manager = _objects(tmp_path)
    state.step.assign(4)
    manager.save(checkpoint_number=4)
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-4"\nall_model_checkpoint_paths: "ckpt-4"\n'
    )
    *_, fresh_state, fresh_manager = _objects(tmp_path)
    assert ckpt.restore_latest(fresh_manager) == str(tmp_path / "ckpt-4")
    assert int(fresh_state.step.numpy()) == 4


def test_weights_are_written_atomically(tmp_path):
    model, *_ = _objects(tmp_path)
    path = ckpt.save_weights_atomic(model, tmp_path / ckpt.WEIGHTS_FILE)
    assert path.is_file() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    ckpt.write_json_atomic(tmp_path / "x.json", {"a": 1})
    assert (tmp_path / "x.json").read_text().startswith("{")
