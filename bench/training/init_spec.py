"""How a detector's weights start: ``InitSpec``, parsed from a plan's ``training.init`` or ``--init``.

Four forms, the same in a plan and on the command line (``edgebench train --init ...``):

=========================  ===============================  ==========================================
plan ``training.init``     ``--init``                       meaning
=========================  ===============================  ==========================================
``scratch`` (default)      ``scratch``                      the zoo's own random initialisation
``imagenet``               ``imagenet``                     Keras Applications' ImageNet backbone,
                                                            downloaded by Keras (``~/.keras/models``)
``{imagenet: PATH}``       ``imagenet:PATH``                the same, from a local Keras Applications
                                                            weights ``.h5`` file (no download)
``{checkpoint: PATH}``     ``checkpoint:PATH``              a TF Object Detection API model-zoo
                                                            checkpoint (prefix, ``.index`` or folder)
=========================  ===============================  ==========================================

``$VARS`` and ``~`` in a PATH are expanded (``bench/plans/coco.yaml`` points at
``$EDGEBENCH_OD_API_CHECKPOINTS``). A PATH must exist when the spec is built, so a plan naming a missing
file fails validation at once, naming the key and the path. No TensorFlow here: plans validate fast.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from common.errors import InputError

SCRATCH, IMAGENET, CHECKPOINT = "scratch", "imagenet", "checkpoint"
FORMS = ("scratch", "imagenet", "{imagenet: PATH}", "{checkpoint: PATH}")
# The widths Keras Applications publishes ImageNet weights for (its MobileNetV2 / MobileNetV3 docstrings;
# the minimalistic V3 models are left out: the zoo has no minimalistic backbone).
PUBLISHED_WIDTHS = {
    "mobilenet_v2": (0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
    "mobilenet_v3_large": (0.75, 1.0),
    "mobilenet_v3_small": (0.75, 1.0),
}


class InitKind(enum.StrEnum):
    """Where the starting weights come from."""

    SCRATCH = SCRATCH
    IMAGENET = IMAGENET
    CHECKPOINT = CHECKPOINT


class InitSpec(BaseModel):
    """The initialisation of one training run (applied once, at step 0, never on resume)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: InitKind = InitKind.SCRATCH  # scratch | imagenet | checkpoint
    path: Path | None = None  # imagenet: local .h5 (None: Keras downloads); checkpoint: required

    def to_plain(self) -> str | dict[str, str]:
        """The plan form (the inverse of :func:`parse_init`): ``"scratch"``, ``{"checkpoint": "..."}``."""
        if self.path is None:
            return self.kind.value
        return {self.kind.value: str(self.path)}

    def cache_token(self) -> dict[str, Any]:
        """What a training cache key must hold: the form, the path and the file contents' hash.

        A file replaced under the same name (a newer checkpoint) must retrain, so the bytes are hashed,
        not only the name.
        """
        if self.path is None:
            return {"init": self.to_plain(), "sha256": None}
        files = (
            [self.path] if self.kind is InitKind.IMAGENET else checkpoint_files(resolve_checkpoint(self.path))
        )
        return {"init": self.to_plain(), "sha256": _hash_files(files)}

    def describe(self) -> str:
        """One phrase for progress lines: ``imagenet (keras download)``, ``checkpoint /x/model.ckpt``."""
        if self.kind is InitKind.IMAGENET and self.path is None:
            return "imagenet (Keras Applications download)"
        return self.kind.value if self.path is None else f"{self.kind.value} {self.path}"


def parse_init(value: object, where: str = "init") -> InitSpec:
    """Build an :class:`InitSpec` from a plan value or an ``--init`` string.

    Args:
        value: ``"scratch"``, ``"imagenet"``, ``{"imagenet": PATH}``, ``{"checkpoint": PATH}``, the CLI's
            ``"imagenet:PATH"`` / ``"checkpoint:PATH"``, or an InitSpec (returned as is).
        where: The key or flag, for error messages (``training.init``, ``--init``).

    Raises:
        InputError: An unknown form, or a PATH that does not exist (the message names both).
    """
    if isinstance(value, InitSpec):
        return value
    if isinstance(value, str):
        return _from_string(value, where)
    if isinstance(value, dict) and len(value) == 1:
        ((kind, path),) = value.items()
        if kind in (IMAGENET, CHECKPOINT) and isinstance(path, str | Path) and str(path):
            return _with_path(InitKind(kind), str(path), where)
    raise InputError(f"{where}: got {value!r}; allowed: {', '.join(FORMS)}")


def _from_string(text: str, where: str) -> InitSpec:
    if text in (SCRATCH, IMAGENET):
        return InitSpec(kind=InitKind(text))
    kind, sep, path = text.partition(":")
    if sep and kind in (IMAGENET, CHECKPOINT) and path:
        return _with_path(InitKind(kind), path, where)
    raise InputError(
        f"{where}: got {text!r}; allowed: scratch, imagenet, {{imagenet: PATH}} (imagenet:PATH on the "
        "command line), {checkpoint: PATH} (checkpoint:PATH)"
    )


def _with_path(kind: InitKind, text: str, where: str) -> InitSpec:
    path = Path(os.path.expanduser(os.path.expandvars(text)))
    unset = re.search(r"\$\{?(\w+)", str(path))
    if unset:
        raise InputError(f"{where}: {text}: set the environment variable {unset.group(1)} (it is not set)")
    if kind is InitKind.IMAGENET:
        if not path.is_file():
            raise InputError(f"{where}: imagenet weights file {path} does not exist")
    else:
        resolve_checkpoint(path, where)
    return InitSpec(kind=kind, path=path)


def resolve_checkpoint(path: str | Path, where: str = "init") -> Path:
    """The checkpoint prefix (``.../model.ckpt``) that ``path`` names: the one resolver of the project.

    ``path`` is a prefix, an ``.index`` file, or a folder holding one checkpoint (an unpacked model-zoo
    archive: ``model.ckpt*`` in the TF1 zoo, ``checkpoint/ckpt-0*`` in the TF2 zoo). A ``saved_model/``
    beside it is not a checkpoint. In a folder with several, the ones under ``fp32/`` are taken (the
    MobileDet archives also hold a quantization-aware ``uint8/`` one), then the highest step of one
    name (``model.ckpt-400000`` over ``model.ckpt-0``); otherwise the user names one.

    Raises:
        InputError: No checkpoint there, or several to choose from (naming ``where`` and the path).
    """
    path = Path(path)
    indexes = [p for p in checkpoint_files(path) if p.name.endswith(".index")]
    if path.is_dir():
        indexes = [p for p in indexes if "saved_model" not in p.relative_to(path).parts]
    if len(indexes) > 1:
        indexes = [p for p in indexes if "fp32" in p.parent.parts] or indexes
    if len(indexes) > 1:
        indexes = _latest_step(indexes)
    if not indexes:
        raise InputError(
            f"{where}: checkpoint {path} does not exist (give the prefix of model.ckpt.index, "
            "the .index file, or the folder holding them)"
        )
    if len(indexes) > 1:
        found = ", ".join(str(p.with_suffix("")) for p in indexes[:4])
        raise InputError(f"{where}: {path} holds several checkpoints ({found}); name one of them")
    return indexes[0].with_suffix("")


def _latest_step(indexes: list[Path]) -> list[Path]:
    """The highest step when every index is ``NAME-STEP.index`` of one NAME in one folder, else all."""
    steps = [re.fullmatch(r"(.+)-(\d+)\.index", p.name) for p in indexes]
    if (
        any(m is None for m in steps)
        or len({(p.parent, m.group(1)) for p, m in zip(indexes, steps, strict=True)}) > 1
    ):
        return indexes
    return [max(zip(indexes, steps, strict=True), key=lambda pair: int(pair[1].group(2)))[0]]


def pipeline_config(prefix: Path) -> Path | None:
    """The ``pipeline.config`` a model-zoo archive ships beside its checkpoint (or one folder up)."""
    found = [p / "pipeline.config" for p in (prefix.parent, prefix.parent.parent)]
    return next((p for p in found if p.is_file()), None)


def checkpoint_files(path: Path) -> list[Path]:
    """The files of a TF checkpoint at ``path`` (prefix, ``.index`` file or folder), sorted; [] if none."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and _is_checkpoint_part(p.name))
    prefix = Path(str(path).removesuffix(".index"))
    return sorted(p for p in prefix.parent.glob(f"{prefix.name}.*") if _is_checkpoint_part(p.name))


def _is_checkpoint_part(name: str) -> bool:
    return name.endswith(".index") or ".data-" in name


def _hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def check_published(backbone: str, width: float) -> None:
    """Stop unless Keras Applications publishes ImageNet weights for ``backbone`` at ``width``.

    Raises:
        InputError: Naming the backbone or width and what exists.
    """
    if backbone not in PUBLISHED_WIDTHS:
        raise InputError(
            f"init imagenet: Keras Applications publishes no ImageNet weights for backbone {backbone!r} "
            f"(it has {', '.join(PUBLISHED_WIDTHS)}); use init {{checkpoint: PATH}} or scratch"
        )
    if not any(abs(width - w) < 1e-9 for w in PUBLISHED_WIDTHS[backbone]):
        allowed = ", ".join(map(str, PUBLISHED_WIDTHS[backbone]))
        raise InputError(
            f"init imagenet: {backbone} has ImageNet weights at widths {allowed}; got width {width}"
        )


def check_applies(spec: InitSpec, backbone: str, width: float, where: str) -> None:
    """Stop at validation, not after minutes of work, when ``spec`` cannot start this variant.

    Raises:
        InputError: ``imagenet`` for a backbone or width Keras Applications has no weights for.
    """
    if spec.kind is InitKind.IMAGENET:
        try:
            check_published(backbone, width)
        except InputError as error:
            raise InputError(f"{where}: {error}") from None
