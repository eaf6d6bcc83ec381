"""The BenchmarkResult decoder against messages serialized from an independently built schema.

The fixture builds the schema field by field from LiteRT's benchmark_result.proto, so a wrong number or
type in device_runners/benchmark_result.proto shows up here; the checked-in benchmark_result_pb2.py must
be what protoc generates from that file today.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from common import process
from device_runners.benchmark_result_proto import ProtoDecodeError, decode_result

_FLOAT = descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT
_INT64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
_INT32 = descriptor_pb2.FieldDescriptorProto.TYPE_INT32
_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE


def _message(file, name, fields):
    message = file.message_type.add(name=name)
    for number, (field, kind, *type_name) in enumerate(fields, start=1):
        entry = message.field.add(name=field, number=number, type=kind, label=1)
        if type_name:
            entry.type_name = type_name[0]


@pytest.fixture(scope="module")
def result_class():
    """BenchmarkResult built from the schema in tflite/tools/benchmark/proto/benchmark_result.proto."""
    file = descriptor_pb2.FileDescriptorProto(name="edgebench_test_benchmark_result.proto", package="tbtest")
    latency = [
        "avg_ms",
        "min_ms",
        "max_ms",
        "stddev_ms",
        "median_ms",
        "p5_ms",
        "p95_ms",
        "init_ms",
        "first_inference_ms",
        "average_warm_up_ms",
    ]
    _message(file, "LatencyMetrics", [(name, _FLOAT) for name in latency])
    _message(
        file,
        "MemoryMetrics",
        [("init_footprint_kb", _INT64), ("overall_footprint_kb", _INT64), ("peak_mem_mb", _FLOAT)],
    )
    _message(
        file,
        "MiscMetrics",
        [
            ("model_size_mb", _FLOAT),
            ("num_runs", _INT32),
            ("num_warmup_runs", _INT32),
            ("model_throughput_in_mb_per_sec", _FLOAT),
        ],
    )
    _message(
        file,
        "BenchmarkResult",
        [
            ("name", _STRING),
            ("latency_metrics", _MESSAGE, ".tbtest.LatencyMetrics"),
            ("memory_metrics", _MESSAGE, ".tbtest.MemoryMetrics"),
            ("misc_metrics", _MESSAGE, ".tbtest.MiscMetrics"),
        ],
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tbtest.BenchmarkResult"))


def test_decodes_every_field(result_class):
    message = result_class(name="gpu run")
    latency = message.latency_metrics
    latency.avg_ms, latency.median_ms, latency.p95_ms, latency.stddev_ms = 7.875, 7.8125, 8.5, 0.25
    latency.min_ms, latency.max_ms, latency.init_ms, latency.first_inference_ms = 7.5, 9.25, 812.5, 24.5
    message.memory_metrics.init_footprint_kb = 187660
    message.memory_metrics.overall_footprint_kb = -3  # int64 two's complement: ten varint bytes
    message.memory_metrics.peak_mem_mb = 192.125
    message.misc_metrics.num_runs = 127
    message.misc_metrics.model_size_mb = 4.25
    decoded = decode_result(message.SerializeToString())
    assert decoded.name == "gpu run"
    assert decoded.latency == {
        "avg_ms": 7.875,
        "median_ms": 7.8125,
        "p95_ms": 8.5,
        "stddev_ms": 0.25,
        "min_ms": 7.5,
        "max_ms": 9.25,
        "init_ms": 812.5,
        "first_inference_ms": 24.5,
    }
    assert decoded.memory == {"init_footprint_kb": 187660, "overall_footprint_kb": -3, "peak_mem_mb": 192.125}
    assert decoded.misc == {"num_runs": 127, "model_size_mb": 4.25}


def test_missing_groups_and_unknown_fields(result_class):
    message = result_class()
    message.latency_metrics.avg_ms = 1.5
    # An unknown field 9 (varint) and 10 (fixed64) of a newer binary are skipped.
    data = message.SerializeToString() + bytes([9 << 3 | 0, 0x96, 0x01]) + bytes([10 << 3 | 1]) + b"\x00" * 8
    decoded = decode_result(data)
    assert decoded.latency == {"avg_ms": 1.5}
    assert decoded.memory == {} and decoded.misc == {} and decoded.name is None


def test_empty_file_is_an_empty_result():
    assert decode_result(b"").latency == {}


@pytest.mark.parametrize("data", [b"\x12\x05\x0d\x00", b"\x80", b"\x0b", b"\x00\x01"])
def test_truncated_or_malformed_bytes_raise(data):
    with pytest.raises(ProtoDecodeError):
        decode_result(data)


def test_the_checked_in_module_is_what_protoc_generates(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools is a dev dependency")
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "device_runners").mkdir()
    shutil.copy(root / "device_runners/benchmark_result.proto", tmp_path / "device_runners")
    # In a child: grpc_tools' protoc links its own protobuf, which crashes beside TensorFlow's in one process.
    argv = [sys.executable, "-m", "grpc_tools.protoc", "-I.", "--python_out=."]
    process.run([*argv, "device_runners/benchmark_result.proto"], timeout=60, cwd=str(tmp_path))
    generated = (tmp_path / "device_runners/benchmark_result_pb2.py").read_text()
    assert generated == (root / "device_runners/benchmark_result_pb2.py").read_text(), (
        "device_runners/benchmark_result_pb2.py is stale: regenerate it (command in benchmark_result.proto)"
    )
