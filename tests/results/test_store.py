"""The store, on SQLite and PostgreSQL: one row per record, idempotent re-adds, DataFrame queries,
incremental reads, timestamps as timestamps, clear errors on bad URLs and newer stores."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from common.errors import InputError
from results.identity import identity_of
from results.schema import RunRecord, TimingSettings
from results.store import FLAT_COLUMNS, Store, resolve_url
from results.tables import meta_table

GOLDEN = Path(__file__).parent / "golden" / "record_v1.json"


def make_record(**changes) -> RunRecord:
    data = json.loads(GOLDEN.read_text())
    data.pop("record_id")
    data.update(changes)
    return RunRecord.model_validate(data)


@pytest.fixture
def store(store_url):
    opened = Store(store_url)
    yield opened
    opened.close()


def test_add_is_idempotent_per_record_id_and_the_body_lands(store):
    record = make_record()
    assert store.add(record) is True
    assert store.add(record) is False
    assert store.count() == 1
    # The bug: with psycopg the flat row landed and the body did not; read it back whole.
    assert store.records() == [record]
    assert store.record(record.record_id).timing.samples_ms == record.timing.samples_ms


def test_frame_has_flat_columns_and_filters_by_run(store):
    store.add_all([make_record(run_id="a"), make_record(run_id="a"), make_record(run_id="b")])
    frame = store.frame(run_id="a")
    assert list(frame.columns) == FLAT_COLUMNS
    assert len(frame) == 2
    assert frame.loc[0, "median_ms"] == 12.5 and bool(frame.loc[0, "fallback"]) is True
    assert frame.loc[0, "identity_key"] == identity_of(make_record()).key
    runs = store.runs()
    assert set(runs["run_id"]) == {"a", "b"}
    assert dict(zip(runs["run_id"], runs["records"], strict=True)) == {"a": 2, "b": 1}
    target = f"{make_record().target.runner}/{make_record().target.device_id}"
    assert store.run_targets() == {"a": frozenset({target}), "b": frozenset({target})}


def test_created_at_is_a_utc_timestamp_and_orders_runs(store):
    early = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    store.add(make_record(run_id="late", created_at="2026-01-02T00:00:00+02:00"))  # 2026-01-01 22:00 UTC
    store.add(make_record(run_id="early", created_at=early.isoformat()))
    frame = store.frame(columns=["run_id", "created_at"])
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]" or "UTC" in str(frame["created_at"].dtype)
    assert frame["created_at"].tolist()[1] == early
    assert store.runs()["run_id"].tolist() == ["late", "early"]
    assert store.records(run_id="late")[0].created_at == datetime(2026, 1, 1, 22, 0, tzinfo=UTC)


def test_new_rows_returns_only_what_was_stored_after_a_row(store):
    store.add_all([make_record(run_id="a") for _ in range(3)])
    first = store.new_rows(0, columns=["record_id", "run_id"])
    assert list(first.columns) == ["row", "record_id", "run_id"] and len(first) == 3
    store.add(make_record(run_id="b"))
    later = store.new_rows(int(first["row"].max()), columns=["run_id"])
    assert later["run_id"].tolist() == ["b"]


def test_steady_and_sustained_records_have_different_identities(store):
    steady = make_record()
    settings = TimingSettings(sustained_fps=30, sustained_secs=60)
    timing = steady.timing.model_copy(update={"settings": settings})
    sustained = make_record(timing=timing.model_dump())
    store.add_all([steady, sustained])
    keys = store.frame(columns=["identity_key", "sustained"])
    assert keys["identity_key"].nunique() == 2
    assert sorted(keys["sustained"].fillna("-")) == ["-", "30fps/60s"]


def test_unknown_columns_are_named(store):
    with pytest.raises(InputError, match="bogus"):
        store.frame(columns=["bogus"])


def test_a_newer_minor_field_in_a_body_is_read_not_rejected(store):
    record = make_record()
    store.add(record)
    body = json.loads(record.model_dump_json())
    body["schema_minor"] = 99
    body["artifact"]["from_the_future"] = "kept in the store"
    with store.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE record_bodies SET record_json = :j WHERE record_id = :r"),
            {"j": json.dumps(body), "r": record.record_id},
        )
    assert store.record(record.record_id) == record
    with store.engine.connect() as connection:
        kept = connection.execute(sa.text("SELECT record_json FROM record_bodies")).scalar_one()
    assert "from_the_future" in kept  # the reader never rewrites what it does not know


def test_a_newer_major_store_stops_with_the_release_to_install(store_url):
    store = Store(store_url)
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
        connection.execute(meta_table.update().where(meta_table.c.key == "store_major").values(value="3"))
        connection.execute(meta_table.update().where(meta_table.c.key == "min_release").values(value="9.1.0"))
    store.close()
    with pytest.raises(InputError, match=r"store schema 3\.x, newer than .*install edgebench >= 9\.1\.0"):
        Store(store_url)


def test_a_newer_minor_store_still_opens(store_url):
    store = Store(store_url)
    store.add(make_record())
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0098'"))
        connection.execute(sa.text("ALTER TABLE records ADD COLUMN added_later INTEGER"))
    store.close()
    reopened = Store(store_url)
    assert reopened.status().known is False
    assert reopened.add(make_record()) is True and reopened.count() == 2


def test_sqlite_store_uses_wal(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize(
    "url",
    ["/nonexistent-dir/x/edgebench.sqlite", "postgresql://nobody@127.0.0.1:1/none"],
)
def test_unreachable_store_is_one_clear_input_error(url):
    with pytest.raises(InputError, match="--store: cannot open"):
        Store(url)


def test_a_damaged_sqlite_file_stops_at_open_with_one_line_and_is_not_written(tmp_path, capsys):
    from bench.cli import main

    path = tmp_path / "s.sqlite"
    store = Store(str(path))
    for run in range(40):
        store.add(make_record(run_id=f"run-{run}"))
    with store.engine.connect() as connection:
        size = connection.exec_driver_sql("PRAGMA page_size").scalar()
    store.close()  # the last connection folds the WAL into the file
    damaged = bytearray(path.read_bytes())
    for page in range(1, len(damaged) // size):  # every page header after the first: not a page type
        damaged[page * size : page * size + 8] = b"\x55" * 8
    path.write_bytes(bytes(damaged))

    with pytest.raises(InputError, match=r"s\.sqlite is damaged \(.+\); restore a copy, or salvage"):
        Store(str(path))
    assert main(["records", "--store", str(path)]) == 2
    assert "is damaged" in capsys.readouterr().err
    assert path.read_bytes() == bytes(damaged)


@pytest.mark.parametrize("url", ["mysql+pymysql://u@127.0.0.1:1/x", "notadialect://x"])
def test_other_backends_are_refused_by_name(url):
    with pytest.raises(InputError, match=r"--store: '\w+' is not a supported backend; allowed: a SQLite"):
        Store(url)


def test_environment_variable_chooses_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEBENCH_STORE", str(tmp_path / "env.sqlite"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert resolve_url("sqlite:///elsewhere.db") == "sqlite:///elsewhere.db"
    assert resolve_url("postgres://u@h/db") == "postgresql://u@h/db"


def test_one_record_by_id_and_a_clear_error_for_an_unknown_id(store):
    record = make_record()
    store.add(record)
    assert store.record(record.record_id) == record
    with pytest.raises(InputError, match="no record 'nope'"):
        store.record("nope")
