"""What "the same measurement" means: the one definition the pipeline, analysis, regression and dashboard use.

Two records measure the same thing when they agree on
- the model: the zoo variant with its settings (``variant@SIZExWIDTH``), or a user's own file by its
  sha256 (a path says nothing: the same file is copied around, a different file reuses a name);
- the recipe and the hash of every converter setting that changes the artifact's bytes
  (``ArtifactInfo.settings_hash``, from the sidecar): two qat runs with different fine-tuning steps are
  two models;
- the target: runner, a stable device or host id, delegate, threads, and the sustained settings
  (a sustained run at 30 fps throttles; it must never be compared with a steady one).

Timing methodology (warm-up, minimum runs) is deliberately not part of it: those settings change how
precisely a figure is known, not what it measures.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import pandas as pd

from results.schema import RunRecord, TimingSettings

# The flat store columns ``identity_key`` is computed from when a frame lacks it (see ``keys_of_frame``).
FLAT_IDENTITY_COLUMNS = ["variant", "recipe", "runner", "device_id", "delegate", "threads"]


@dataclass(frozen=True)
class Identity:
    """What one record measures; equal identities are comparable across runs."""

    model: str  # "variant@SIZExWIDTH" for a zoo model, "sha256:<hex>" for a user's file
    recipe: str | None  # None for a user's own file
    settings_hash: str | None  # the recipe's byte-changing settings; None when unknown
    runner: str
    device_id: str  # adb serial, ssh host, the host's stable id
    delegate: str
    threads: int
    sustained: str | None  # "30fps/60s" in sustained mode, None for a steady timing
    simulated: bool = False  # an emulator or simulator: never the same measurement as the phone (issue 20)

    @property
    def key(self) -> str:
        """32 hex digits naming this identity (the store's ``identity_key`` column)."""
        values = asdict(self)
        if not self.simulated:
            del values["simulated"]  # keys of real hardware stay those of stores written before the flag
        text = json.dumps(list(values.values()), separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def target(self) -> str:
        """``runner/device``: the machine or phone, what a run's target set is made of."""
        return f"{self.runner}/{self.device_id}"

    @property
    def label(self) -> str:
        """``model · recipe · runner/device · delegate xN`` (plus `` · sustained 30fps/60s``)."""
        text = f"{self.model} · {self.recipe or '-'} · {self.target} · {self.delegate} x{self.threads}"
        text += " (simulated)" if self.simulated else ""
        return text + (f" · sustained {self.sustained}" if self.sustained else "")

    def as_dict(self) -> dict:
        """The fields by name, for JSON reports."""
        return asdict(self)


def model_identity(
    variant: str | None,
    input_size: int | None = None,
    width_multiplier: float | None = None,
    sha256: str | None = None,
    path: str | None = None,
) -> str:
    """The model part of an identity: the variant and its settings, else the file's sha256 (else its path,
    for a record whose artifact was never written)."""
    if variant:
        if input_size is None and width_multiplier is None:
            return variant
        size = input_size if input_size is not None else "default"
        width = f"{width_multiplier:g}" if width_multiplier is not None else "default"
        return f"{variant}@{size}x{width}"
    return f"sha256:{sha256}" if sha256 else f"path:{path}"


def sustained_identity(settings: TimingSettings | None) -> str | None:
    """``"30fps/60s"`` for sustained-mode settings, None for steady timing."""
    if settings is None or settings.sustained_fps is None:
        return None
    seconds = f"{settings.sustained_secs:g}s" if settings.sustained_secs is not None else "default"
    return f"{settings.sustained_fps:g}fps/{seconds}"


def identity_of(record: RunRecord) -> Identity:
    """The identity of a stored record."""
    model, artifact, target = record.model, record.artifact, record.target
    timing = record.timing
    return Identity(
        model=model_identity(
            model.variant, model.input_size, model.width_multiplier, artifact.sha256, artifact.path
        ),
        recipe=artifact.recipe,
        settings_hash=artifact.settings_hash,
        runner=target.runner,
        device_id=target.device_id,
        delegate=target.delegate.value,
        threads=target.threads,
        sustained=sustained_identity(timing.settings if timing else None),
        simulated=target.simulated,
    )


def keys_of_frame(df: pd.DataFrame) -> pd.Series:
    """The identity key of every row of a flat frame: its ``identity_key`` column when it has one (every
    ``Store.frame()`` does), else derived from the flat columns (model by variant, else by sha256)."""
    if "identity_key" in df.columns:
        return df["identity_key"].astype(str)
    missing = [c for c in FLAT_IDENTITY_COLUMNS if c not in df.columns]
    if missing:
        from common.errors import InputError

        raise InputError(f"identity columns: missing {missing}; need identity_key or {FLAT_IDENTITY_COLUMNS}")
    rows = df.to_dict("records")
    return pd.Series([_flat_identity(row).key for row in rows], index=df.index, dtype=object)


def _flat_identity(row: dict) -> Identity:
    def value(name):
        item = row.get(name)
        return None if item is None or (isinstance(item, float) and item != item) else item

    return Identity(
        model=model_identity(
            value("variant"), value("input_size"), None, value("sha256"), value("artifact_path")
        ),
        recipe=value("recipe"),
        settings_hash=value("settings_hash"),
        runner=str(row["runner"]),
        device_id=str(row["device_id"]),
        delegate=str(row["delegate"]),
        threads=int(row["threads"]),
        sustained=value("sustained"),
        simulated=bool(value("simulated") or False),
    )
