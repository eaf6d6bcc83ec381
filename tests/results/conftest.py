"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server (skipped, with the
reason, where Debian's PostgreSQL binaries are not installed)."""

from __future__ import annotations

import os

import pytest
from pg_server import binaries, new_database, running

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


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty store's URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return new_database(request.getfixturevalue("pg_server"))
