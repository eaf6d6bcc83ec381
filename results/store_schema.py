"""Bring a store's tables to this edgebench's layout with Alembic, safely when several hosts share it.

- An empty database gets the tables; a store made before Alembic (tables, no ``alembic_version``) is
  stamped as revision 0001 and upgraded; a store at an older revision is upgraded.
- SQLite is upgraded automatically on open (one person's file). PostgreSQL is created automatically when
  empty, but an existing shared store is upgraded only by ``edgebench store upgrade``: the team decides when.
- Two hosts upgrading at once do not collide: PostgreSQL takes a session advisory lock, SQLite an flock on
  a file beside the database; the second waits, then finds nothing left to do.
- A store at a revision this edgebench does not know was upgraded by a newer one: a newer store *minor*
  only added columns or indexes, so it is read as is; a newer *major* stops with one line naming the
  release to install (from ``edgebench_meta``, which every major bump writes).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from common.errors import InputError
from results.tables import STORE_MAJOR, STORE_MINOR, meta_table

SCRIPTS = Path(__file__).resolve().parent / "store_migrations"
BASELINE = "0001"  # the tables every pre-Alembic edgebench created
# The newest revision in SCRIPTS (a test checks they agree): opening an up-to-date store compares the
# version row with it and never imports Alembic, a third of a second of every dashboard's first render.
HEAD = "0003"
# Any constant works as long as every edgebench uses the same one: it names "the store upgrade" lock.
_ADVISORY_LOCK_KEY = 0x6564676562656E63  # "edgebenc"


@dataclass(frozen=True)
class Status:
    """Where a store's tables stand."""

    url: str
    backend: str  # "sqlite" or "postgresql"
    revision: str | None  # Alembic revision on disk; None: no edgebench tables (or pre-Alembic, see legacy)
    head: str  # the revision this edgebench writes
    legacy: bool  # tables made before Alembic (store schema 1)
    store_major: int | None  # from edgebench_meta; None before schema 2
    known: bool  # this edgebench knows the revision on disk

    @property
    def current(self) -> bool:
        """Nothing to upgrade."""
        return self.revision == self.head

    @property
    def empty(self) -> bool:
        """No edgebench tables at all."""
        return self.revision is None and not self.legacy


def is_current(engine: sa.Engine) -> bool:
    """Whether the store is at :data:`HEAD`, answered with one query and no Alembic import."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return False
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions == [HEAD]


def _config(connection: sa.Connection | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision this edgebench's tables are at, as Alembic's scripts say."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def status(engine: sa.Engine) -> Status:
    """Where the store's tables stand, without changing anything."""
    with engine.connect() as connection:
        return _status(connection, str(engine.url))


def _status(connection: sa.Connection, url: str) -> Status:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    tables = set(sa.inspect(connection).get_table_names())
    revision = MigrationContext.configure(connection).get_current_revision()
    scripts = ScriptDirectory.from_config(_config())
    known = revision is None or _has_revision(scripts, revision)
    major = None
    if meta_table.name in tables:
        value = connection.execute(
            sa.select(meta_table.c.value).where(meta_table.c.key == "store_major")
        ).scalar_one_or_none()
        major = int(value) if value is not None else None
    legacy = revision is None and "records" in tables
    return Status(url, connection.dialect.name, revision, scripts.get_current_head(), legacy, major, known)


def _has_revision(scripts, revision: str) -> bool:
    from alembic.script.revision import ResolutionError
    from alembic.util import CommandError

    try:
        return scripts.get_revision(revision) is not None
    except (ResolutionError, CommandError):  # an id from a newer edgebench's revisions
        return False


def check_readable(engine: sa.Engine, found: Status) -> None:
    """Stop with one line when a newer major edgebench wrote the store.

    Raises:
        InputError: the store's major schema is newer than this edgebench reads.
    """
    if found.known or found.store_major is None or found.store_major <= STORE_MAJOR:
        return
    with engine.connect() as connection:
        release = connection.execute(
            sa.select(meta_table.c.value).where(meta_table.c.key == "min_release")
        ).scalar_one_or_none()
    install = f"edgebench >= {release}" if release else "a newer edgebench (pip install -U edgebench)"
    raise InputError(
        f"--store: {found.url} has store schema {found.store_major}.x, newer than this edgebench reads "
        f"({STORE_MAJOR}.{STORE_MINOR}); install {install}"
    )


def upgrade(engine: sa.Engine) -> tuple[Status, Status]:
    """Upgrade the tables to this edgebench's head under the backend's lock.

    Returns:
        (before, after); ``before`` is read under the lock, so a host that waited for another's upgrade
        sees the upgraded store and does nothing.

    Raises:
        InputError: a newer major edgebench wrote the store.
    """
    with _locked(engine) as connection:
        before = _status(connection, str(engine.url))
        check_readable(engine, before)
        if before.known and not before.current:
            from alembic import command

            config = _config(connection)
            if before.legacy:
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")
            connection.commit()
        after = _status(connection, str(engine.url))
    return before, after


@contextlib.contextmanager
def _locked(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection holding the store's upgrade lock."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            # Session-level: held across Alembic's own transactions, released even if the process dies.
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with engine.connect() as connection:
            yield connection
        return
    # A lock file beside the database, never the database itself: closing any descriptor of a file drops
    # every POSIX lock the process holds on it, SQLite's included, and another process may then delete
    # the WAL under a live writer (records lost; seen with the e2e test). The kernel drops the flock if
    # the process dies.
    with open(f"{database}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
