"""Run an exported TFLite detector (ending in ``TFLite_Detection_PostProcess``) through LiteRT.

No TensorFlow here: LiteRT alone loads and runs the model, so evaluating a ``.tflite`` file works where
only ``ai-edge-litert`` is installed, and starts fast.

Finding the four outputs (boxes, classes, scores, num_detections), most reliable first:
1. a signature whose outputs carry those names (the zoo's export does this; full-int8 conversion reorders
   the model's outputs, so names are the only safe key, DESIGN.md);
2. a signature with outputs ``output_0`` ... ``output_3``: the exported function returned a tuple, taken
   in the op's order;
3. no signature: the model's output list, in the op's order (classic TF1 exports).
The outputs' shapes are checked on every call, so a wrong guess fails with a clear line, not bad numbers.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.evaluation.detectors import Detections, from_postprocess_outputs, resize_image, to_model_range
from common.errors import InputError
from common.native_stderr import filtered_stderr, tensorflow_verbose

# TFLite_Detection_PostProcess' outputs, in the op's own order.
POSTPROCESS_OUTPUTS = ("boxes", "classes", "scores", "num_detections")
_TUPLE_OUTPUTS = tuple(f"output_{i}" for i in range(4))
POSTPROCESS_OP = b"TFLite_Detection_PostProcess"


def postprocess_options(data: bytes) -> dict:
    """The attributes of the model's TFLite_Detection_PostProcess op (its flexbuffer custom options).

    Returns:
        e.g. ``{"max_detections": 100, "max_classes_per_detection": 1, ...}``; empty when the model has
        no such op.
    """
    from ai_edge_litert import schema_py_generated as schema
    from flatbuffers import flexbuffers

    model = schema.Model.GetRootAsModel(data, 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            if codes[op.OpcodeIndex()].CustomCode() == POSTPROCESS_OP and op.CustomOptionsLength():
                return dict(flexbuffers.Loads(op.CustomOptionsAsNumpy().tobytes()))
    return {}


def quantize(values: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """Real values -> an integer input tensor, with the tensor's own scale and zero point."""
    info = np.iinfo(dtype)
    return np.clip(np.floor(values / scale + zero_point + 0.5), info.min, info.max).astype(dtype)


class TFLiteDetector:
    """A ``.tflite`` detector as a :class:`~bench.evaluation.detectors.Detector` callable.

    Attributes:
        path: The model file.
        input_shape: The input tensor's shape, [1, H, W, 3].
        input_dtype: float32 (values in [-1, 1]) or uint8 / int8 (quantized, see ``quantize``).
        output_source: How the outputs were found: ``names``, ``tuple signature`` or ``output order``.
        classes_per_box: The op's ``max_classes_per_detection`` (entries per kept box), 1 without the op.
    """

    def __init__(self, path: str | Path, num_threads: int | None = None) -> None:
        """Load the model.

        Args:
            path: The ``.tflite`` file.
            num_threads: Interpreter threads; defaults to every core.

        Raises:
            InputError: The file is missing or is not a loadable TFLite model.
        """
        from ai_edge_litert.interpreter import Interpreter  # lazy: importing LiteRT costs start-up time

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: model file not found")
        try:
            # LiteRT prints an INFO line when its default XNNPack delegate applies (native_stderr.NOISE).
            with filtered_stderr(enabled=not tensorflow_verbose()):
                self._interpreter = Interpreter(
                    model_path=str(self.path), num_threads=num_threads or os.cpu_count()
                )
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"{self.path}: not a loadable TFLite model: {exc}") from exc
        details = self._interpreter.get_input_details()
        if len(details) != 1 or len(details[0]["shape"]) != 4 or details[0]["shape"][-1] != 3:
            shapes = [list(d["shape"]) for d in details]
            raise InputError(f"{self.path}: expected one image input [1, H, W, 3]; got inputs {shapes}")
        self.input_shape = tuple(int(d) for d in details[0]["shape"])
        self.input_dtype = np.dtype(details[0]["dtype"])
        self._input_index = details[0]["index"]
        self._quant = details[0]["quantization"]
        self._runner, self._input_name, self._names, self.output_source = self._find_outputs()
        options = postprocess_options(self.path.read_bytes())
        self.classes_per_box = int(options.get("max_classes_per_detection", 1))

    def _find_outputs(self):
        """(signature runner or None, its input name, op output name -> model output key, how found)."""
        for key, spec in self._interpreter.get_signature_list().items():
            outputs, inputs = spec["outputs"], spec["inputs"]
            if len(inputs) != 1:
                continue
            if set(POSTPROCESS_OUTPUTS) <= set(outputs):
                names = dict(zip(POSTPROCESS_OUTPUTS, POSTPROCESS_OUTPUTS, strict=True))
                return self._interpreter.get_signature_runner(key), inputs[0], names, "names"
            if sorted(outputs) == list(_TUPLE_OUTPUTS):
                names = dict(zip(POSTPROCESS_OUTPUTS, _TUPLE_OUTPUTS, strict=True))
                return self._interpreter.get_signature_runner(key), inputs[0], names, "tuple signature"
        indices = [o["index"] for o in self._interpreter.get_output_details()]
        if len(indices) != len(POSTPROCESS_OUTPUTS):
            raise InputError(
                f"{self.path}: expected the 4 outputs of TFLite_Detection_PostProcess (boxes, classes, "
                f"scores, num_detections); got {len(indices)} outputs and no signature naming them"
            )
        return None, None, dict(zip(POSTPROCESS_OUTPUTS, indices, strict=True)), "output order"

    def _input_tensor(self, image: np.ndarray) -> np.ndarray:
        _, height, width, _ = self.input_shape
        pixels = resize_image(image, height, width)[None]
        if np.issubdtype(self.input_dtype, np.floating):
            return to_model_range(pixels).astype(self.input_dtype)
        scale, zero_point = self._quant
        if scale == 0:  # integer input without quantization: raw pixels (shifted into int8's range)
            shift = 128 if self.input_dtype == np.int8 else 0
            return (pixels.astype(np.int16) - shift).astype(self.input_dtype)
        return quantize(to_model_range(pixels), self.input_dtype, scale, zero_point)

    def _outputs(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        if self._runner is not None:
            result = self._runner(**{self._input_name: tensor})
            return {name: np.asarray(result[key]) for name, key in self._names.items()}
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        return {name: np.asarray(self._interpreter.get_tensor(i)) for name, i in self._names.items()}

    def _check(self, out: dict[str, np.ndarray]) -> None:
        boxes = out["boxes"]
        ok = boxes.ndim == 3 and boxes.shape[-1] == 4 and out["num_detections"].size == 1
        ok = ok and out["classes"].size == out["scores"].size == boxes.shape[1]
        if not ok:
            shapes = {name: list(v.shape) for name, v in out.items()}
            raise InputError(
                f"{self.path}: outputs (found by {self.output_source}) do not have the shapes of "
                "TFLite_Detection_PostProcess' outputs (boxes [1, N, 4], classes [1, N], scores [1, N], "
                f"num_detections [1]); got {shapes}"
            )

    def __call__(self, image: np.ndarray) -> Detections:
        """Detect on one uint8 RGB image of any size (resized to the model input here)."""
        out = self._outputs(self._input_tensor(image))
        self._check(out)
        return from_postprocess_outputs(
            out["boxes"], out["classes"], out["scores"], out["num_detections"], self.classes_per_box
        )
