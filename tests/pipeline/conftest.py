"""Fixtures of the pipeline tests (the fakes themselves are in pl_fakes.py)."""

from __future__ import annotations

import pytest
from pl_fakes import Fakes

from bench.provenance import Provenance
from results.schema import ModelInfo


@pytest.fixture
def fakes(monkeypatch):
    """Install the fakes; returns them for call counts and failure switches."""
    import bench.evaluation
    import bench.pipeline.stages as stages
    import bench.training
    import converters
    import device_runners.registry as registry

    found = Fakes()
    monkeypatch.setattr(bench.training, "train", found.train)
    monkeypatch.setattr(converters, "convert", found.convert)
    monkeypatch.setattr(bench.evaluation, "evaluate_artifact", found.evaluate)
    monkeypatch.setattr(registry, "runner_class", found.runner_class(registry.runner_class))
    monkeypatch.setattr(stages, "conversion_inputs_for", lambda *args: object())
    monkeypatch.setattr(stages, "model_info", lambda cfg: ModelInfo(variant=cfg.name, params=10, madds=20))
    provenance = Provenance("abc", False)
    monkeypatch.setattr("bench.pipeline.run.run_provenance", lambda: provenance)
    return found


@pytest.fixture
def options(tmp_path):
    """Options with a work folder and a store in tmp_path."""
    from bench.pipeline import Options

    return Options(workdir=tmp_path / "work", store=str(tmp_path / "store.sqlite"), quiet=True)
