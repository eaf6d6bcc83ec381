"""Pruning: the schedule reaches its sparsity and the files keep it (TFLite dense and sparse, Core ML)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from tiny_zoo import fast_recipe

from converters.recipes import get_recipe
from converters.tfmot_wrap import kernel_sparsity, magnitude_pruned, pruning_schedule


def _sparsity_at(schedule, step: int) -> tuple[bool, float]:
    update, sparsity = schedule(step)
    return bool(update), float(sparsity)


def test_polynomial_schedule_ramps_to_the_target_on_a_mask_update_then_holds():
    recipe = get_recipe("tflite_int8_pruned").with_overrides(
        finetune_steps=400, pruning_frequency=10, pruning_ramp=0.7
    )
    schedule = pruning_schedule(recipe)
    assert _sparsity_at(schedule, 0) == (True, 0.0)
    update, middle = _sparsity_at(schedule, 140)
    assert update and 0.4 < middle < 0.5  # cubic: most of the sparsity comes early
    assert _sparsity_at(schedule, 280) == (True, pytest.approx(0.5))  # 0.7 x 400, a multiple of 10
    assert not _sparsity_at(schedule, 290)[0]  # the final mask is held: no more updates
    assert not _sparsity_at(schedule, 285)[0]  # and none between mask updates


def test_ramp_end_is_a_multiple_of_the_frequency():
    recipe = get_recipe("tflite_int8_pruned").with_overrides(finetune_steps=30, pruning_frequency=7)
    end = pruning_schedule(recipe).get_config()["config"]["end_step"]
    assert end % 7 == 0 and 0 < end <= 30  # round(0.5 x 30 / 7) = 2 updates after the first


def test_constant_schedule_prunes_to_the_target_from_the_first_step():
    recipe = get_recipe("tflite_int8_pruned").with_overrides(pruning_schedule="constant")
    assert _sparsity_at(pruning_schedule(recipe), 0) == (True, pytest.approx(0.5))


@pytest.mark.slow
def test_fine_tune_follows_the_schedule_and_ends_at_the_target(fixture_inputs):
    """The wrapped model called in training mode, as bench's loop calls it: sparsity grows as scheduled."""
    seen = []

    def loop(model, steps, lr=None):
        image = np.zeros((1, fixture_inputs.input_size, fixture_inputs.input_size, 3), np.float32)
        for _ in range(steps):
            model(image, training=True)
            seen.append(kernel_sparsity(model))
        return model

    recipe = fast_recipe("tflite_int8_pruned").with_overrides(finetune_steps=6, pruning_frequency=2)
    inputs = dataclasses.replace(fixture_inputs, finetune=loop)
    before = kernel_sparsity(fixture_inputs.keras_model)
    model, stats = magnitude_pruned(inputs, recipe)
    assert seen[0] < seen[2] < seen[-1]  # a mask update at steps 0, 2, 4 (end_step 4 = round(0.7*6/2)*2)
    assert stats["pruned_weight_sparsity"] == pytest.approx(0.5, abs=1e-3)
    assert kernel_sparsity(model) == pytest.approx(stats["kernel_sparsity"], abs=1e-4)
    assert kernel_sparsity(fixture_inputs.keras_model) == before  # the caller's model untouched


def _conv_weight_zeros(path) -> float:
    """Share of zeros over the int8 weights of the 1x1 / full CONV_2D ops of a .tflite file (densified)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    zeros = total = 0
    for op in interpreter._get_ops_details():
        if op["op_name"] != "CONV_2D":
            continue
        weights = interpreter.get_tensor(op["inputs"][1])
        zeros += int(np.count_nonzero(weights == 0))
        total += weights.size
    return zeros / total


@pytest.mark.slow
def test_pruned_int8_file_keeps_the_sparsity(converted):
    artifact = converted("tflite_int8_pruned")
    stats = artifact.sidecar.recipe_stats
    assert stats["pruned_weight_sparsity"] >= 0.499 and stats["weight_encoding"] == "dense"
    # int8 rounding adds zeros (weights within half a step of 0); it never removes them.
    assert _conv_weight_zeros(artifact.path) >= 0.499


@pytest.mark.slow
def test_sparse_encoding_round_trips(converted, fixture_inputs, tmp_path):
    """The sparse-encoded file loads in LiteRT (DENSIFY ops) and gives the dense file's outputs."""
    from converters import convert
    from converters.tflite import op_tensor_types, run_signature

    dense = converted("tflite_int8_pruned")
    recipe = fast_recipe("tflite_int8_pruned").with_overrides(sparse_encoding=True)
    sparse = convert(fixture_inputs, recipe, tmp_path, tflite_metadata=False)
    assert sparse.sidecar.recipe_stats["weight_encoding"] == "sparse"
    assert sparse.info.settings_hash != dense.info.settings_hash
    assert "DENSIFY" in {op["op"] for op in op_tensor_types(str(sparse.path))}
    assert "DENSIFY" not in {op["op"] for op in op_tensor_types(str(dense.path))}
    rng = np.random.default_rng(5)
    size = fixture_inputs.input_size
    for image in rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8):
        a, b = run_signature(dense.path, image), run_signature(sparse.path, image)
        for name in a:  # the same fine-tune (seeded), the same weights: the same outputs
            np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.slow
def test_coreml_pruned_stores_half_of_each_pruned_kernel(converted):
    """iOS16's sparse format: a one-bit mask per weight and the non-zero fp16 values, half of them."""
    from converters.checks import coreml_weight_ops

    artifact = converted("coreml_pruned")
    stats = artifact.sidecar.recipe_stats
    assert stats["pruned_weight_sparsity"] >= 0.499 and stats["weight_encoding"] == "sparse"
    sparse = [op for op in coreml_weight_ops(artifact.path) if op["op"] == "constexpr_sparse_to_dense"]
    assert len(sparse) >= 8  # the 1x1 and head kernels; depthwise kernels (not pruned) stay dense
    for op in sparse:
        size = int(np.prod(op["shape"]))
        assert op["dtypes"]["nonzero_data"] == "float16" and op["sizes"]["mask"] == size // 8
        assert op["sizes"]["nonzero_data"] <= size // 2 + 1  # at least 50% zeros


@pytest.mark.slow
def test_coreml_pruned_palettized4_is_sparse_and_4bit(converted):
    """iOS18's joint compression: a sparse mask over 4-bit palette indices of the non-zero weights."""
    import coremltools.optimize.coreml as cto

    from converters.checks import coreml_weight_ops
    from converters.coreml import _ct

    artifact = converted("coreml_pruned_palettized4")
    assert artifact.sidecar.recipe_stats["weight_encoding"] == "sparse"
    joint = [op for op in coreml_weight_ops(artifact.path) if op["op"] == "constexpr_lut_to_sparse"]
    assert len(joint) >= 8
    assert {(op["dtypes"]["indices_nonzero_data"], op["dtypes"]["lut"]) for op in joint} == {
        ("uint4", "float16")
    }
    pipeline = _ct().models.MLModel(str(artifact.path), skip_model_load=True)
    spec = pipeline.get_spec().pipeline.models[0]
    decoder = _ct().models.MLModel(spec, weights_dir=pipeline.weights_dir, skip_model_load=True)
    masks = [w for name, w in cto.get_weights_metadata(decoder).items() if "indices_mask" in name]
    assert len(masks) == len(joint) and min(float(w.sparsity) for w in masks) >= 0.499
