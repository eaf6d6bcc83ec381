"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server (skipped, with the
reason, where Debian's PostgreSQL binaries are not installed)."""

from __future__ import annotations

import os
import uuid

import pytest
from pg_server import Server, binaries, running

from common import process

REQUIRE_ENV = "EDGEBENCH_REQUIRE_POSTGRES"  # .ci/run sets it: on CI a missing server fails, never skips


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server for the whole session, in a temporary data directory."""
    bin_dir = binaries()
    if bin_dir is None:
        _unavailable(
            "PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin); `make system-deps`"
        )
    try:
        with running(bin_dir) as server:
            yield server
    except (RuntimeError, process.CommandError, process.CommandTimeout) as error:
        _unavailable(f"cannot start a PostgreSQL server: {error}")


def new_database(server: Server) -> str:
    """A fresh, empty database on ``server``; its SQLAlchemy URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        f"host=127.0.0.1 port={server.port} user={server.user} dbname=postgres", autocommit=True
    ) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty store's URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return new_database(request.getfixturevalue("pg_server"))
