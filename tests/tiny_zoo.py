"""Tiny zoo variants through the real converters, inspected the way the timing worker inspects a file.

Shared by the zoo tests (tests/models) and the converter tests (tests/converters), so both run the one
conversion path (``bench.pipeline.inputs`` -> ``converters.convert``) and the one inspection path
(``device_runners.worker``: which ops a delegate left outside).
"""

from __future__ import annotations

# isort: off
import bench  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: on
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tf_keras as keras

from bench.data.coco import CocoDataset, load_coco
from bench.data.synthetic import SynthConfig, generate_synthetic
from bench.models.config import ModelConfig
from bench.models.registry import build_model, get_config
from bench.plans import ExportSection, FinetuneSection
from bench.training.finetune import recalibrate_batchnorm
from common.detection import PostprocessSettings

TINY = "tiny_ssdlite_mobilenet_v2"
POSTPROCESS_OP = "TFLite_Detection_PostProcess"
CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")
# A few small synthetic training images: labels, calibration and fine-tuning data of the tests.
DATA = SynthConfig(seed=5, train=8, val=2, size=96, max_objects=4)
EXPORT = ExportSection(calibration_samples=8)
FINETUNE = FinetuneSection(batch_size=4)
# Fewer calibration batches and fine-tuning steps than the registered recipes: tests stay fast.
FAST = {"representative_samples": 4}
FAST_FINETUNE = {"representative_samples": 4, "finetune_steps": 3}
FAST_PRUNING = {**FAST_FINETUNE, "finetune_steps": 4, "pruning_frequency": 1}  # the ramp ends at step 2


def fast_recipe(name: str):
    """The registered recipe with test-sized calibration and fine-tuning."""
    from converters.recipes import get_recipe

    recipe = get_recipe(name)
    if recipe.target_sparsity is not None:
        return recipe.with_overrides(**FAST_PRUNING)
    return recipe.with_overrides(**(FAST_FINETUNE if recipe.finetune_steps else FAST))


def synthetic_split(root: Path) -> CocoDataset:
    """The training split of :data:`DATA`, generated into ``root``."""
    return load_coco(generate_synthetic(root, DATA, workers=1) / "train")


def random_pixels(config: ModelConfig, rng: np.random.Generator, count: int = 1) -> np.ndarray:
    """``count`` uint8 [H, W, 3] images (a single one when count is 1)."""
    size = config.input_size
    pixels = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    return pixels[0] if count == 1 else pixels


def realistic_tiny(name: str, rng: np.random.Generator, num_classes: int | None = None):
    """A tiny variant with weights that give spread-out predictions (untrained heads predict ~constants).

    The head kernels are redrawn (output std about 0.5 for unit inputs), so scores and boxes differ
    clearly from anchor to anchor; BatchNormalization statistics then come from random images.

    Returns:
        (config, model).
    """
    config = get_config(name, num_classes=num_classes)
    keras.utils.set_random_seed(int(rng.integers(2**31)))  # the initializers: the same rng, the same model
    model = build_model(config)
    for layer in model.layers:
        # The last conv of each head (DepthwiseConv2D subclasses Conv2D, hence the exact type).
        if layer.name.startswith("head") and type(layer) is keras.layers.Conv2D:
            kernel = layer.kernel
            fan_in = int(np.prod(kernel.shape[:-1]))
            layer.kernel.assign(rng.normal(0.0, 0.5 / np.sqrt(fan_in), kernel.shape).astype(np.float32))
    recalibrate_batchnorm(model, config.preprocessing.apply(random_pixels(config, rng, 8)))
    return config, model


def pipeline_inputs(config: ModelConfig, model, split: CocoDataset, export: ExportSection = EXPORT):
    """The ConversionInputs the pipeline's export stage builds (training split, plan sections)."""
    from bench.pipeline.inputs import conversion_inputs

    return conversion_inputs(config, model, split, export, FINETUNE, config.name)


def tflite_file(
    config: ModelConfig,
    model,
    out_dir: Path,
    recipe: str = "tflite_fp32",
    post: PostprocessSettings | None = None,
    rng: np.random.Generator | None = None,
) -> Path:
    """Convert ``model`` with a post-training recipe through ``converters.convert``; the .tflite path.

    int8 recipes calibrate on random images (``rng``); ``post`` defaults to the config's.
    """
    from bench.pipeline.inputs import zoo_inputs
    from converters import convert

    if post is not None:
        config = config.with_postprocess(post)
    rng = rng or np.random.default_rng(0)
    batches = [config.preprocessing.apply(random_pixels(config, rng))[None] for _ in range(4)]
    labels = [f"class{i}" for i in range(config.num_classes)]
    inputs = zoo_inputs(config, model, labels, batches, config.name)
    return convert(inputs, fast_recipe(recipe), out_dir, tflite_metadata=False).path


@dataclass(frozen=True)
class Inspection:
    """What LiteRT does with a .tflite file, seen as the timing worker sees it."""

    ops: list[tuple[str, str]]  # (op name, dtype of the first input) in graph order
    outside: list[str]  # ops the delegate did not take, by name
    partitions: int  # delegate partitions (1 is best: no float hand-offs in between)

    def non_int8_convs(self) -> list[tuple[str, str]]:
        """Convolutions whose input is not int8."""
        return [op for op in self.ops if op[0] in CONV_OPS and op[1] != "int8"]


def inspect(path: Path, delegate: str = "xnnpack") -> Inspection:
    """List the ops and find those the delegate left out, with the worker's own functions."""
    from converters.tflite import op_tensor_types
    from device_runners.worker import build_interpreter, delegation

    ops = [(op["op"], op["inputs"][0] if op["inputs"] else "") for op in op_tensor_types(str(path))]
    interpreter, _, nodes = build_interpreter(str(path), delegate, 1)
    graph = delegation(interpreter, nodes)
    return Inspection(ops, graph["outside"], graph["delegate_partitions"])
