"""Size and accuracy budgets: the verdicts, from measured numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from converters.artifact import Artifact
from converters.checks import check_accuracy, check_sizes
from results.schema import ArtifactInfo


def _artifact(recipe: str, size: int, gzip: int) -> Artifact:
    info = ArtifactInfo(
        recipe=recipe, path=f"{recipe}.tflite", sha256="0" * 64, size_bytes=size, gzip_bytes=gzip
    )
    return Artifact(
        recipe, Path(info.path), Path(f"{recipe}.artifact.json"), info, {"recipe": {"name": recipe}}
    )


def test_size_budgets():
    artifacts = {
        "tflite_fp32": _artifact("tflite_fp32", 1000, 900),
        "tflite_fp16": _artifact("tflite_fp16", 530, 480),
        "tflite_int8": _artifact("tflite_int8", 270, 250),
        "tflite_int8_pruned": _artifact("tflite_int8_pruned", 270, 150),
    }
    checks = {c.name: c for c in check_sizes(artifacts)}
    assert not checks["size tflite_fp16 / tflite_fp32"].passed  # 0.53 > 0.52
    assert checks["size tflite_int8 / tflite_fp32"].passed  # 0.27
    pruned = checks["size tflite_int8_pruned / tflite_int8"]
    assert pruned.passed and pruned.measured == pytest.approx(0.6)
    assert "gzip_bytes" in pruned.detail
    assert check_sizes({"tflite_int8": artifacts["tflite_int8"]}) == []


def test_accuracy_budgets():
    maps = {"tflite_fp32": 0.300, "tflite_int8": 0.2941, "tflite_int8_qat": 0.2960, "tflite_fp16": 0.2968}
    checks = {c.name: c for c in check_accuracy(maps)}
    assert checks["accuracy tflite_int8"].passed  # 98.03% of fp32
    assert not checks["accuracy tflite_int8_qat"].passed  # 98.67% < 99%
    assert not checks["accuracy tflite_fp16"].passed  # 0.32 points lost
    assert "tflite_dynamic_int8" not in str(checks)
    assert check_accuracy({"tflite_int8": 0.3}) == []
