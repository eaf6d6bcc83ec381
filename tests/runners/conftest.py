"""Fixtures of the runner tests: small .tflite models built once per session with TensorFlow."""

from __future__ import annotations

from pathlib import Path

import pytest

from results.schema import TimingSettings
from tests.fixtures import timing_models

FIXTURE_MODELS = ("tiny_float", "tiny_int8", "detect_float", "detect_int8", "cumsum")


@pytest.fixture(scope="session")
def tflite_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> path of float, int8, TFLite_Detection_PostProcess (float, int8) and CUMSUM-only models."""
    return timing_models.build(FIXTURE_MODELS, tmp_path_factory.getbasetemp() / "tflite_models")


@pytest.fixture
def quick() -> TimingSettings:
    """Timing settings small enough for tests: one warmup run, three timed runs, no time minimums."""
    return TimingSettings(warmup_runs=1, warmup_min_secs=0, min_runs=3, min_secs=0, max_secs=30)


@pytest.fixture
def bad_models(tmp_path: Path, tflite_models: dict[str, Path]) -> dict[str, Path]:
    """Files that are not usable models: text, a truncated model, a TFL3 header followed by junk."""
    good = tflite_models["tiny_float"].read_bytes()
    paths = {
        "text": tmp_path / "notes.tflite",
        "truncated": tmp_path / "truncated.tflite",
        "garbage": tmp_path / "garbage.tflite",
    }
    paths["text"].write_text("this is not a model\n")
    paths["truncated"].write_bytes(good[: len(good) // 2])
    paths["garbage"].write_bytes(good[:8] + bytes(range(256)) * 8)
    return paths


@pytest.fixture(autouse=True)
def _no_crash_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker's test-only crash hook must be off unless a test turns it on.
    monkeypatch.delenv("EDGEBENCH_TEST_CRASH", raising=False)
