"""What tfmot's ``UpdatePruningStep`` callback does, for a custom loop (tfmot 0.8.1).

``PruneLowMagnitude`` increments its own ``pruning_step`` whenever it is called with ``training=True``
and asserts that the step is at least 1; the callback's part is to start the counters at 0 before the
first batch (they are created at -1) and to multiply the weights by their masks at the end, since the
last gradient step may have moved masked weights.
"""

from __future__ import annotations

import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper


def prunable_layers(model: keras.Model) -> list[pruning_wrapper.PruneLowMagnitude]:
    """Every pruning wrapper in ``model`` (nested models included)."""
    return [layer for layer in model.submodules if isinstance(layer, pruning_wrapper.PruneLowMagnitude)]


def start_pruning(model: keras.Model) -> int:
    """``UpdatePruningStep.on_train_begin``: counters at -1 (never trained) start at 0.

    Returns:
        The number of pruning wrappers found.
    """
    layers = prunable_layers(model)
    for layer in layers:
        if int(layer.pruning_step.numpy()) == -1:
            layer.pruning_step.assign(0)
    return len(layers)


def finish_pruning(model: keras.Model) -> None:
    """``UpdatePruningStep.on_epoch_end``: weights *= mask, so the pruned weights are exactly zero."""
    for layer in prunable_layers(model):
        layer.pruning_obj.weight_mask_op()
