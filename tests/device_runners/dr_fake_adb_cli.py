"""A fake ``adb`` program (the client of an adb server) over the fake device shell, for ServerTransport tests.

    adb devices -l
    adb -s SERIAL shell COMMAND...
    adb -s SERIAL push LOCAL REMOTE
    adb -s SERIAL pull REMOTE LOCAL

The device's file system is ``$EDGEBENCH_FAKE_ADB_ROOT``; every invocation's argv is appended as a JSON line
to ``$EDGEBENCH_FAKE_ADB_LOG``. Serials and states are those of recorded/adb_devices_l.txt.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from dr_fake_shell import FakeShell

RECORDED = Path(__file__).resolve().parent / "recorded"


class _Config:
    def __init__(self) -> None:
        self.root = Path(os.environ["EDGEBENCH_FAKE_ADB_ROOT"])
        self.getprop = (RECORDED / "getprop_pixel7.txt").read_text()
        self.thermal = [
            (
                (RECORDED / "dumpsys_thermalservice.txt").read_text(),
                (RECORDED / "dumpsys_battery.txt").read_text(),
            )
        ]
        outputs = {
            "cpu": "bm_cpu_scientific.txt",
            "xnnpack": "bm_xnnpack.txt",
            "gpu": "bm_gpu_partial.txt",
            "nnapi": "bm_nnapi_full.txt",
        }
        self.benchmark_outputs = {key: (RECORDED / name).read_text() for key, name in outputs.items()}
        self.proto = None
        self.old_binary = None
        self.benchmark_exit = 0


def main(argv: list[str]) -> int:
    with open(os.environ["EDGEBENCH_FAKE_ADB_LOG"], "a") as log:
        log.write(json.dumps(argv) + "\n")
    devices = (RECORDED / "adb_devices_l.txt").read_text()
    if argv[:2] == ["devices", "-l"]:
        sys.stdout.write(devices)
        return 0
    if argv[0] != "-s":
        sys.stderr.write("adb: usage\n")
        return 1
    serial, command, args = argv[1], argv[2], argv[3:]
    states = {line.split()[0]: line.split()[1] for line in devices.splitlines()[1:] if line.strip()}
    if states.get(serial) != "device":
        sys.stderr.write(
            f"adb: device '{serial}' not found\n"
            if serial not in states
            else f"adb: device {states[serial]}\n"
        )
        return 1
    shell = FakeShell(_Config())
    if command == "shell":
        sys.stdout.write(shell.run(" ".join(args)).decode())
    elif command == "push":
        shell.write_file(args[1], Path(args[0]).read_bytes(), Path(args[0]).stat().st_mode)
    elif command == "pull":
        source = shell.local(args[0])
        if not source.is_file():
            sys.stderr.write(
                f"adb: error: failed to stat remote object '{args[0]}': No such file or directory\n"
            )
            return 1
        shutil.copy(source, args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
