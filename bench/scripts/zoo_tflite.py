"""Convert zoo models to TFLite and inspect the result: the zoo's own check harness.

Not the converters (converters/ owns the real recipes and their sidecars); this is the minimum the zoo
needs to prove its models export: float and full-int8 conversion of the export signature, running it
on LiteRT by output name, and finding which ops are not int8 or not taken by XNNPack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tf_keras as keras
from ai_edge_litert.interpreter import Interpreter

from bench.models.config import ModelConfig
from bench.models.export import DetectionExport
from bench.models.quantization import unwrap

POSTPROCESS_OP = "TFLite_Detection_PostProcess"
CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def random_images(config: ModelConfig, count: int, seed: int = 0) -> Callable[[], Iterator[list[np.ndarray]]]:
    """A representative-dataset generator of ``count`` random [1, H, W, 3] images in [-1, 1]."""

    def generate():
        rng = np.random.default_rng(seed)
        for _ in range(count):
            yield [rng.uniform(-1.0, 1.0, (1, config.input_size, config.input_size, 3)).astype(np.float32)]

    return generate


def recalibrate_batchnorm(model: keras.Model, config: ModelConfig, count: int = 8, seed: int = 0) -> None:
    """Set every BatchNormalization's moving statistics to those of ``count`` random images.

    An untrained model has moving mean 0 and variance 1, so in inference its activations shrink
    towards zero layer after layer and int8 calibration sees degenerate ranges (e.g. an ADD whose
    input and output scales differ by more than XNNPack accepts). One training-mode pass with
    momentum 0 gives every layer the statistics of its actual input, as a trained model has.
    """
    layers = [unwrap(layer) for layer in model.layers]
    norms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    images = np.concatenate([batch[0] for batch in random_images(config, count, seed)()])
    model(images, training=True)
    for layer, momentum in zip(norms, momenta, strict=True):
        layer.momentum = momentum


def convert(
    model: keras.Model,
    config: ModelConfig,
    *,
    int8: bool = False,
    input_type: tf.DType = tf.uint8,
    calibration_images: int = 8,
    **export_options,
) -> bytes:
    """Convert the export signature of ``model`` to TFLite.

    Args:
        model: Float or QAT Keras model of ``config``.
        config: Its variant config.
        int8: Full-integer quantization (int8 builtins only, TFLite_Detection_PostProcess in float after
            a dequantize), calibrated on random images.
        input_type: Input type of the int8 model: ``tf.uint8`` (what apps feed; LiteRT's builtin
            kernel then runs the uint8 -> int8 QUANTIZE, XNNPack does not take it) or ``tf.int8``.
        calibration_images: How many random images calibrate the int8 ranges.
        **export_options: ``max_detections``, ``score_threshold``, ``iou_threshold`` of the export.

    Returns:
        The .tflite flatbuffer.
    """
    export = DetectionExport(model, config, **export_options)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([export.concrete_function()], export)
    converter.allow_custom_ops = True
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = random_images(config, calibration_images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = input_type
    return converter.convert()


def run(flatbuffer: bytes, image: np.ndarray, num_threads: int = 1) -> dict[str, np.ndarray]:
    """Run the serving signature on one float image in [-1, 1], quantizing it for uint8 inputs.

    Returns:
        The signature outputs by name.
    """
    interpreter = Interpreter(model_content=flatbuffer, num_threads=num_threads)
    runner = interpreter.get_signature_runner()
    ((name, detail),) = runner.get_input_details().items()
    if detail["dtype"] != np.float32:
        scale, zero_point = detail["quantization"]
        info = np.iinfo(detail["dtype"])
        image = np.clip(np.round(image / scale + zero_point), info.min, info.max).astype(detail["dtype"])
    return runner(**{name: image})


@dataclass(frozen=True)
class OpReport:
    """What LiteRT does with a flatbuffer."""

    ops: list[tuple[str, str]]  # (op name, dtype of the first operand) in graph order
    undelegated: list[str]  # ops XNNPack did not take, by name
    delegate_partitions: int  # XNNPack partitions (1 is best: no float hand-offs in between)

    def non_int8_convs(self) -> list[tuple[str, str]]:
        """Convolutions whose input is not int8."""
        return [op for op in self.ops if op[0] in CONV_OPS and op[1] != "int8"]


def inspect(flatbuffer: bytes, num_threads: int = 1) -> OpReport:
    """List ops and find those XNNPack (applied by default by LiteRT's interpreter) left out.

    A delegate node's inputs and outputs bound the original nodes it replaced: walk back from its
    outputs to its inputs, every node on the way is delegated.
    """
    interpreter = Interpreter(model_content=flatbuffer, num_threads=num_threads)
    original = interpreter._get_ops_details()
    interpreter.allocate_tensors()
    delegates = interpreter._get_ops_details()[len(original) :]
    producer = {int(t): op["index"] for op in original for t in op["outputs"]}
    covered: set[int] = set()
    for delegate in delegates:
        boundary = {int(t) for t in delegate["inputs"]}
        stack = [int(t) for t in delegate["outputs"]]
        while stack:
            tensor = stack.pop()
            if tensor in boundary or tensor not in producer or producer[tensor] in covered:
                continue
            covered.add(producer[tensor])
            stack.extend(int(t) for t in original[producer[tensor]]["inputs"] if t >= 0)
    ops = [(op["op_name"], _dtype(op)) for op in original]
    undelegated = [op["op_name"] for op in original if op["index"] not in covered]
    return OpReport(ops, undelegated, len(delegates))


def _dtype(op: dict) -> str:
    types = op.get("operand_types") or []
    return np.dtype(types[0]).name if types else ""
