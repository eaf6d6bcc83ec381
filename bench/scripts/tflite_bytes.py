"""Where the bytes of a .tflite file go: tensor data per type and the quantization parameters.

Explains size ratios between recipes (issue #5's int8 / fp32 budget): per-channel quantization stores a
float32 scale and an int64 zero point per output channel of every weight *and* bias tensor, which at
small widths is a quarter of an int8 file. Reads the flatbuffer with LiteRT's schema; no TensorFlow.

    python -m bench.scripts.tflite_bytes MODEL.tflite [MODEL.tflite ...]
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from ai_edge_litert import schema_py_generated as schema

_TYPE_NAMES = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
_SCALE_BYTES, _ZERO_POINT_BYTES, _MIN_MAX_BYTES = 4, 8, 4  # float32, int64, float32 in the schema


def breakdown(path: Path) -> dict:
    """File size, tensor-data bytes per tensor type, and quantization-parameter bytes and channels."""
    data = path.read_bytes()
    model = schema.Model.GetRootAsModel(data, 0)
    by_type: collections.Counter[str] = collections.Counter()
    seen_buffers: set[int] = set()
    quant_bytes = channels = 0
    for g in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(g)
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
    return {
        "file_bytes": len(data),
        "tensor_bytes": dict(by_type),
        "quantization_bytes": quant_bytes,
        "per_channel_channels": channels,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Where the bytes of .tflite files go.")
    parser.add_argument("models", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.models:
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 2
        info = breakdown(path)
        tensors = ", ".join(f"{name} {size:,}" for name, size in sorted(info["tensor_bytes"].items()) if size)
        print(
            f"{path.name}: {info['file_bytes']:,} bytes; tensor data: {tensors}; quantization parameters "
            f"{info['quantization_bytes']:,} ({info['per_channel_channels']:,} per-channel channels)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
