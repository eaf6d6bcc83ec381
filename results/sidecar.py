"""Read an artifact's ``<name>.artifact.json`` sidecar (written by ``converters``) without the toolchain.

Timing and the store only need what a sidecar says of its model file; importing ``converters`` for
that would import TensorFlow. The writer and the full :class:`converters.artifact.Artifact` stay there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common.errors import InputError
from results.fileinfo import file_info
from results.schema import ArtifactInfo, ModelInfo

SIDECAR_SUFFIX = ".artifact.json"


def sidecar_of(model_path: str | Path) -> Path:
    """Where the sidecar of a model file (or .mlpackage) is: ``<name>.artifact.json`` beside it."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(path.suffix) + SIDECAR_SUFFIX)


def read_sidecar(sidecar_path: str | Path) -> tuple[dict[str, Any], ArtifactInfo]:
    """The sidecar's content and its model file's info, checking the file still matches.

    Raises:
        InputError: the sidecar is unreadable, or the model file is missing or has changed.
    """
    sidecar_path = Path(sidecar_path)
    try:
        sidecar = json.loads(sidecar_path.read_text())
        name, recipe, sha256 = sidecar["file"], sidecar["recipe"]["name"], sidecar["sha256"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise InputError(f"artifact sidecar {str(sidecar_path)!r}: cannot read it ({error})") from None
    path = sidecar_path.with_name(name)
    if not path.exists():
        raise InputError(f"artifact {str(path)!r}: the model file named by its sidecar is missing")
    info = file_info(path, recipe=recipe)
    if info.sha256 != sha256:
        raise InputError(
            f"artifact {str(path)!r}: sha256 differs from its sidecar (file changed or incomplete)"
        )
    return sidecar, info


def model_info(sidecar: dict[str, Any]) -> ModelInfo:
    """What a sidecar says of the detector behind the artifact (empty fields where it is silent)."""
    model = sidecar.get("model") or {}
    labels = sidecar.get("labels")
    return ModelInfo(
        variant=model.get("variant"),
        input_size=sidecar.get("input_size"),
        width_multiplier=model.get("width_multiplier"),
        num_classes=len(labels) if isinstance(labels, list) else None,
    )
