"""Describe an artifact on disk: content hash and sizes, the identity every record carries.

TensorFlow-free and store-free, so the timing worker's parent, the converters and the store share it;
``results`` turns a :class:`FileInfo` into its ``ArtifactInfo``.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20
_COREML_SUFFIXES = (".mlpackage", ".mlmodel")


@dataclass(frozen=True)
class FileInfo:
    """What the bytes of an artifact are.

    Attributes:
        path: The file, or the directory of a Core ML ``.mlpackage``.
        format: ``"coreml"`` for .mlpackage / .mlmodel, else ``"tflite"``.
        sha256: Hex digest over the file, or over a directory's files in sorted order.
        size_bytes: Total bytes.
        gzip_bytes: Bytes after gzip -9 (what pruning's sparsity buys in a download).
    """

    path: Path
    format: str
    sha256: str
    size_bytes: int
    gzip_bytes: int


def file_info(path: str | Path) -> FileInfo:
    """Hash and measure an artifact (a file, or a directory such as a Core ML .mlpackage).

    Args:
        path: The artifact.

    Returns:
        Its :class:`FileInfo`.
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
    fmt = "coreml" if path.suffix in _COREML_SUFFIXES else "tflite"
    return FileInfo(path, fmt, digest.hexdigest(), size, compressor.finish())


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
