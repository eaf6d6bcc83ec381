"""``edgebench store status|upgrade``: where a store's tables stand, and bringing them to this release.

A SQLite file is upgraded whenever edgebench opens it; a shared PostgreSQL store is upgraded only here,
once, by whoever updates edgebench first (the others wait on the store's lock, then find it done).
Older edgebench releases of the same store major keep reading an upgraded store.
"""

from __future__ import annotations

import argparse

from results.store import Store
from results.store_schema import Status


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``edgebench store``."""
    parser = subparsers.add_parser(
        "store",
        help="show or upgrade the results store's tables (SQLite or PostgreSQL)",
        description="Show where the store's tables stand, or upgrade them to this edgebench's layout.",
    )
    parser.add_argument("action", choices=["status", "upgrade"], help="status: show; upgrade: migrate now")
    parser.add_argument(
        "--store", help="store URL or SQLite path (default: $EDGEBENCH_STORE or results/edgebench.sqlite)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the status, or upgrade and print what changed; 0 unless the input was bad."""
    store = Store(args.store, upgrade=False)
    try:
        if args.action == "status":
            found = store.status()
            print(describe(found))
            if found.known and not found.current:
                print("run `edgebench store upgrade` to upgrade it")
            return 0
        before, after = store.upgrade()
    finally:
        store.close()
    if before.revision == after.revision and not before.legacy:
        print(f"{after.url}: already at revision {after.revision}; nothing to do")
    else:
        print(f"{after.url}: upgraded from {_revision(before)} to revision {after.revision}")
    return 0


def describe(found: Status) -> str:
    """One line: backend, revision on disk and this edgebench's, and what that means."""
    if found.current:
        verdict = "up to date"
    elif not found.known:
        verdict = f"written by a newer edgebench (store schema {found.store_major}.x); readable"
    elif found.empty:
        verdict = "empty: the tables are created on first use"
    else:
        verdict = "needs an upgrade"
    where = f"{found.url} ({found.backend})"
    return f"{where}: revision {_revision(found)}, this edgebench writes {found.head}: {verdict}"


def _revision(found: Status) -> str:
    if found.legacy:
        return "v1 (before migrations)"
    return found.revision or "none"
