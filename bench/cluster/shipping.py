"""Artifacts and weights between nodes: a shared path when there is one, else Ray's object store.

A producing task packs its output file (or directory, e.g. a Core ML .mlpackage) into a tar archive in
memory; the consuming task uses the path as it is when its content hash matches, and otherwise unpacks the
archive there. Either way the content is checked by sha256 on arrival, so a stale or half-copied file on a
shared mount is never timed.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from pathlib import Path

from common.fileinfo import file_info


class ArrivalError(RuntimeError):
    """The shipped content does not match the hash the producer recorded."""


def pack(path: str | Path) -> bytes:
    """A tar archive (in memory) of a file or directory, named by its base name."""
    path = Path(path)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(path, arcname=path.name)
    return buffer.getvalue()


def sha256_of(path: str | Path) -> str:
    """The content hash records carry for an artifact (a directory's files in sorted order)."""
    return file_info(path).sha256


def arrive(path: str | Path, sha256: str, archive: bytes | None) -> Path:
    """Make ``path`` hold the content hashed ``sha256``: as found, or unpacked from ``archive``.

    Args:
        path: Where the producer wrote it (a shared path, or the same path on this node).
        sha256: The producer's hash of it.
        archive: :func:`pack` of it, fetched from the object store; None when nothing was shipped.

    Returns:
        The path, its content checked.

    Raises:
        ArrivalError: it is missing with no archive, or its content does not match ``sha256``.
    """
    path = Path(path)
    if path.exists() and sha256_of(path) == sha256:
        return path
    if archive is None:
        raise ArrivalError(f"{path} is not on this node (or changed) and nothing was shipped")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
            tar.extractall(tmp, filter="data")
        unpacked = Path(tmp) / path.name
        if sha256_of(unpacked) != sha256:
            raise ArrivalError(f"{path.name}: the shipped copy does not match sha256 {sha256[:12]}")
        if path.is_dir():
            shutil.rmtree(path)
        unpacked.replace(path)  # atomic within the folder: no half-written artifact is ever timed
    return path
