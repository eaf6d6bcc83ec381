"""A device reached through a running ``adb`` server: the ``adb`` program, driven through ``process.run``.

Same calls and errors as :class:`device_runners.adb_transport.LibraryTransport`. adb joins the words after
``shell`` with spaces for the device shell, so the command goes as one word already quoted by
``wrap_command``; local paths are made absolute, so a file named ``-x`` is never an option.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import process
from device_runners.adb_transport import (
    FILE_MODE,
    DeviceTimeout,
    ShellResult,
    TransportError,
    split_exit,
    wrap_command,
)


class ServerTransport:
    """A device reached through a running ``adb`` server, driving the ``adb`` binary.

    Args:
        serial: The device's serial as ``adb devices`` prints it.
        adb: The adb program.
    """

    def __init__(self, serial: str, adb: str = "adb") -> None:
        self.serial = serial
        self.adb = adb

    def _run(self, args: Sequence[str], timeout: float) -> process.Completed:
        argv = [self.adb, "-s", self.serial, *args]
        try:
            return process.run(argv, timeout)
        except process.CommandTimeout as error:
            raise DeviceTimeout(str(error)) from error
        except process.CommandError as error:
            raise TransportError(f"{self.serial}: {process.tail(error.stderr or error.stdout, 3)}") from error
        except FileNotFoundError as error:
            raise TransportError(f"adb program {self.adb!r} not found") from error

    def shell(self, argv: Sequence[str], timeout: float) -> ShellResult:
        """Run one command on the device and wait for it."""
        # adb joins its arguments with spaces for the device shell: pass one pre-quoted word.
        return split_exit(self._run(["shell", wrap_command(argv)], timeout).stdout)

    def push(self, local: Path, remote: str, timeout: float, mode: int = FILE_MODE) -> None:
        """Copy a local file to the device (absolute local path: a leading '-' is never an option)."""
        self._run(["push", str(Path(local).resolve()), remote], timeout)
        self.shell(["chmod", f"{mode & 0o777:o}", remote], timeout)

    def pull(self, remote: str, timeout: float) -> bytes:
        """Read a device file. Raises FileNotFoundError when the device has no such file."""
        with tempfile.TemporaryDirectory(prefix="edgebench-pull-") as folder:
            local = os.path.join(folder, "pulled")
            try:
                self._run(["pull", remote, local], timeout)
            except TransportError as error:
                if "No such file" in str(error) or "does not exist" in str(error):
                    raise FileNotFoundError(f"{self.serial}:{remote}") from None
                raise
            return Path(local).read_bytes()

    def close(self) -> None:
        """Nothing to close: each call is its own adb process."""


@dataclass(frozen=True)
class ServerDevice:
    """One line of ``adb devices -l``."""

    serial: str
    state: str  # "device" when usable; "unauthorized", "offline", "recovery", ...
    attributes: dict[str, str]  # model:, product:, device:, transport_id:, usb:


def parse_devices_l(text: str) -> list[ServerDevice]:
    """Parse ``adb devices -l``."""
    found = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("List of devices", "*")):
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        attributes = dict(part.split(":", 1) for part in parts[2:] if ":" in part)
        found.append(ServerDevice(parts[0], parts[1], attributes))
    return found


def server_devices(adb: str = "adb", timeout: float = 15.0) -> list[ServerDevice]:
    """The devices a running (or auto-started) adb server sees.

    Raises:
        TransportError: adb is missing or the server does not answer.
    """
    try:
        return parse_devices_l(process.run([adb, "devices", "-l"], timeout).stdout)
    except (process.CommandError, process.CommandTimeout, FileNotFoundError) as error:
        raise TransportError(f"adb server: {error}") from error
