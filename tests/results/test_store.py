"""The store: one row per record, idempotent re-adds, DataFrame queries, clear errors on bad URLs."""

import json
from pathlib import Path

import pytest

from common.errors import InputError
from results.schema import RunRecord
from results.store import FLAT_COLUMNS, Store, resolve_url

GOLDEN = Path(__file__).parent / "golden" / "record_v1.json"


def make_record(**changes) -> RunRecord:
    data = json.loads(GOLDEN.read_text())
    data.pop("record_id")
    data.update(changes)
    return RunRecord.model_validate(data)


def test_add_is_idempotent_per_record_id(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    record = make_record()
    assert store.add(record) is True
    assert store.add(record) is False
    assert store.count() == 1
    assert store.records() == [record]


def test_frame_has_flat_columns_and_filters_by_run(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.add_all([make_record(run_id="a"), make_record(run_id="a"), make_record(run_id="b")])
    frame = store.frame(run_id="a")
    assert list(frame.columns) == FLAT_COLUMNS
    assert len(frame) == 2
    assert frame.loc[0, "median_ms"] == 12.5 and bool(frame.loc[0, "fallback"]) is True
    runs = store.runs()
    assert set(runs["run_id"]) == {"a", "b"}
    assert dict(zip(runs["run_id"], runs["records"], strict=True)) == {"a": 2, "b": 1}


def test_unknown_columns_are_named(tmp_path):
    with pytest.raises(InputError, match="bogus"):
        Store(str(tmp_path / "s.sqlite")).frame(columns=["bogus"])


def test_sqlite_store_uses_wal(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize(
    "url",
    ["/nonexistent-dir/x/edgebench.sqlite", "postgresql://nobody@127.0.0.1:1/none", "notadialect://x"],
)
def test_unreachable_store_is_one_clear_input_error(url):
    with pytest.raises(InputError, match="--store: cannot open"):
        Store(url)


def test_environment_variable_chooses_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEBENCH_STORE", str(tmp_path / "env.sqlite"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert resolve_url("sqlite:///elsewhere.db") == "sqlite:///elsewhere.db"


def test_one_record_by_id_and_a_clear_error_for_an_unknown_id(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    record = make_record()
    store.add(record)
    assert store.record(record.record_id) == record
    with pytest.raises(InputError, match="no record 'nope'"):
        store.record("nope")
