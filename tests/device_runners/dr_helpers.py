"""Helpers of the device-runner tests: recorded device outputs and small job builders.

A uniquely named module (not conftest.py) so test files can import it without clashing with other areas."""

from __future__ import annotations

from pathlib import Path

from device_runners.base import TimingJob
from results.schema import Delegate, TimingSettings
from results.sidecar import file_artifact_info

RECORDED = Path(__file__).resolve().parent / "recorded"


def recorded(name: str) -> str:
    """The text of one recorded output under tests/device_runners/recorded/."""
    return (RECORDED / name).read_text()


def make_job(
    model: Path,
    delegate: Delegate,
    threads: int = 1,
    settings: TimingSettings | None = None,
    run_id: str = "test-run",
    device_id: str = "local",
) -> TimingJob:
    """A timing job for a model file."""
    return TimingJob(
        artifact=file_artifact_info(model),
        delegate=delegate,
        threads=threads,
        settings=settings or TimingSettings(warmup_runs=1, warmup_min_secs=0, min_runs=3, min_secs=0),
        run_id=run_id,
        device_id=device_id,
    )


def fake_benchmark_binary(path: Path, machine: int = 0xB7) -> Path:
    """A file that looks like an ELF executable for ``machine`` (0xB7 aarch64, 0x3E x86_64)."""
    header = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + (2).to_bytes(2, "little") + machine.to_bytes(2, "little")
    path.write_bytes(header + b"\x00" * 4096)
    return path


def encode_result(latency: dict[str, float], peak_mem_mb: float | None = None) -> bytes:
    """A BenchmarkResult proto in the wire format (fixed32 floats), written by hand for the fake device."""
    import struct

    numbers = {
        "avg_ms": 1,
        "min_ms": 2,
        "max_ms": 3,
        "stddev_ms": 4,
        "median_ms": 5,
        "p5_ms": 6,
        "p95_ms": 7,
        "init_ms": 8,
        "first_inference_ms": 9,
    }

    def floats(values: dict[int, float]) -> bytes:
        return b"".join(bytes([number << 3 | 5]) + struct.pack("<f", v) for number, v in values.items())

    def nested(number: int, body: bytes) -> bytes:
        assert len(body) < 128
        return bytes([number << 3 | 2, len(body)]) + body

    data = nested(2, floats({numbers[k]: v for k, v in latency.items()}))
    if peak_mem_mb is not None:
        data += nested(3, floats({3: peak_mem_mb}))
    return data
