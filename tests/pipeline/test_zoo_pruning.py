"""tflite_int8_pruned on a zoo variant with layers tfmot does not know (MobileNetV3's HardSwish)."""

from __future__ import annotations

import numpy as np
from tiny_zoo import pipeline_inputs, realistic_tiny, synthetic_split

from converters import convert, get_recipe


def test_a_variant_with_hard_swish_prunes_and_converts(tmp_path):
    split = synthetic_split(tmp_path / "data")
    rng = np.random.default_rng(0)
    config, model = realistic_tiny("tiny_ssdlite_mobilenet_v3_small", rng, num_classes=split.num_classes)
    inputs = pipeline_inputs(config, model, split)  # bench's fine-tuning loop on the training split
    recipe = get_recipe("tflite_int8_pruned").with_overrides(finetune_steps=2, representative_samples=2)
    artifact = convert(inputs, recipe, tmp_path, tflite_metadata=False)
    stats = artifact.sidecar.recipe_stats
    # Every Conv2D / Dense kernel at 50%; depthwise kernels stay dense, so all kernels together are below.
    assert stats["pruned_weight_sparsity"] >= 0.499 and 0.2 < stats["kernel_sparsity"] < 0.5
    assert artifact.path.stat().st_size > 0
