"""Where records live: SQLAlchemy Core over SQLite (one person) or PostgreSQL (a team), the same code.

Tables are in ``results.tables`` and migrated by Alembic (``results.store_schema``): a SQLite file is
upgraded on open; a shared PostgreSQL store is created on open when empty, upgraded by
``edgebench store upgrade`` otherwise. Each ``add`` is its own transaction and an
``INSERT .. ON CONFLICT (record_id) DO NOTHING .. RETURNING`` on both backends, so re-adding a record id is
a no-op however many hosts (or retried tasks) store it at once, and whether the body is written never
depends on a driver's ``rowcount`` (psycopg reports none for it, and the body was silently lost).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql, sqlite

from common.errors import InputError
from results import store_schema
from results.migrations import load_record
from results.schema import RunRecord
from results.tables import FLAT_COLUMNS, bodies_table, flatten, records_table

__all__ = ["DEFAULT_PATH", "FLAT_COLUMNS", "STORE_ENV", "Store", "resolve_url"]

STORE_ENV = "EDGEBENCH_STORE"
DEFAULT_PATH = Path(__file__).resolve().parent / "edgebench.sqlite"
_BUSY_TIMEOUT_MS = 30_000
_BACKENDS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def resolve_url(url: str | None = None) -> str:
    """The store URL: the argument, else ``$EDGEBENCH_STORE``, else the SQLite file in ``results/``.

    A plain path (no ``://``) is taken as a SQLite file. ``postgresql://`` uses psycopg 3 (SQLAlchemy
    2.1's default PostgreSQL driver, shipped with edgebench); Heroku-style ``postgres://`` is accepted too.
    """
    chosen = url or os.environ.get(STORE_ENV) or str(DEFAULT_PATH)
    if "://" not in chosen:
        return f"sqlite:///{Path(chosen).expanduser().resolve()}"
    if chosen.startswith("postgres://"):
        return "postgresql://" + chosen[len("postgres://") :]
    return chosen


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets the dashboard read while a benchmark writes; the busy timeout makes concurrent
    # writers wait their turn instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def shown(url: str) -> str:
    """The URL as messages print it: a password replaced by ``***``."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return url


def _cannot_open(url: str, error: BaseException) -> InputError:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    return InputError(f"--store: cannot open {shown(url)!r}: {reason}")


class Store:
    """A results store. Open it once per process; it is cheap to keep open.

    Args:
        url: A SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``) or a SQLite file path; see
            :func:`resolve_url`.
        upgrade: Bring the tables to this edgebench's layout when needed (SQLite always; PostgreSQL only
            when the database is empty). False: open as is (``edgebench store status``).

    Raises:
        InputError: the store cannot be opened (bad URL, unreachable server, unwritable file), is
            another backend than SQLite or PostgreSQL, was written by a newer major edgebench (the line
            names the release to install), or is a PostgreSQL store that needs ``edgebench store upgrade``.
    """

    def __init__(self, url: str | None = None, upgrade: bool = True) -> None:
        self.url = resolve_url(url)
        try:
            backend = sa.engine.make_url(self.url).get_backend_name()
            if backend not in _BACKENDS:
                raise InputError(
                    f"--store: {backend!r} is not a supported backend; allowed: "
                    "a SQLite file (sqlite:///path or a path) or PostgreSQL (postgresql://user@host/db)"
                )
            self.engine = sa.create_engine(self.url)
        except (exc.SQLAlchemyError, ImportError, ValueError) as error:
            raise _cannot_open(self.url, error) from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _tune_sqlite)
        try:
            self._open(upgrade)
        except (exc.SQLAlchemyError, OSError) as error:
            self.engine.dispose()
            raise _cannot_open(self.url, error) from None

    def _open(self, upgrade: bool) -> None:
        if self.engine.dialect.name == "sqlite":
            self._check_intact()
        if store_schema.is_current(self.engine):
            return
        found = store_schema.status(self.engine)
        store_schema.check_readable(self.engine, found)
        if found.current or not found.known or not upgrade:
            return  # an unknown revision of a readable major: a newer minor, read as is
        if self.engine.dialect.name == "sqlite" or found.empty:
            store_schema.upgrade(self.engine)
            return
        revision = found.revision or "v1"
        raise InputError(
            f"--store: {shown(self.url)} has the tables of an older edgebench (revision {revision}, "
            f"this one writes {found.head}); run `edgebench store upgrade --store URL` once for the team"
        )

    def _check_intact(self) -> None:
        """Stop before reading a SQLite file whose pages are damaged (a disk fault, a copy cut short, an
        edit as text): otherwise the first query that meets the damage fails mid-command with a traceback.
        SQLite's quick check reads every page once (milliseconds for thousands of records)."""
        with self.engine.connect() as connection:
            verdict = connection.execute(sa.text("PRAGMA quick_check(1)")).scalar()
        if verdict != "ok":
            first = str(verdict).replace("*** in database main ***", "").strip().splitlines()[0]
            path = self.engine.url.database
            raise InputError(
                f"--store: {path} is damaged ({first}); restore a copy, or salvage what SQLite can read "
                f"with `sqlite3 {path} .recover | sqlite3 NEW.sqlite` and pass --store NEW.sqlite"
            )

    def status(self) -> store_schema.Status:
        """Where the tables stand (revision on disk, this edgebench's head)."""
        return store_schema.status(self.engine)

    def upgrade(self) -> tuple[store_schema.Status, store_schema.Status]:
        """Upgrade the tables under the store's lock; returns (before, after)."""
        return store_schema.upgrade(self.engine)

    def add(self, record: RunRecord) -> bool:
        """Store one record in its own transaction.

        Returns:
            True if it was stored, False if a record with the same ``record_id`` already was.
        """
        statements = self._inserts
        body = {"record_id": record.record_id, "record_json": record.model_dump_json()}
        with self.engine.begin() as connection:
            if connection.execute(statements[0], flatten(record)).first() is None:
                return False
            connection.execute(statements[1], body)
            return True

    @functools.cached_property
    def _inserts(self) -> tuple:
        # Built once, values passed at execution: SQLAlchemy then compiles each statement once per
        # process instead of once per record (half the cost of an add on a loaded machine).
        # RETURNING says whether this statement inserted the row, on both backends and every driver; a
        # single INSERT .. ON CONFLICT also takes SQLite's write lock at once (a SELECT first would upgrade
        # a read lock, which SQLite refuses without waiting).
        insert = _BACKENDS[self.engine.dialect.name]
        row = (
            insert(records_table)
            .on_conflict_do_nothing(index_elements=["record_id"])
            .returning(records_table.c.id)
        )
        body = insert(bodies_table).on_conflict_do_nothing(index_elements=["record_id"])
        return row, body

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
        return [load_record(json.loads(text)) for text in rows]

    def record(self, record_id: str) -> RunRecord:
        """One full record by id.

        Raises:
            InputError: no record has this id.
        """
        query = sa.select(bodies_table.c.record_json).where(bodies_table.c.record_id == record_id)
        with self.engine.connect() as connection:
            text = connection.execute(query).scalar_one_or_none()
        if text is None:
            raise InputError(f"record_id: no record {record_id!r} in {shown(self.url)}")
        return load_record(json.loads(text))

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

    def new_rows(self, after_row: int = 0, columns: list[str] | None = None) -> pd.DataFrame:
        """The flat columns of the records stored after row ``after_row``, in storing order, with a ``row``
        column (the store's insertion counter): what a reader holding rows up to N fetches to catch up.

        A row id is taken when a transaction inserts, not when it commits, so with concurrent writers a
        lower row can appear after a higher one was seen: a reader compares its row count with
        :meth:`count` and reloads when they differ (``dashboard.data`` does).
        """
        wanted = columns or FLAT_COLUMNS
        unknown = sorted(set(wanted) - set(FLAT_COLUMNS))
        if unknown:
            raise InputError(f"columns: unknown {unknown}; allowed: {', '.join(FLAT_COLUMNS)}")
        c = records_table.c
        query = (
            sa.select(c.id.label("row"), *(c[name] for name in wanted))
            .where(c.id > int(after_row))
            .order_by(c.id)
        )
        with self.engine.connect() as connection:
            return pd.read_sql(query, connection)

    def run_targets(self) -> dict[str, frozenset[str]]:
        """Each run's target set: the ``runner/device`` pairs it measured (an index-only scan)."""
        c = records_table.c
        query = sa.select(c.run_id, c.runner, c.device_id).distinct()
        targets: dict[str, set[str]] = {}
        with self.engine.connect() as connection:
            for run_id, runner, device in connection.execute(query):
                targets.setdefault(run_id, set()).add(f"{runner}/{device}")
        return {run_id: frozenset(found) for run_id, found in targets.items()}

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
