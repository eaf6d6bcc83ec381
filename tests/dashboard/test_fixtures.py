"""tests.fixtures.records: valid, varied, reproducible synthetic records (the dashboard's test data)."""

from __future__ import annotations

from collections import Counter

import pytest

from results.schema import Status
from results.store import Store
from tests.fixtures.grid import build_grid
from tests.fixtures.records import fill_store, synthetic_records


def test_same_seed_same_records_other_seed_other_records():
    first = list(synthetic_records(60, seed=1))
    assert first == list(synthetic_records(60, seed=1))
    assert [r.record_id for r in first] != [r.record_id for r in synthetic_records(60, seed=2)]


def test_records_cover_every_axis_and_outcome():
    records = list(synthetic_records(3000, seed=0))
    assert len(records) == 3000
    statuses = Counter(r.status for r in records)
    assert set(statuses) == set(Status)
    assert statuses[Status.OK] > 0.9 * len(records)
    assert len({r.run_id for r in records}) >= 2
    assert len({r.model.variant for r in records}) == 5
    assert len({r.artifact.recipe for r in records}) == 9
    assert len({r.target.device_model for r in records}) == 5
    assert {r.target.delegate.value for r in records} >= {"cpu", "xnnpack", "gpu", "nnapi", "coreml_ane"}
    assert len({r.target.threads for r in records}) >= 3
    assert any(r.fallback and r.fallback.full for r in records)
    assert any(r.fallback and not r.fallback.full for r in records)
    assert any(r.timing and r.timing.sustained for r in records)
    assert any(r.status is Status.OK and r.accuracy is None for r in records)
    assert len({r.accuracy.dataset_id for r in records if r.accuracy}) == 2


def test_every_run_measures_the_same_configurations():
    records = list(synthetic_records(300, seed=0, runs=3))
    by_run: dict[str, set] = {}
    for record in records:
        by_run.setdefault(record.run_id, set()).add(record.identity)
    assert len(by_run) == 3 and len({frozenset(ids) for ids in by_run.values()}) == 1


def test_latency_follows_the_documented_orders_of_magnitude():
    grid = {(c.variant, c.recipe, c.device.model, c.delegate.value, c.threads): c for c in build_grid()}
    key = ("ssdlite_mobilenet_v2", "tflite_fp32", "Pixel 7")
    # DESIGN.md: XNNPack 5-10x faster than the builtin kernels.
    assert 5 <= grid[(*key, "cpu", 4)].latency_ms / grid[(*key, "xnnpack", 4)].latency_ms <= 10
    assert grid[(*key, "xnnpack", 1)].latency_ms > grid[(*key, "xnnpack", 4)].latency_ms


def test_fill_store_is_idempotent(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    assert fill_store(store, 50, seed=4) == 50
    assert fill_store(store, 50, seed=4) == 0
    assert store.count() == 50


def test_negative_count_is_rejected():
    with pytest.raises(ValueError, match="n: got -1"):
        next(synthetic_records(-1))
