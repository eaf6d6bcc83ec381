"""tfmot wrapping for the qat and pruned recipes; fine-tuning itself runs in bench's training loop.

Both start from a copy of the float model and leave the caller's model untouched. The caller's
``finetune(model, steps)`` only has to call the model with ``training=True``: tfmot 0.8.1's pruning
wrapper counts its own steps once the step variable is started (what ``UpdatePruningStep.on_train_begin``
does, done here), so no callback has to be threaded through bench's loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import quantize_layer, quantize_wrapper
from tensorflow_model_optimization.python.core.quantization.keras.quantizers import MovingAverageQuantizer
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

from common.errors import InputError
from converters.inputs import ConversionInputs
from converters.recipes import PruningSchedule, Recipe


def float_copy(inputs: ConversionInputs) -> Any:
    """A fresh copy of the float model: tfmot's wrappers share the layers (and so the weights) they wrap,
    and fine-tuning must not change the caller's model."""
    with inputs.scope():
        clone = keras.models.clone_model(inputs.keras_model)
    clone.set_weights(inputs.keras_model.get_weights())
    return clone


def _finetune(inputs: ConversionInputs, model: Any, recipe: Recipe) -> Any:
    if inputs.finetune is None:
        raise InputError(
            f"recipe {recipe.name!r}: needs ConversionInputs.finetune (a training loop); got None"
        )
    if recipe.finetune_lr is None:
        tuned = inputs.finetune(model, recipe.finetune_steps)
    else:
        tuned = inputs.finetune(model, recipe.finetune_steps, lr=recipe.finetune_lr)
    return model if tuned is None else tuned


def quantization_aware(inputs: ConversionInputs, recipe: Recipe) -> Any:
    """tfmot quantize_model on the float model, activation ranges set from the calibration batches, then
    ``recipe.finetune_steps`` of fine-tuning.

    Returns:
        The fine-tuned QAT model (fake-quant ranges learnt); export it like the float model.
    """
    copy = float_copy(inputs)
    # Keras names the input's QuantizeLayer from a process-wide counter ("quantize_layer_3") and the
    # name lands in the .tflite: reset it, so the same settings give the same bytes in any process
    # (the export CLI and the pipeline, test_conv_one_path). Other layers keep their own names.
    keras.backend.reset_uids()
    with inputs.scope():
        qat = tfmot.quantization.keras.quantize_model(copy)
    calibrate_activation_ranges(qat, inputs.calibration_batches(recipe.representative_samples))
    tuned = _finetune(inputs, qat, recipe)
    widen_bias_limited_ranges(tuned)
    return tuned


# tfmot 0.8.1's MovingAverageQuantizer starts every activation range at [-6, 6] and moves it 0.1% of the
# way to each training batch's min / max (its ema_decay, fixed in its __call__). After the 30 fine-tuning
# steps of the quick plan a range has moved 3%: tensors wider than +-6 (box encodings, class logits, linear
# bottlenecks) are clipped and narrow ones get a coarse grid. So the ranges are first set from calibration
# batches, as post-training quantization sets them, and fine-tuning only refines them.
_EMA_DECAY = 0.999
_CALIBRATION_BATCH = 16  # images per calibration forward pass


def moving_average_ranges(model: Any) -> list[dict[str, Any]]:
    """The ``{"min_var", "max_var"}`` pairs of every moving-average (activation) quantizer in a QAT model:
    input, activation and output quantizers; weight quantizers are set from the weights at every step."""
    found: list[tuple[Any, Any]] = []
    for layer in model.submodules:
        if isinstance(layer, quantize_layer.QuantizeLayer):
            found.append((layer.quantizer, getattr(layer, "quantizer_vars", None)))
        elif isinstance(layer, quantize_wrapper.QuantizeWrapper):
            # Private attributes of tfmot 0.8.1's wrapper (pinned); a test checks they are found.
            for quantizer in getattr(layer, "_output_quantizers", None) or []:
                found.append((quantizer, getattr(layer, "_output_quantizer_vars", None)))
            for activation in getattr(layer, "_quantize_activations", None) or []:
                found.append((activation.quantizer, getattr(activation, "_pre_activation_vars", None)))
                found.append((activation.quantizer, getattr(activation, "_post_activation_vars", None)))
    return [pair for quantizer, pair in found if isinstance(quantizer, MovingAverageQuantizer) and pair]


def calibrate_activation_ranges(model: Any, batches: list[np.ndarray], passes: int = 2) -> int:
    """Set every activation range of a fresh QAT model to the min / max the calibration batches reach.

    tfmot exposes no way to read a batch's range, so each forward pass (training mode, where the ranges
    update) is undone: one EMA step ``new = old + (1 - decay) * (seen - old)`` gives back ``seen``. Each
    pass runs with the ranges of the one before, so the second sees the first's clipping removed.
    BatchNormalization layers are frozen meanwhile (a frozen Keras BN normalises with its moving
    statistics even in training mode), so the ranges are those of the exported model's activations and
    the statistics stay as they were.

    Args:
        model: A model from ``tfmot.quantization.keras.quantize_model``.
        batches: Preprocessed float32 ``[1, H, W, 3]`` (or larger) batches.
        passes: Calibration passes over ``batches``.

    Returns:
        The number of ranges set.
    """
    import tensorflow as tf

    ranges = moving_average_ranges(model)
    images = np.concatenate([np.asarray(b, np.float32) for b in batches])
    chunks = [images[i : i + _CALIBRATION_BATCH] for i in range(0, len(images), _CALIBRATION_BATCH)]
    norms = [layer for layer in model.submodules if isinstance(layer, keras.layers.BatchNormalization)]
    trainable = [layer.trainable for layer in norms]
    for layer in norms:
        layer.trainable = False
    try:
        for _ in range(passes):
            low = [np.inf] * len(ranges)
            high = [-np.inf] * len(ranges)
            for chunk in chunks:
                before = [(pair["min_var"].numpy(), pair["max_var"].numpy()) for pair in ranges]
                model(tf.constant(chunk), training=True)
                for i, (pair, (old_min, old_max)) in enumerate(zip(ranges, before, strict=True)):
                    low[i] = min(low[i], _seen(old_min, pair["min_var"].numpy()))
                    high[i] = max(high[i], _seen(old_max, pair["max_var"].numpy()))
                    pair["min_var"].assign(old_min)
                    pair["max_var"].assign(old_max)
            for pair, lo, hi in zip(ranges, low, high, strict=True):
                pair["min_var"].assign(np.float32(lo))
                pair["max_var"].assign(np.float32(hi))
    finally:
        for layer, was in zip(norms, trainable, strict=True):
            layer.trainable = was
    return len(ranges)


# The converter stores a layer's bias as int32 in units of (input scale x weight scale of its channel). A
# channel whose weights all decayed to ~1e-18 (an anchor no object ever matches: its class logit is its
# bias alone) gets a weight scale to match, and its bias overflows int32: the quick plan's MobileNetV2 then
# scored 0.48 instead of 0.01 on four of its largest anchors, and QAT kept 69% of the fp32 mAP.
# Post-training int8 widens such weight scales until the bias fits; QAT hands the converter its fake-quant
# ranges as they are, so they are widened here, assuming an input scale of at least 1e-4 (the activation
# scales of the quick plan's int8 files are 6.5e-4 .. 0.19). The channel's weights then quantize to 0 and
# it outputs its bias.
_MIN_INPUT_SCALE = 1e-4
_INT32_MAX = 2**31 - 1
_INT8_STEPS = 127  # symmetric narrow-range weights: scale = range / 127


def widen_bias_limited_ranges(model: Any) -> int:
    """Widen the per-channel weight ranges of a QAT model whose int32 bias would overflow.

    Returns:
        The number of channels widened.
    """
    widened = 0
    for layer in model.submodules:
        if (
            not isinstance(layer, quantize_wrapper.QuantizeWrapper)
            or getattr(layer.layer, "bias", None) is None
        ):
            continue
        needed = np.abs(layer.layer.bias.numpy()) * _INT8_STEPS / (_INT32_MAX * _MIN_INPUT_SCALE)
        # Private attribute of tfmot 0.8.1's wrapper: (weight, quantizer, its range variables).
        for weight, _quantizer, ranges in getattr(layer, "_weight_vars", None) or []:
            low, high = ranges["min_var"].numpy(), ranges["max_var"].numpy()
            if "kernel" not in weight.name or low.shape != needed.shape:
                continue
            narrow = np.maximum(-low, high) < needed
            if narrow.any():
                ranges["min_var"].assign(np.where(narrow, -needed, low).astype(np.float32))
                ranges["max_var"].assign(np.where(narrow, needed, high).astype(np.float32))
                widened += int(narrow.sum())
    return widened


def _seen(old: np.ndarray, new: np.ndarray) -> float:
    """The batch value one EMA step moved ``old`` to ``new`` towards."""
    return float(old + (new - old) / np.float32(1.0 - _EMA_DECAY))


# The layers tfmot 0.8.1's registry prunes (their kernel; DepthwiseConv2D is registered with no prunable
# weight). Conv2DTranspose and SeparableConv2D, also registered, do not occur in the zoo.
PRUNED_LAYER_TYPES = (keras.layers.Conv2D, keras.layers.Dense)


def _prunable(model: Any) -> list[Any]:
    return [layer for layer in model.submodules if isinstance(layer, pruning_wrapper.PruneLowMagnitude)]


def pruning_schedule(recipe: Recipe) -> Any:
    """The tfmot schedule of a pruned recipe over its ``finetune_steps``.

    ``polynomial``: sparsity grows from 0 to ``target_sparsity`` (cubic, tfmot's PolynomialDecay with power
    3) with a mask update every ``pruning_frequency`` steps, reaching the target at ``end_step``, about
    ``pruning_ramp`` of the steps and a multiple of the frequency; the remaining steps train at the final
    mask. ``constant``: the target from step 0, masks updated every ``pruning_frequency`` steps.
    """
    if recipe.target_sparsity is None:
        raise InputError(f"recipe {recipe.name!r}: not a pruned recipe (no target_sparsity)")
    frequency = recipe.pruning_frequency
    if recipe.pruning_schedule is PruningSchedule.CONSTANT:
        return tfmot.sparsity.keras.ConstantSparsity(
            recipe.target_sparsity, begin_step=0, frequency=frequency
        )
    updates = max(1, round(recipe.pruning_ramp * recipe.finetune_steps / frequency))
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=recipe.target_sparsity,
        begin_step=0,
        end_step=updates * frequency,
        power=3,
        frequency=frequency,
    )


def _final_step(schedule: Any) -> int:
    """A step at which ``schedule`` updates the masks to its final sparsity."""
    end = int(schedule.get_config()["config"].get("end_step", -1))
    return end if end > 0 else 0


def magnitude_pruned(inputs: ConversionInputs, recipe: Recipe) -> tuple[Any, dict[str, float]]:
    """:func:`prune_and_finetune`, run once per ``inputs`` and pruning settings: the pruned TFLite and
    Core ML recipes of one model share the fine-tune (it is seeded, so a re-run would give the same
    weights)."""
    key = recipe.shared_finetune()
    if key not in inputs.finetuned:
        inputs.finetuned[key] = prune_and_finetune(inputs, recipe)
    model, stats = inputs.finetuned[key]
    return model, dict(stats)


def prune_and_finetune(inputs: ConversionInputs, recipe: Recipe) -> tuple[Any, dict[str, float]]:
    """Prune every prunable weight to ``recipe.target_sparsity`` by magnitude while fine-tuning.

    Starts from the trained float model (a copy), follows :func:`pruning_schedule` for
    ``recipe.finetune_steps`` steps at the recipe's learning rate, and ends with a last mask update at the
    final sparsity (whatever step the counters reached), so every pruned kernel has exactly the target's
    share of zeros. tfmot 0.8.1 prunes conv and dense kernels but not depthwise kernels (few weights,
    each one matters), so the sparsity over all kernels is below the target; both figures are returned.

    Returns:
        The stripped float model with sparse weights, and ``{"pruned_weight_sparsity": zeros over the
        weights tfmot pruned, "kernel_sparsity": zeros over every conv / dense kernel}``.
    """
    schedule = pruning_schedule(recipe)

    def wrap_prunable(layer: Any) -> Any:
        # Whole-model prune_low_magnitude refuses layers tfmot does not know (the zoo's weightless
        # HardSwish / HardSigmoid). Wrapping layer by layer prunes what it knows and reuses the rest;
        # the layers (and their weights) are those of a private copy, like tfmot's own wrapping.
        if isinstance(layer, PRUNED_LAYER_TYPES):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    with inputs.scope():
        wrapped = keras.models.clone_model(float_copy(inputs), clone_function=wrap_prunable)
    for layer in _prunable(wrapped):
        layer.pruning_step.assign(0)  # as UpdatePruningStep.on_train_begin: masks update from step 0
    wrapped = _finetune(inputs, wrapped, recipe)
    pruned = []
    for layer in _prunable(wrapped):
        # A last mask update at the schedule's final sparsity, then weights *= mask: the final gradient
        # step may have moved masked weights (UpdatePruningStep.on_epoch_end does the second half).
        layer.pruning_step.assign(_final_step(schedule))
        layer.pruning_obj.conditional_mask_update()
        layer.pruning_obj.weight_mask_op()
        pruned += [weight.numpy() for weight, _mask, _threshold in layer.pruning_vars]
    with inputs.scope():
        stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    total = sum(w.size for w in pruned)
    zeros = sum(int(np.count_nonzero(w == 0)) for w in pruned)
    return stripped, {
        "pruned_weight_sparsity": round(zeros / total, 4) if total else 0.0,
        "kernel_sparsity": round(kernel_sparsity(stripped), 4),
    }


def kernel_sparsity(model: Any, layer_names: list[str] | None = None) -> float:
    """Fraction of exactly-zero entries over conv / dense kernels (of the named layers, default all).

    Args:
        model: A Keras model.
        layer_names: Layers whose kernels count.

    Returns:
        Zeros / total over those kernels (0.0 when there are none).
    """
    zeros = total = 0
    for layer in model.submodules:
        if layer_names is not None and getattr(layer, "name", None) not in layer_names:
            continue
        for attribute in ("kernel", "depthwise_kernel"):
            weight = getattr(layer, attribute, None)
            if weight is None or not hasattr(weight, "numpy"):
                continue
            values = weight.numpy()
            zeros += int(np.count_nonzero(values == 0))
            total += values.size
    return zeros / total if total else 0.0
