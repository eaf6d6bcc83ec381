"""A throwaway PostgreSQL server for the store tests: Debian's binaries, a temporary data directory.

``initdb`` and ``pg_ctl`` refuse to run as root, so under root they run as the ``postgres`` user (the
Debian package creates it) in a directory handed to that user; otherwise as the current user. The
server listens on 127.0.0.1 on a free port with trust authentication and no Unix socket outside the
data directory, and is stopped (immediate mode) and deleted at the end of the session.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from common import process

_START_TIMEOUT_S = 60.0


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (``/usr/lib/postgresql/N/bin``), or None."""
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()]
    return max(found, key=lambda p: int(p.parent.name)) if found else None


@dataclass(frozen=True)
class Server:
    """A running server: ``url(db)`` for a database on it."""

    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def running(bin_dir: Path) -> Iterator[Server]:
    """Start a server for the duration of the block.

    Raises:
        RuntimeError: running as root without a ``postgres`` user to run the server as.
    """
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and no 'postgres' user to run the server as") from None
    root = Path(tempfile.mkdtemp(prefix="edgebench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=50"
    try:
        init = [str(bin_dir / "initdb"), "-D", str(data), "-U", "edgebench", "--auth=trust", "-E", "UTF8"]
        process.run(_as_owner(init), timeout=120)
        start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w"]
        process.run(
            _as_owner([*start, "-t", str(int(_START_TIMEOUT_S)), "start"]), timeout=_START_TIMEOUT_S + 10
        )
        try:
            yield Server(port, "edgebench")
        finally:
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            process.run(_as_owner(stop), timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def new_database(server: Server) -> str:
    """A fresh, empty database on ``server``; its SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        f"host=127.0.0.1 port={server.port} user={server.user} dbname=postgres", autocommit=True
    ) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)
