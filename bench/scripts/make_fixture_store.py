"""Fill a results store with synthetic records, for trying the dashboard or benchmarking it.

    python -m bench.scripts.make_fixture_store --store /tmp/demo.sqlite --records 5000 --seed 0

The records come from ``results.fixtures`` (valid ``RunRecord`` s; figures plausible, not measured).
"""

from __future__ import annotations

import argparse
import sys
import time

from common.errors import InputError
from results.fixtures import fill_store
from results.store import Store


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and fill the store; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="SQLAlchemy URL or SQLite file path")
    parser.add_argument("--records", type=int, default=5000, help="how many records to add (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--runs", type=int, default=None, help="spread over this many runs (default: as needed)"
    )
    args = parser.parse_args(argv)
    if args.records < 0:
        print(f"--records: got {args.records}; allowed: 0 or more", file=sys.stderr)
        return 2
    try:
        store = Store(args.store)
    except InputError as error:
        print(error, file=sys.stderr)
        return 2
    started = time.perf_counter()
    added = fill_store(store, args.records, seed=args.seed, runs=args.runs)
    seconds = time.perf_counter() - started
    print(f"added {added} record(s) to {store.url} in {seconds:.1f} s; {store.count()} stored")
    return 0


if __name__ == "__main__":
    sys.exit(main())
