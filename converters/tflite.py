"""TFLite recipes: the export signature (ending in ``TFLite_Detection_PostProcess``) through TFLiteConverter.

Full-int8 conversion keeps the custom op in float: the converter dequantizes its inputs, so the model
takes uint8 pixels and returns float boxes / classes / scores / num_detections (DESIGN.md). The four outputs
come out in an order of the converter's choosing: read them through the signature, by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.lite.python.convert_phase import ConverterError

from common.detection import Preprocessing
from common.native_stderr import filtered_stderr, tensorflow_verbose
from converters.inputs import ConversionInputs
from converters.recipes import Precision, Recipe

OUTPUT_NAMES = ("boxes", "classes", "scores", "num_detections")


class ConversionError(Exception):
    """A converter (TFLite or Core ML) refused the model; the message says which recipe and why."""


def _concrete_function(inputs: ConversionInputs, model: Any) -> Any:
    """The export function for ``model`` as a concrete function with a fixed [1, H, W, 3] input."""
    fn = inputs.export_fn_builder(model, inputs.postprocess)
    if getattr(fn, "input_signature", None):
        return fn.get_concrete_function()
    size = inputs.input_size
    return fn.get_concrete_function(tf.TensorSpec([1, size, size, 3], tf.float32))


def _variables_of(model: Any) -> tf.Module:
    """A module tracking only ``model``'s variables, for the converter to save with the function.

    Given the Keras model itself, TensorFlow's SavedModel writer traces every layer's call (measured
    6x slower on ssdlite_mobilenet_v2); the function already captures the variables it reads.
    """
    holder = tf.Module(name="conversion_variables")
    holder.model_variables = list(model.variables)
    return holder


def convert_tflite(inputs: ConversionInputs, recipe: Recipe, model: Any = None) -> bytes:
    """Convert a detector's export signature with the recipe's precision.

    Args:
        inputs: The detector.
        recipe: A TFLite recipe.
        model: The Keras model to export (a QAT or pruned copy); default the float model.

    Returns:
        The .tflite flatbuffer.

    Raises:
        ConversionError: the TFLite converter failed or the outputs are not the four named ones.
    """
    model = inputs.keras_model if model is None else model
    with inputs.tracing_for(recipe):
        concrete = _concrete_function(inputs, model)
    missing = set(OUTPUT_NAMES) - set(concrete.structured_outputs)
    if missing:
        raise ConversionError(f"{recipe.name}: the export function lacks outputs {sorted(missing)}")
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], _variables_of(model))
    converter.allow_custom_ops = True  # TFLite_Detection_PostProcess is a custom op built into LiteRT
    if recipe.precision is Precision.FP16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif recipe.precision is Precision.DYNAMIC_INT8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif recipe.precision is Precision.INT8:
        batches = inputs.calibration_batches(recipe.representative_samples)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([batch] for batch in batches)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.float32
        if recipe.sparse_encoding:
            # Pruned kernels stored in TFLite's sparse tensor format (block / CSR-like indices).
            converter.optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    try:
        # The converter prints from C++ on every call (common.native_stderr.NOISE); real errors still show.
        with filtered_stderr(enabled=not tensorflow_verbose()):
            return converter.convert()
    except (ConverterError, tf.errors.OpError, ValueError, RuntimeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConversionError(f"{recipe.name}: TFLite conversion failed: {first}") from error


def _interpreter(model: bytes | str) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, bytes | bytearray):
        return Interpreter(model_content=bytes(model))
    return Interpreter(model_path=str(model))


def _tensor(detail: dict[str, Any]) -> dict[str, Any]:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    described = {
        "shape": [int(d) for d in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
    }
    if scale:
        described["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
    return described


def tflite_signature(model: bytes | str) -> dict[str, Any]:
    """Inputs and outputs of the default signature: ``[{name, shape, dtype, quantization?}]`` each."""
    interpreter = _interpreter(model)
    runner = interpreter.get_signature_runner()
    return {
        "inputs": [{"name": name, **_tensor(d)} for name, d in sorted(runner.get_input_details().items())],
        "outputs": [{"name": name, **_tensor(d)} for name, d in sorted(runner.get_output_details().items())],
    }


def op_tensor_types(model: bytes | str) -> list[dict[str, Any]]:
    """Each operator with the dtypes of its input and output tensors (what int8 structure tests check).

    Returns:
        ``[{"op": "CONV_2D", "inputs": ["int8", "int8", "int32"], "outputs": ["int8"]}, ...]``
    """
    interpreter = _interpreter(model)
    dtypes = {d["index"]: np.dtype(d["dtype"]).name for d in interpreter.get_tensor_details()}
    ops = []
    for op in interpreter._get_ops_details():  # the only LiteRT API listing operators and their tensors
        ops.append(
            {
                "op": op["op_name"],
                "inputs": [dtypes.get(i, "none") for i in op["inputs"] if i >= 0],
                "outputs": [dtypes.get(i, "none") for i in op["outputs"]],
            }
        )
    return ops


def run_signature(
    model: bytes | str, image: np.ndarray, preprocessing: Preprocessing | None = None
) -> dict[str, np.ndarray]:
    """Run a TFLite detector's signature on one image: every output by name, as the model returns it.

    Args:
        model: The .tflite file or its bytes.
        image: ``[H, W, 3]`` uint8 pixels. uint8 models take them as they are; float models get
            ``preprocessing`` applied (the model's own, as its sidecar records it).
        preprocessing: Pixels -> float model input; default the zoo's ``x * 2/255 - 1``.

    Returns:
        ``boxes`` [1, N, 4], ``classes`` [1, N], ``scores`` [1, N], ``num_detections`` [1] (N padded).
    """
    interpreter = _interpreter(model)
    runner = interpreter.get_signature_runner()
    ((name, detail),) = runner.get_input_details().items()
    batch = np.asarray(image)[None]
    if np.dtype(detail["dtype"]) == np.float32:
        batch = (preprocessing or Preprocessing()).apply(batch)
    return runner(**{name: batch.astype(detail["dtype"])})


def run_detector(
    model: bytes | str, image: np.ndarray, preprocessing: Preprocessing | None = None
) -> dict[str, np.ndarray]:
    """Run a TFLite detector on one image: the kept boxes (the first entry of each when K > 1).

    Args:
        model: The .tflite file or its bytes.
        image: ``[H, W, 3]`` uint8 pixels (see :func:`run_signature`).
        preprocessing: Pixels -> float model input; default the zoo's ``x * 2/255 - 1``.

    Returns:
        ``boxes`` [N, 4], ``classes`` [N], ``scores`` [N] for the first ``num_detections`` entries.
    """
    out = run_signature(model, image, preprocessing)
    count = int(out["num_detections"][0])
    return {key: out[key][0][:count] for key in ("boxes", "classes", "scores")}
