"""Decode the ``--result_file_path`` proto of ``benchmark_model`` by hand (protobuf wire format).

No generated code exists offline for ``tflite.tools.benchmark.BenchmarkResult``, and the runner needs
only a dozen scalar fields, so this reads the wire format directly. Field numbers follow
tflite/tools/benchmark/proto/benchmark_result.proto (proto2):

    BenchmarkResult { string name = 1; LatencyMetrics latency_metrics = 2;
                      MemoryMetrics memory_metrics = 3; MiscMetrics misc_metrics = 4; }
    LatencyMetrics  { float avg_ms = 1; min_ms = 2; max_ms = 3; stddev_ms = 4; median_ms = 5;
                      p5_ms = 6; p95_ms = 7; init_ms = 8; first_inference_ms = 9; average_warm_up_ms = 10; }
    MemoryMetrics   { int64 init_footprint_kb = 1; int64 overall_footprint_kb = 2; float peak_mem_mb = 3; }
    MiscMetrics     { float model_size_mb = 1; int32 num_runs = 2; int32 num_warmup_runs = 3;
                      float model_throughput_in_mb_per_sec = 4; }

Unknown fields are skipped, as protobuf itself does, so newer binaries with more fields still decode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_LATENCY = {
    1: "avg_ms",
    2: "min_ms",
    3: "max_ms",
    4: "stddev_ms",
    5: "median_ms",
    6: "p5_ms",
    7: "p95_ms",
    8: "init_ms",
    9: "first_inference_ms",
    10: "average_warm_up_ms",
}
_MEMORY = {1: "init_footprint_kb", 2: "overall_footprint_kb", 3: "peak_mem_mb"}
_MISC = {1: "model_size_mb", 2: "num_runs", 3: "num_warmup_runs", 4: "model_throughput_in_mb_per_sec"}

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


class ProtoDecodeError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass(frozen=True)
class BenchmarkResult:
    """The decoded result file; each group maps field names to values (missing fields are absent)."""

    name: str | None
    latency: dict[str, float]
    memory: dict[str, float]
    misc: dict[str, float]


def decode_result(data: bytes) -> BenchmarkResult:
    """Decode a serialized ``tflite.tools.benchmark.BenchmarkResult``.

    Raises:
        ProtoDecodeError: the bytes are truncated or malformed.
    """
    name = None
    groups: dict[int, dict[str, float]] = {2: {}, 3: {}, 4: {}}
    tables = {2: _LATENCY, 3: _MEMORY, 4: _MISC}
    for number, wire, value in _fields(data):
        if number == 1 and wire == _LENGTH:
            name = value.decode("utf-8", errors="replace")
        elif number in tables and wire == _LENGTH:
            # A repeated sub-message is merged into the earlier one, as protobuf merges them.
            groups[number].update(_scalars(value, tables[number]))
    return BenchmarkResult(name=name, latency=groups[2], memory=groups[3], misc=groups[4])


def _scalars(data: bytes, table: dict[int, str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for number, wire, value in _fields(data):
        name = table.get(number)
        if name is None:
            continue
        if wire == _FIXED32:
            values[name] = struct.unpack("<f", value)[0]
        elif wire == _VARINT:
            values[name] = _signed64(value)
        elif wire == _FIXED64:
            values[name] = struct.unpack("<d", value)[0]
    return values


def _fields(data: bytes):
    """Yield (field number, wire type, raw value) for each field of one message."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoDecodeError(f"field number 0 at byte {position}")
        if wire == _VARINT:
            value, position = _varint(data, position)
        elif wire == _FIXED64:
            value, position = _take(data, position, 8)
        elif wire == _FIXED32:
            value, position = _take(data, position, 4)
        elif wire == _LENGTH:
            length, position = _varint(data, position)
            value, position = _take(data, position, length)
        else:
            raise ProtoDecodeError(f"unsupported wire type {wire} for field {number}")
        yield number, wire, value


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if position >= len(data):
            raise ProtoDecodeError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
    raise ProtoDecodeError("varint longer than 10 bytes")


def _take(data: bytes, position: int, length: int) -> tuple[bytes, int]:
    end = position + length
    if end > len(data):
        raise ProtoDecodeError(f"field needs {length} bytes at {position}, only {len(data) - position} left")
    return data[position:end], end


def _signed64(value: int) -> int:
    # int64 / int32 are two's complement in a 64-bit varint (negative values take 10 bytes).
    return value - (1 << 64) if value >= 1 << 63 else value
