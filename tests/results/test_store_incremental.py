"""The dashboard's loading is incremental: after the first load it reads only rows stored later, and
reloads in full when a concurrent writer's lower row shows up late; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dashboard import data
from results.store import Store
from tests.fixtures.records import synthetic_records

COLUMNS = ["record_id", "run_id", "median_ms"]


@pytest.fixture
def opened(store_url, monkeypatch):
    store = Store(store_url)
    calls: list[int] = []
    original = store.new_rows

    def spy(after_row=0, columns=None):
        calls.append(after_row)
        return original(after_row, columns)

    monkeypatch.setattr(store, "new_rows", spy)
    monkeypatch.setattr(data, "open_store", lambda url: store)
    data._held.clear()
    yield store, calls
    data._held.clear()
    store.close()


def test_only_rows_after_the_last_one_held_are_read(opened):
    store, calls = opened
    records = list(synthetic_records(30, seed=1))
    store.add_all(records[:20])
    first = data.held_rows(store.url, COLUMNS, store.count())
    assert len(first) == 20 and calls == [0]
    assert data.held_rows(store.url, COLUMNS, store.count()) is not None and calls == [0]  # nothing new
    store.add_all(records[20:])
    later = data.held_rows(store.url, COLUMNS, store.count())
    assert calls[-1] > 0 and len(calls) == 2  # one incremental read, from the last row held
    assert later["record_id"].tolist() == [r.record_id for r in records]


def test_a_row_that_appears_below_the_last_one_held_forces_a_full_reload(opened):
    store, calls = opened
    records = list(synthetic_records(11, seed=2))
    store.add_all(records[:10])
    late = records[2].record_id
    with store.engine.begin() as connection:
        low = connection.execute(sa.text("SELECT id FROM records WHERE record_id = :r"), {"r": late}).scalar()
        connection.execute(sa.text("DELETE FROM records WHERE record_id = :r"), {"r": late})
    assert len(data.held_rows(store.url, COLUMNS, store.count())) == 9
    store.add(records[2])  # as if a slower transaction had taken the low row and committed late
    with store.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE records SET id = :low WHERE record_id = :r"), {"low": low, "r": late}
        )
    store.add(records[10])
    frame = data.held_rows(store.url, COLUMNS, store.count())
    assert calls[-2] > 0 and calls[-1] == 0  # the incremental read fell short, so it reloaded
    assert sorted(frame["record_id"]) == sorted(r.record_id for r in records)
