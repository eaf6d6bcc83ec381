"""Fixtures of the CLI tests: small models (built once per session) and a store in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import timing_models

FIXTURE_MODELS = ("tiny_float", "tiny_int8", "detect_float", "detect_int8", "unresolved_custom_op")


@pytest.fixture(scope="session")
def tflite_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> path; shares its directory (and so its cache) with the runner tests' fixture."""
    return timing_models.build(FIXTURE_MODELS, tmp_path_factory.getbasetemp() / "tflite_models")


@pytest.fixture(autouse=True)
def default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point $EDGEBENCH_STORE at a temp file so no test writes results/edgebench.sqlite."""
    path = tmp_path / "default.sqlite"
    monkeypatch.setenv("EDGEBENCH_STORE", str(path))
    monkeypatch.delenv("EDGEBENCH_TEST_CRASH", raising=False)
    return path
