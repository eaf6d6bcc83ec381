"""Four processes x 500 inserts into one new store at once, a share of them repeating record ids (as Ray's
retries and resumed runs do): exactly 2,000 - repeats rows, every body, no error; SQLite and PostgreSQL.
The processes also race to create the tables, as the first runs against a new store do."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from common import process
from results.store import Store

PROCESSES = 4
PER_PROCESS = 500
SHARED = 100  # ids every process inserts: 3 of each 4 inserts of them are repeats

# Each child waits for the go file, so all really write at the same time, then adds its records one
# transaction each, as a timing run does. It prints how many adds said "new" and its insert rate.
WRITER = """
import json, sys, time
from pathlib import Path
from results.schema import ArtifactInfo, Delegate, RunRecord, Status, TargetInfo, Timing
from results.store import Store

url, name, count, shared, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
store = Store(url)
artifact = ArtifactInfo(path="m.tflite", sha256="0" * 64, size_bytes=1)
ids = [f"shared-{i:04d}" for i in range(shared)] + [f"{name}-{i:04d}" for i in range(count - shared)]
records = [RunRecord(
    record_id=rid, run_id=name, artifact=artifact, status=Status.OK, timing=Timing(samples_ms=[1.0, 2.0]),
    target=TargetInfo(runner="host", delegate=Delegate.CPU, threads=1),
) for rid in ids]
(go.parent / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.005)
start = time.perf_counter()
new = sum(store.add(record) for record in records)
print(json.dumps({"new": new, "per_s": count / (time.perf_counter() - start)}))
"""


def test_four_processes_inserting_500_each_with_repeated_ids(store_url: str, tmp_path: Path):
    # No schema yet: the four race to create it (the store's upgrade lock), then write while the others
    # still open and upgrade-check the same file.
    go = tmp_path / "go"
    outputs: dict[str, dict] = {}
    errors: list[BaseException] = []

    def write(name: str) -> None:
        argv = [sys.executable, "-c", WRITER, store_url, name, str(PER_PROCESS), str(SHARED), str(go)]
        try:
            outputs[name] = json.loads(process.run(argv, timeout=600).stdout)
        except (process.CommandError, process.CommandTimeout) as error:
            errors.append(error)

    names = [f"writer-{i}" for i in range(PROCESSES)]
    threads = [threading.Thread(target=write, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 300
    while len(list(tmp_path.glob("ready-*"))) < PROCESSES and time.monotonic() < deadline and not errors:
        time.sleep(0.01)  # every child started and waits at the line
    go.touch()
    # Meanwhile a reader opens, counts and closes the store over and over, as the dashboard and the e2e
    # test's poller do: on SQLite, the last connection of a process closing may checkpoint and delete the
    # WAL, so any lost lock of the writers (an upgrade once closed the database file) loses records.
    counts = []
    while any(thread.is_alive() for thread in threads):
        reader = Store(store_url)
        counts.append(reader.count())
        reader.close()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert counts == sorted(counts)  # a reader never sees the store shrink
    repeats = (PROCESSES - 1) * SHARED
    expected = PROCESSES * PER_PROCESS - repeats
    assert sum(out["new"] for out in outputs.values()) == expected
    store = Store(store_url)
    try:
        frame = store.frame(columns=["record_id", "run_id"])
        bodies = len(store.records())
    finally:
        store.close()
    assert len(frame) == expected and frame["record_id"].is_unique and bodies == expected
    own = frame[~frame["record_id"].str.startswith("shared-")]
    assert own["run_id"].value_counts().to_dict() == {name: PER_PROCESS - SHARED for name in names}
    rates = ", ".join(f"{out['per_s']:.0f}" for out in outputs.values())
    print(f"\n{store_url.split(':')[0]}: inserts/s per process while 4 write at once: {rates}")
