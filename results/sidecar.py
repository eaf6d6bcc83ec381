"""Record fields from an artifact's sidecar (``common.sidecar``) and file info, without the toolchain.

Timing and the store only need what a sidecar says of its model file; importing ``converters`` for
that would import TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

from common.fileinfo import FileInfo, file_info
from common.sidecar import Sidecar
from common.sidecar import read_sidecar as _read_sidecar
from results.schema import ArtifactFormat, ArtifactInfo, ModelInfo


def artifact_info(
    file: FileInfo, recipe: str | None = None, settings_hash: str | None = None
) -> ArtifactInfo:
    """The record's ArtifactInfo of a measured file.

    Args:
        file: Its hash and sizes.
        recipe: The compression recipe that made it, when known.
        settings_hash: The sidecar's hash of the converter settings, when known.
    """
    return ArtifactInfo(
        recipe=recipe,
        format=ArtifactFormat(file.format),
        path=str(file.path),
        sha256=file.sha256,
        size_bytes=file.size_bytes,
        gzip_bytes=file.gzip_bytes,
        settings_hash=settings_hash,
    )


def file_artifact_info(path: str | Path) -> ArtifactInfo:
    """ArtifactInfo of a file of unknown origin (no sidecar): hash and sizes only."""
    return artifact_info(file_info(path))


def read_sidecar(sidecar_path: str | Path) -> tuple[Sidecar, ArtifactInfo]:
    """The sidecar and its model file's ArtifactInfo (recipe and settings hash from the sidecar).

    Raises:
        InputError: the sidecar is unreadable or invalid, or the model file is missing or has changed.
    """
    sidecar, file = _read_sidecar(sidecar_path)
    return sidecar, artifact_info(file, sidecar.recipe, sidecar.settings_hash)


def model_info(sidecar: Sidecar) -> ModelInfo:
    """What a sidecar says of the detector behind the artifact."""
    return ModelInfo(
        variant=sidecar.model.variant,
        input_size=sidecar.settings.input_size,
        width_multiplier=sidecar.model.width_multiplier,
        num_classes=len(sidecar.settings.labels),
    )
