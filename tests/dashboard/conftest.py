"""Stores for the dashboard tests: a synthetic one (tests.fixtures.records) and an empty one."""

from __future__ import annotations

from pathlib import Path

import pytest

from results.store import Store
from tests.fixtures.records import fill_store

FIXTURE_RECORDS = 1200  # two runs of 600 configurations: every page has something to draw and compare


@pytest.fixture(scope="session")
def fixture_store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store with synthetic records of three runs (seed 0), filled once per session."""
    path = tmp_path_factory.mktemp("store") / "fixture.sqlite"
    store = Store(str(path))
    fill_store(store, FIXTURE_RECORDS, seed=0, runs=3)
    store.close()
    return str(path)


@pytest.fixture()
def empty_store_url(tmp_path: Path) -> str:
    """A path where a fresh, empty store will be created."""
    return str(tmp_path / "empty.sqlite")
