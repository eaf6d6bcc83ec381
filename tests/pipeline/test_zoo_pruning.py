"""tflite_int8_pruned on a zoo variant with layers tfmot does not know (MobileNetV3's HardSwish)."""

from __future__ import annotations

import numpy as np

from bench.models.registry import build_model, get_config
from bench.pipeline.inputs import zoo_inputs
from converters import convert, get_recipe
from converters.tfmot_wrap import self_distillation_finetune


def test_a_variant_with_hard_swish_prunes_and_converts(tmp_path):
    config = get_config("tiny_ssdlite_mobilenet_v3_small")
    model = build_model(config)
    size = config.input_size
    rng = np.random.default_rng(0)
    batches = [rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32) for _ in range(2)]
    labels = [f"class{i}" for i in range(config.num_classes)]
    inputs = zoo_inputs(config, model, labels, batches, self_distillation_finetune(model, batches), "v3s")
    recipe = get_recipe("tflite_int8_pruned").with_overrides(finetune_steps=2, representative_samples=2)
    artifact = convert(inputs, recipe, tmp_path, tflite_metadata=False)
    stats = artifact.sidecar["recipe_stats"]
    # Every Conv2D / Dense kernel at 50%; depthwise kernels stay dense, so all kernels together are below.
    assert stats["pruned_weight_sparsity"] >= 0.499 and 0.2 < stats["kernel_sparsity"] < 0.5
    assert artifact.path.stat().st_size > 0
