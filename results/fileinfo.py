"""Describe an artifact file: content hash and sizes, the identity every record carries."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from results.schema import ArtifactFormat, ArtifactInfo

_CHUNK = 1 << 20


def file_info(path: str | Path, recipe: str | None = None) -> ArtifactInfo:
    """Hash and measure an artifact (a file, or a directory such as a Core ML .mlpackage).

    Args:
        path: The artifact.
        recipe: The compression recipe that made it, when known.

    Returns:
        ArtifactInfo with sha256, size in bytes and gzip -9 size (a directory's files in sorted order).
    """
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    size = 0
    compressor = _GzipCounter()
    for file in files:
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                compressor.write(chunk)
                size += len(chunk)
    fmt = ArtifactFormat.TFLITE if path.suffix == ".tflite" else ArtifactFormat.COREML
    if path.suffix not in (".tflite", ".mlpackage", ".mlmodel"):
        fmt = ArtifactFormat.TFLITE
    return ArtifactInfo(
        recipe=recipe,
        format=fmt,
        path=str(path),
        sha256=digest.hexdigest(),
        size_bytes=size,
        gzip_bytes=compressor.finish(),
    )


class _GzipCounter:
    """Counts gzip -9 output bytes without keeping them."""

    def __init__(self) -> None:
        self._sink = _CountingSink()
        self._gzip = gzip.GzipFile(fileobj=self._sink, mode="wb", compresslevel=9, mtime=0)

    def write(self, chunk: bytes) -> None:
        self._gzip.write(chunk)

    def finish(self) -> int:
        self._gzip.close()
        return self._sink.count


class _CountingSink:
    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)

    def flush(self) -> None:
        pass
