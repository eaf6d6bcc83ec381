"""finetune on tfmot-wrapped tiny models: QAT (quantize_model) and magnitude pruning."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_model_optimization as tfmot

from bench.models.registry import build_model
from bench.models.saving import quantize_scope
from bench.training import finetune, finetune_callable, keras_detector
from bench.training.tfmot_steps import prunable_layers
from common.errors import InputError


def _kernels(model):
    return {v.name: v.numpy().copy() for v in model.trainable_variables if "kernel" in v.name}


def test_finetune_a_quantize_model_wrapped_model(tiny_config, train_split):
    with quantize_scope():
        qat = tfmot.quantization.keras.quantize_model(build_model(tiny_config))
    before = _kernels(qat)
    seen = []
    tuned = finetune(
        qat,
        tiny_config,
        train_split,
        3,
        1e-3,
        batch_size=4,
        seed=1,
        on_step=lambda step, losses: seen.append(losses["loss"]),
    )
    assert tuned is qat
    assert len(seen) == 3 and all(np.isfinite(seen))
    after = _kernels(tuned)
    assert any(not np.array_equal(before[k], after[k]) for k in before), "no weight moved"
    # The fake-quant ranges were learnt: min/max variables left their initial values.
    ranges = [v.numpy() for v in tuned.variables if v.name.endswith("output_max:0")]
    assert ranges and any(float(np.max(r)) != 6.0 for r in ranges)
    detections = keras_detector(tuned, tiny_config, max_detections=5)(np.full((96, 96, 3), 127, np.uint8))
    assert len(detections.scores) <= 5


def test_finetune_a_pruned_model_reaches_the_target_sparsity(tiny_config, train_split):
    schedule = tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=1)
    with quantize_scope():
        pruned = tfmot.sparsity.keras.prune_low_magnitude(build_model(tiny_config), pruning_schedule=schedule)
    assert all(int(layer.pruning_step.numpy()) == -1 for layer in prunable_layers(pruned))
    finetune_callable(tiny_config, train_split, lr=1e-3, batch_size=4)(pruned, 2)
    layers = prunable_layers(pruned)
    assert layers and all(int(layer.pruning_step.numpy()) == 2 for layer in layers)
    kernels = [w.numpy() for layer in layers for w in layer.layer.get_prunable_weights()]
    assert len(kernels) > 10
    for kernel in kernels:
        assert np.mean(kernel == 0) == pytest.approx(0.5, abs=0.05)


def test_finetune_validates_its_arguments(tiny_config, train_split):
    model = build_model(tiny_config)
    with pytest.raises(InputError, match="steps"):
        finetune(model, tiny_config, train_split, 0, 1e-3)
    with pytest.raises(InputError, match="peak_lr"):
        finetune(model, tiny_config, train_split, 3, -1.0)
