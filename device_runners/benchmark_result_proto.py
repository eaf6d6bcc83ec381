"""Decode the ``--result_file_path`` proto of ``benchmark_model`` with the protobuf runtime.

The schema is ``benchmark_result.proto`` beside this module (the field numbers and types of LiteRT's
``tflite.tools.benchmark.BenchmarkResult``, proto2); ``benchmark_result_pb2`` is generated from it by
``grpc_tools.protoc`` and checked in, and a test regenerates it and compares. Fields the binary did not
write are absent from the decoded groups (proto2 presence); unknown fields of a newer binary are skipped
by protobuf itself, so newer binaries still decode.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from device_runners import benchmark_result_pb2


class ProtoDecodeError(ValueError):
    """The bytes are not a well-formed BenchmarkResult message."""


@dataclass(frozen=True)
class BenchmarkResult:
    """The decoded result file; each group maps field names to values (missing fields are absent)."""

    name: str | None
    latency: dict[str, float]
    memory: dict[str, float]
    misc: dict[str, float]


def decode_result(data: bytes) -> BenchmarkResult:
    """Decode a serialized ``BenchmarkResult``.

    Raises:
        ProtoDecodeError: the bytes are truncated or malformed.
    """
    message = benchmark_result_pb2.BenchmarkResult()
    try:
        message.ParseFromString(data)
    except DecodeError as error:
        raise ProtoDecodeError(f"not a BenchmarkResult message: {error}") from None
    return BenchmarkResult(
        name=message.name if message.HasField("name") else None,
        latency=_present(message.latency_metrics),
        memory=_present(message.memory_metrics),
        misc=_present(message.misc_metrics),
    )


def _present(group: Message) -> dict[str, float]:
    """The fields the binary wrote, by name."""
    return {field.name: value for field, value in group.ListFields()}
