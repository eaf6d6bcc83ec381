"""Two processes appending to one SQLite store at once lose nothing and fail nothing."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from common import process
from results.store import Store

PER_PROCESS = 200

# Each child waits for the go file, so both really write at the same time, then adds its records
# one transaction each, as a timing run does.
WRITER = """
import sys, time
from pathlib import Path
from results.schema import ArtifactInfo, Delegate, RunRecord, Status, TargetInfo, Timing
from results.store import Store

url, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = Store(url)
artifact = ArtifactInfo(path="m.tflite", sha256="0" * 64, size_bytes=1)
(go.parent / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.005)
for index in range(count):
    store.add(RunRecord(
        run_id=name, artifact=artifact, status=Status.OK, timing=Timing(samples_ms=[1.0, float(index)]),
        target=TargetInfo(runner="host", delegate=Delegate.CPU, threads=1),
    ))
print(name, "done")
"""


def test_two_processes_appending_200_records_each_end_with_400_rows(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    Store(url).close()  # create the schema once, as the first `edgebench time` would
    go = tmp_path / "go"
    outputs: dict[str, str] = {}
    errors: list[BaseException] = []

    def write(name: str) -> None:
        argv = [sys.executable, "-c", WRITER, url, name, str(PER_PROCESS), str(go)]
        try:
            outputs[name] = process.run(argv, timeout=300).stdout
        except (process.CommandError, process.CommandTimeout) as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("writer-a", "writer-b")]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline and not errors:
        time.sleep(0.01)  # both children started and wait at the line
    go.touch()
    for thread in threads:
        thread.join()
    assert not errors, errors
    store = Store(url)
    try:
        frame = store.frame(columns=["record_id", "run_id"])
    finally:
        store.close()
    assert len(frame) == 2 * PER_PROCESS and frame["record_id"].is_unique
    assert frame["run_id"].value_counts().to_dict() == {"writer-a": PER_PROCESS, "writer-b": PER_PROCESS}
