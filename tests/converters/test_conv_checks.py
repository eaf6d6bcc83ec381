"""Size and accuracy budgets: the verdicts, from measured numbers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from converters.artifact import Artifact
from converters.checks import check_accuracy, check_sizes
from results.schema import ArtifactInfo


def _artifact(recipe: str, size: int, gzip: int, shape=(320, 1.0, 91)) -> Artifact:
    info = ArtifactInfo(
        recipe=recipe, path=f"{recipe}.tflite", sha256="0" * 64, size_bytes=size, gzip_bytes=gzip
    )
    side, width, slots = shape
    sidecar = SimpleNamespace(  # the two parts of a Sidecar the size checks read
        settings=SimpleNamespace(input_size=side, labels=tuple(f"c{i}" for i in range(slots - 1))),
        model=SimpleNamespace(width_multiplier=width),
    )
    return Artifact(recipe, Path(info.path), Path(f"{recipe}.artifact.json"), info, sidecar)


def _set(shape=(320, 1.0, 91)) -> dict[str, Artifact]:
    return {
        "tflite_fp32": _artifact("tflite_fp32", 1000, 900, shape),
        "tflite_fp16": _artifact("tflite_fp16", 530, 480, shape),
        "tflite_int8": _artifact("tflite_int8", 290, 250, shape),
        "tflite_int8_pruned": _artifact("tflite_int8_pruned", 290, 190, shape),  # gzip 0.76x
    }


def test_size_budgets_at_full_size():
    artifacts = _set()
    checks = {c.name: c for c in check_sizes(artifacts)}
    assert not checks["size tflite_fp16 / tflite_fp32"].passed  # 0.53 > 0.52
    assert checks["size tflite_int8 / tflite_fp32"].passed  # 0.29 <= 0.30
    assert checks["size tflite_int8 / tflite_fp32"].limit == 0.30
    pruned = checks["size tflite_int8_pruned / tflite_int8"]
    assert not pruned.passed and pruned.measured == pytest.approx(0.76)  # > 0.75
    assert "gzip_bytes" in pruned.detail
    assert check_sizes({"tflite_int8": artifacts["tflite_int8"]}) == []


def test_resized_models_report_the_full_size_ratios_without_a_budget():
    checks = {c.name: c for c in check_sizes(_set((256, 0.5, 9)))}
    fp16 = checks["size tflite_fp16 / tflite_fp32"]
    assert fp16.passed and fp16.limit is None and fp16.measured == pytest.approx(0.53)
    assert "no budget at 256 px, width 0.5, 9 class slots" in fp16.detail
    assert checks["size tflite_int8 / tflite_fp32"].limit is None
    assert checks["size tflite_int8_pruned / tflite_int8"].limit is None


def test_accuracy_budgets():
    maps = {"tflite_fp32": 0.300, "tflite_int8": 0.2941, "tflite_int8_qat": 0.2960, "tflite_fp16": 0.2968}
    maps["tflite_int8_pruned"] = 0.2840
    checks = {c.name: c for c in check_accuracy(maps)}
    assert not checks["accuracy tflite_int8_pruned"].passed  # 94.67% < 95%
    assert checks["accuracy tflite_int8"].passed  # 98.03% of fp32
    assert not checks["accuracy tflite_int8_qat"].passed  # 98.67% < 99%
    assert not checks["accuracy tflite_fp16"].passed  # 0.32 points lost
    assert "tflite_dynamic_int8" not in str(checks)
    assert check_accuracy({"tflite_int8": 0.3}) == []
