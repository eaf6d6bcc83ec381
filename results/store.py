"""Where records live: SQLAlchemy Core over SQLite by default, any SQLAlchemy URL otherwise.

Two tables: ``records`` holds one row of flat columns per record, the fields people filter and plot by,
so queries and the dashboard never touch JSON for 100,000 rows; ``record_bodies`` holds the full record
as JSON (the source of truth, raw samples included), read only when whole records are asked for.
Each ``add`` is its own transaction, and re-adding a record id is a no-op, so an interrupted
pipeline can re-store what it already stored without duplicating it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event, exc

from common.errors import InputError
from results.migrations import upgrade
from results.schema import RunRecord

STORE_ENV = "EDGEBENCH_STORE"
DEFAULT_PATH = Path(__file__).resolve().parent / "edgebench.sqlite"
_BUSY_TIMEOUT_MS = 30_000

_metadata = sa.MetaData()
records_table = sa.Table(
    "records",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.String(64), nullable=False, unique=True),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("plan", sa.String(128)),
    sa.Column("variant", sa.String(128)),
    sa.Column("input_size", sa.Integer),
    sa.Column("params", sa.BigInteger),
    sa.Column("madds", sa.BigInteger),
    sa.Column("recipe", sa.String(64)),
    sa.Column("format", sa.String(16)),
    sa.Column("artifact_path", sa.Text),
    sa.Column("sha256", sa.String(64)),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("gzip_bytes", sa.BigInteger),
    sa.Column("runner", sa.String(32)),
    sa.Column("device_id", sa.String(256)),
    sa.Column("device_model", sa.String(256)),
    sa.Column("delegate", sa.String(16)),
    sa.Column("threads", sa.Integer),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("fallback", sa.Boolean),
    sa.Column("median_ms", sa.Float),
    sa.Column("p90_ms", sa.Float),
    sa.Column("std_ms", sa.Float),
    sa.Column("init_ms", sa.Float),
    sa.Column("peak_memory_mb", sa.Float),
    sa.Column("dataset_id", sa.String(128)),
    sa.Column("map", sa.Float),
    sa.Column("ar100", sa.Float),
)
bodies_table = sa.Table(
    "record_bodies",
    _metadata,
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("record_json", sa.Text, nullable=False),
)

# The flat columns a DataFrame gets by default (everything but the surrogate key).
FLAT_COLUMNS = [c.name for c in records_table.columns if c.name != "id"]


def resolve_url(url: str | None = None) -> str:
    """The store URL: the argument, else ``$EDGEBENCH_STORE``, else the SQLite file in ``results/``.

    A plain path (no ``://``) is taken as a SQLite file.
    """
    chosen = url or os.environ.get(STORE_ENV) or str(DEFAULT_PATH)
    return chosen if "://" in chosen else f"sqlite:///{Path(chosen).expanduser().resolve()}"


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets the dashboard read while a benchmark writes; the busy timeout makes concurrent
    # writers wait their turn instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Store:
    """A results store. Open it once per process; it is cheap to keep open.

    Args:
        url: A SQLAlchemy URL or a SQLite file path; see :func:`resolve_url`.

    Raises:
        InputError: the store cannot be opened (bad URL, unreachable server, unwritable file).
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_url(url)
        try:
            self.engine = sa.create_engine(self.url, future=True)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _tune_sqlite)
            _metadata.create_all(self.engine)
        except (exc.SQLAlchemyError, ImportError, ValueError) as error:
            reason = str(getattr(error, "orig", None) or error).splitlines()[0]
            raise InputError(f"--store: cannot open {self.url!r}: {reason}") from None

    def add(self, record: RunRecord) -> bool:
        """Store one record in its own transaction.

        Returns:
            True if it was stored, False if a record with the same ``record_id`` already was.
        """
        row = _flatten(record)
        statement = self._insert_ignoring_duplicates(row)
        with self.engine.begin() as connection:
            if statement is not None:
                if connection.execute(statement).rowcount != 1:
                    return False
            else:
                try:
                    with connection.begin_nested():
                        connection.execute(records_table.insert().values(**row))
                except exc.IntegrityError:
                    return False
            body = {"record_id": record.record_id, "record_json": record.model_dump_json()}
            connection.execute(bodies_table.insert().values(**body))
            return True

    def _insert_ignoring_duplicates(self, row: dict):
        # A single INSERT .. ON CONFLICT DO NOTHING takes the write lock at once; a SELECT-then-INSERT
        # would upgrade a read lock, which SQLite refuses without waiting (busy timeout or not).
        name = self.engine.dialect.name
        if name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            return None
        return insert(records_table).values(**row).on_conflict_do_nothing(index_elements=["record_id"])

    def add_all(self, records: Iterable[RunRecord]) -> int:
        """Store records one transaction each; returns how many were new."""
        return sum(self.add(record) for record in records)

    def has(self, record_id: str) -> bool:
        """Whether a record with this id is stored."""
        query = sa.select(records_table.c.id).where(records_table.c.record_id == record_id)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def records(self, run_id: str | None = None) -> list[RunRecord]:
        """Full records (raw samples included), oldest first, optionally of one run."""
        query = (
            sa.select(bodies_table.c.record_json)
            .join(records_table, records_table.c.record_id == bodies_table.c.record_id)
            .order_by(records_table.c.id)
        )
        if run_id is not None:
            query = query.where(records_table.c.run_id == run_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).scalars().all()
        return [RunRecord.model_validate(upgrade(json.loads(text))) for text in rows]

    def record(self, record_id: str) -> RunRecord:
        """One full record by id.

        Raises:
            InputError: no record has this id.
        """
        query = sa.select(bodies_table.c.record_json).where(bodies_table.c.record_id == record_id)
        with self.engine.connect() as connection:
            text = connection.execute(query).scalar_one_or_none()
        if text is None:
            raise InputError(f"record_id: no record {record_id!r} in {self.url}")
        return RunRecord.model_validate(upgrade(json.loads(text)))

    def frame(self, run_id: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """The flat columns as a DataFrame, one row per record, oldest first.

        Args:
            run_id: Only this run's records.
            columns: A subset of :data:`FLAT_COLUMNS`; all of them by default.
        """
        wanted = columns or FLAT_COLUMNS
        unknown = sorted(set(wanted) - set(FLAT_COLUMNS))
        if unknown:
            raise InputError(f"columns: unknown {unknown}; allowed: {', '.join(FLAT_COLUMNS)}")
        query = sa.select(*(records_table.c[name] for name in wanted)).order_by(records_table.c.id)
        if run_id is not None:
            query = query.where(records_table.c.run_id == run_id)
        with self.engine.connect() as connection:
            return pd.read_sql(query, connection)

    def runs(self) -> pd.DataFrame:
        """One row per run: run id, plan, git commit, first record time, record count; newest first."""
        c = records_table.c
        query = (
            sa.select(
                c.run_id,
                sa.func.min(c.plan).label("plan"),
                sa.func.min(c.git_commit).label("git_commit"),
                sa.func.min(c.created_at).label("started_at"),
                sa.func.count().label("records"),
            )
            .group_by(c.run_id)
            .order_by(sa.func.min(c.created_at).desc())
        )
        with self.engine.connect() as connection:
            return pd.read_sql(query, connection)

    def count(self) -> int:
        """How many records are stored."""
        with self.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(records_table)).scalar_one()

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def _flatten(record: RunRecord) -> dict:
    timing = record.timing
    accuracy = record.accuracy
    return {
        "record_id": record.record_id,
        "schema_version": record.schema_version,
        "run_id": record.run_id,
        "created_at": record.created_at.isoformat(),
        "git_commit": record.git_commit,
        "plan": record.plan,
        "variant": record.model.variant,
        "input_size": record.model.input_size,
        "params": record.model.params,
        "madds": record.model.madds,
        "recipe": record.artifact.recipe,
        "format": record.artifact.format.value,
        "artifact_path": record.artifact.path,
        "sha256": record.artifact.sha256,
        "size_bytes": record.artifact.size_bytes,
        "gzip_bytes": record.artifact.gzip_bytes,
        "runner": record.target.runner,
        "device_id": record.target.device_id,
        "device_model": record.target.device_model,
        "delegate": record.target.delegate.value,
        "threads": record.target.threads,
        "status": record.status.value,
        "fallback": record.fallback is not None,
        "median_ms": timing.median_ms if timing else None,
        "p90_ms": timing.p90_ms if timing else None,
        "std_ms": timing.std_ms if timing else None,
        "init_ms": timing.init_ms if timing else None,
        "peak_memory_mb": timing.peak_memory_mb if timing else None,
        "dataset_id": accuracy.dataset_id if accuracy else None,
        "map": accuracy.map if accuracy else None,
        "ar100": accuracy.ar100 if accuracy else None,
    }
