"""The artifact on disk: the model file plus ``<name>.artifact.json``, written atomically, sidecar last.

A model file without its sidecar is an incomplete artifact (a crash between the two writes): readers
treat only a sidecar whose sha256 matches the model file as a finished artifact.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from common.errors import InputError
from common.fileinfo import file_info
from common.sidecar import SIDECAR_SUFFIX, ConversionSettings, ModelFacts, Sidecar
from results.schema import ArtifactInfo, ToolVersions
from results.sidecar import artifact_info, read_sidecar

_DISTRIBUTIONS = {
    "tensorflow": "tensorflow",
    "tf_keras": "tf_keras",
    "tfmot": "tensorflow-model-optimization",
    "coremltools": "coremltools",
    "litert": "ai-edge-litert",
}


@dataclass(frozen=True)
class Artifact:
    """A finished artifact: where it is and what its sidecar says.

    Attributes:
        name: ``<model name>.<recipe>``, the stem of both files.
        path: The model file (.tflite) or package directory (.mlpackage).
        sidecar_path: ``<name>.artifact.json`` beside it.
        info: Hash, sizes and settings hash, as every RunRecord carries them.
        sidecar: The sidecar.
    """

    name: str
    path: Path
    sidecar_path: Path
    info: ArtifactInfo
    sidecar: Sidecar

    @property
    def recipe(self) -> str:
        """The recipe name."""
        return self.sidecar.recipe


def tool_versions() -> ToolVersions:
    """Installed versions of the converting toolchain (None where a package is absent)."""
    found: dict[str, str | None] = {}
    for field, dist in _DISTRIBUTIONS.items():
        try:
            found[field] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            found[field] = None
    return ToolVersions(**found, python=platform.python_version())


def temp_sibling(path: Path) -> Path:
    """A unique hidden temporary path in the same folder, same suffix (coremltools insists on .mlpackage)."""
    return path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a file via temp + rename."""
    tmp = temp_sibling(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def move_into_place(tmp: Path, path: Path) -> None:
    """Rename a finished temp file or directory onto ``path``, replacing what is there."""
    if tmp.is_dir():
        old = temp_sibling(path)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


def start(out_dir: str | Path, name: str, suffix: str) -> tuple[Path, Path]:
    """Prepare ``out_dir`` for an artifact: returns (model path, sidecar path).

    An existing sidecar of the same name is removed first, so until the new one is written the
    artifact reads as incomplete rather than as the old sidecar describing a new file.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--out: cannot create {str(out)!r}: {error.strerror}") from None
    sidecar = out / f"{name}{SIDECAR_SUFFIX}"
    sidecar.unlink(missing_ok=True)
    return out / f"{name}{suffix}", sidecar


def finish(
    path: Path, sidecar_path: Path, name: str, model: ModelFacts, settings: ConversionSettings, **fields: Any
) -> Artifact:
    """Hash the finished model file and write its sidecar (the last write of an artifact).

    Args:
        path: The model file, already in place.
        sidecar_path: Where the sidecar goes.
        name: The artifact name.
        model: The detector it was made from.
        settings: Every converter setting that changed its bytes.
        **fields: The other :class:`~common.sidecar.Sidecar` fields (signature, recipe_stats, metadata).

    Returns:
        The artifact.
    """
    file = file_info(path)
    sidecar = Sidecar(
        name=name,
        file=path.name,
        format=file.format,
        sha256=file.sha256,
        size_bytes=file.size_bytes,
        gzip_bytes=file.gzip_bytes,
        created_at=datetime.now(UTC).isoformat(),
        tools=tool_versions().model_dump(),
        platform=f"{sys.platform} {platform.machine()}",
        model=model,
        settings=settings,
        settings_hash=settings.settings_hash(),
        **fields,
    )
    write_bytes_atomic(sidecar_path, sidecar.to_json().encode())
    info = artifact_info(file, sidecar.recipe, sidecar.settings_hash)
    return Artifact(name=name, path=path, sidecar_path=sidecar_path, info=info, sidecar=sidecar)


def load_artifact(sidecar_path: str | Path) -> Artifact:
    """Read a finished artifact from its sidecar, checking the model file still matches.

    Raises:
        InputError: the sidecar is unreadable, or the model file is missing or has changed.
    """
    sidecar, info = read_sidecar(sidecar_path)
    return Artifact(sidecar.name, Path(info.path), Path(sidecar_path), info, sidecar)
