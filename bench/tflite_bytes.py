"""Where the bytes of a .tflite file go: tensor data per type, quantization parameters, and the graph.

Explains size ratios between recipes (issue #5's int8 / fp32 budget): per-channel quantization stores a
float32 scale and an int64 zero point per output channel of every weight *and* bias tensor, which at
small widths is a quarter of an int8 file. Reads the flatbuffer with LiteRT's schema; no TensorFlow.
``edgebench inspect MODEL`` prints it.
"""

from __future__ import annotations

import collections
from pathlib import Path

from ai_edge_litert import schema_py_generated as schema
from pydantic import BaseModel, ConfigDict

from common.errors import InputError

_TYPE_NAMES = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
_OP_NAMES = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
_SCALE_BYTES, _ZERO_POINT_BYTES, _MIN_MAX_BYTES = 4, 8, 4  # float32, int64, float32 in the schema


class ByteBreakdown(BaseModel):
    """The byte breakdown of one .tflite file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str  # the file inspected
    file_bytes: int  # the whole file
    tensor_bytes: dict[str, int]  # constant tensor data (weights, biases) per tensor type, e.g. INT8
    quantization_bytes: int  # scales, zero points and min / max of every quantized tensor
    per_channel_channels: int  # channels of per-channel quantized tensors (each has its own scale)
    subgraphs: int  # graphs in the file (1 for the zoo's detectors)
    tensors: int  # tensors over every subgraph
    ops: dict[str, int]  # operator -> count over every subgraph; custom ops by their name


def breakdown(path: str | Path) -> ByteBreakdown:
    """File size, tensor-data bytes per type, quantization-parameter bytes and channels, op counts.

    Raises:
        InputError: The file is missing or is not a TFLite flatbuffer.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"MODEL: no such file: {path}")
    data = path.read_bytes()
    if data[4:8] != b"TFL3":  # the flatbuffer file identifier of the TFLite schema
        raise InputError(f"MODEL: {path} is not a .tflite file (no TFL3 identifier)")
    model = schema.Model.GetRootAsModel(data, 0)
    by_type: collections.Counter[str] = collections.Counter()
    ops: collections.Counter[str] = collections.Counter()
    seen_buffers: set[int] = set()
    quant_bytes = channels = tensors = 0
    codes = [_op_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    for g in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(g)
        tensors += subgraph.TensorsLength()
        for o in range(subgraph.OperatorsLength()):
            ops[codes[subgraph.Operators(o).OpcodeIndex()]] += 1
        for t in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(t)
            if tensor.Buffer() not in seen_buffers:  # buffers are shared between tensors
                seen_buffers.add(tensor.Buffer())
                by_type[_TYPE_NAMES[tensor.Type()]] += model.Buffers(tensor.Buffer()).DataLength()
            params = tensor.Quantization()
            if params is None:
                continue
            quant_bytes += params.ScaleLength() * _SCALE_BYTES + params.ZeroPointLength() * _ZERO_POINT_BYTES
            quant_bytes += (params.MinLength() + params.MaxLength()) * _MIN_MAX_BYTES
            if params.ScaleLength() > 1:
                channels += params.ScaleLength()
    return ByteBreakdown(
        path=str(path),
        file_bytes=len(data),
        tensor_bytes={name: size for name, size in sorted(by_type.items()) if size},
        quantization_bytes=quant_bytes,
        per_channel_channels=channels,
        subgraphs=model.SubgraphsLength(),
        tensors=tensors,
        ops=dict(sorted(ops.items(), key=lambda item: (-item[1], item[0]))),
    )


def _op_name(code) -> str:
    """A builtin operator's name, or a custom op's own name."""
    # Codes above 127 live in BuiltinCode; older files keep small ones in DeprecatedBuiltinCode only.
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        return (code.CustomCode() or b"CUSTOM").decode()
    return _OP_NAMES.get(builtin, f"OP_{builtin}")
