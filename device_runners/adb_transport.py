"""Talking to an Android device with the adb-shell library (TCP ``host:port``, or USB with libusb).

This transport and :class:`device_runners.adb_server.ServerTransport` (a running ``adb`` server) offer
the same four calls (``shell``, ``push``, ``pull``, ``close``) and raise the same two
errors: :class:`TransportError` (the link broke: worth a retry on a fresh connection) and
:class:`DeviceTimeout` (the device did not answer in time: not retried, a hung benchmark would only
hang again). Every shell command is an argv list joined with ``shlex.join``, so paths and serials
with spaces, quotes or ``;`` reach the device as one word each, and never as shell syntax.

The device shell's exit status is read from a marker echoed after the command, because adb's
original shell protocol (the one adb-shell speaks, and old devices) carries no exit status.
"""

from __future__ import annotations

import io
import re
import select
import shlex
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from adb_shell import exceptions as adb_errors
from adb_shell.adb_device import AdbDevice
from adb_shell.transport.tcp_transport import TcpTransport

EXIT_MARKER = "__EDGEBENCH_EXIT__="
_EXIT = re.compile(rf"\r?\n?{re.escape(EXIT_MARKER)}(\d+)\s*$")
FILE_MODE = 0o100644
EXECUTABLE_MODE = 0o100755

# adb-shell errors that mean the connection, not the command, went wrong.
_LINK_ERRORS = (
    adb_errors.AdbConnectionError,
    adb_errors.InvalidResponseError,
    adb_errors.InvalidCommandError,
    adb_errors.InvalidChecksumError,
    adb_errors.UsbReadFailedError,
    adb_errors.UsbWriteFailedError,
    adb_errors.DeviceAuthError,
    OSError,  # refused, reset, broken pipe, unreachable
)
_TIMEOUTS = (adb_errors.AdbTimeoutError, adb_errors.TcpTimeoutException)


class TransportError(Exception):
    """The connection to the device failed or broke; a new connection may succeed."""


class UsbUnavailable(TransportError):
    """USB was needed but neither libusb support nor an adb server is available: retrying cannot help."""


class DeviceTimeout(Exception):
    """The device did not finish in time."""


@dataclass(frozen=True)
class ShellResult:
    """What a device command printed (stdout and stderr together) and its exit status."""

    output: str
    exit_code: int


def wrap_command(argv: Sequence[str]) -> str:
    """One device command line: the quoted argv, stderr folded into stdout, then the exit marker."""
    return f"{shlex.join(str(part) for part in argv)} 2>&1; echo {EXIT_MARKER}$?"


def split_exit(output: str) -> ShellResult:
    """Separate the exit marker from the output.

    Raises:
        TransportError: the marker is missing, so the stream ended before the command did.
    """
    match = _EXIT.search(output)
    if not match:
        raise TransportError("the device shell stream ended before the command finished")
    return ShellResult(output[: match.start()], int(match.group(1)))


class _SafeTcpTransport(TcpTransport):
    """adb-shell's TCP transport, made safe for long runs and large pushes.

    adb-shell 0.4.4 uses a non-blocking socket but ignores partial ``send`` results (a large push
    would be corrupted) and treats end-of-stream as "no data yet" (a dropped connection would spin
    until the read timeout). This subclass sends everything, reports end-of-stream at once, and
    disables Nagle's algorithm.
    """

    def connect(self, transport_timeout_s: float | None) -> None:
        super().connect(transport_timeout_s)
        # adb writes a 24-byte header and its payload separately: without TCP_NODELAY, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every message.
        self._connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def bulk_read(self, numbytes: int, transport_timeout_s: float | None) -> bytes:
        data = super().bulk_read(numbytes, transport_timeout_s)
        if not data:
            raise ConnectionResetError(f"{self._host}:{self._port} closed the connection")
        return data

    def bulk_write(self, data: bytes, transport_timeout_s: float | None) -> int:
        view = memoryview(data)
        while view:
            _, writable, _ = select.select([], [self._connection], [], transport_timeout_s)
            if not writable:
                raise adb_errors.TcpTimeoutException(f"sending to {self._host}:{self._port} timed out")
            view = view[self._connection.send(view) :]
        return len(data)


class LibraryTransport:
    """A device reached through the adb-shell library: ``host:port`` over TCP, or USB with libusb.

    Args:
        device: An unconnected ``AdbDevice`` (see :func:`tcp_device`, :func:`usb_device`).
        serial: The id records carry.
        signers: adb RSA key signers for devices that ask for authentication.
        connect_timeout: Seconds for the TCP connect and the CNXN handshake.
    """

    def __init__(
        self, device: AdbDevice, serial: str, signers: list | None = None, connect_timeout: float = 10.0
    ):
        self.device = device
        self.serial = serial
        self._signers = signers or None
        self._connect_timeout = connect_timeout

    def _connected(self) -> AdbDevice:
        if not self.device.available:
            try:
                self.device.connect(
                    rsa_keys=self._signers,
                    transport_timeout_s=self._connect_timeout,
                    auth_timeout_s=self._connect_timeout,
                    read_timeout_s=self._connect_timeout,
                )
            except (*_LINK_ERRORS, *_TIMEOUTS) as error:
                raise TransportError(f"cannot connect to {self.serial}: {_describe(error)}") from error
        return self.device

    def shell(self, argv: Sequence[str], timeout: float) -> ShellResult:
        """Run one command on the device and wait for it."""
        command = wrap_command(argv)
        output = self._call(
            lambda d: d.shell(command, transport_timeout_s=timeout, read_timeout_s=timeout, timeout_s=timeout)
        )
        return split_exit(output)

    def push(self, local: Path, remote: str, timeout: float, mode: int = FILE_MODE) -> None:
        """Copy a local file to the device."""
        self._call(
            lambda d: d.push(
                str(local), remote, st_mode=mode, transport_timeout_s=timeout, read_timeout_s=timeout
            )
        )

    def pull(self, remote: str, timeout: float) -> bytes:
        """Read a device file. Raises FileNotFoundError when the device has no such file."""
        buffer = io.BytesIO()
        try:
            self._call(lambda d: d.pull(remote, buffer, transport_timeout_s=timeout, read_timeout_s=timeout))
        except adb_errors.AdbCommandFailureException as error:
            raise FileNotFoundError(f"{self.serial}:{remote}: {error}") from None
        return buffer.getvalue()

    def close(self) -> None:
        """Drop the connection (the next call reconnects)."""
        self.device.close()

    def _call(self, action):
        device = self._connected()
        try:
            return action(device)
        except _TIMEOUTS as error:
            self.close()
            raise DeviceTimeout(f"{self.serial}: {_describe(error)}") from error
        except _LINK_ERRORS as error:
            self.close()
            raise TransportError(f"{self.serial}: {_describe(error)}") from error


def tcp_device(host: str, port: int) -> AdbDevice:
    """An adb-over-TCP device (``adb tcpip``, an emulator's adb port, Wi-Fi debugging)."""
    return AdbDevice(_SafeTcpTransport(host, port))


def usb_device(serial: str | None) -> AdbDevice:
    """A USB device through libusb (``adb-shell[usb]``).

    Raises:
        UsbUnavailable: libusb support is not installed.
        TransportError: no such device is plugged in.
    """
    from adb_shell.adb_device import AdbDeviceUsb, UsbTransport

    if UsbTransport is None:
        raise UsbUnavailable(
            "USB needs adb-shell's libusb support (pip install 'adb-shell[usb]') or a running adb server "
            "(adb on PATH); or connect over TCP (target host and port)"
        )
    try:
        return AdbDeviceUsb(serial=serial)
    except (adb_errors.InvalidTransportError, adb_errors.UsbDeviceNotFoundError) as error:
        raise TransportError(f"USB device {serial or '(any)'}: {error}") from None


def load_signers(key_path: Path | None) -> list:
    """adb's RSA key (``~/.android/adbkey`` by default) as adb-shell signers; empty when there is none."""
    path = (key_path or Path("~/.android/adbkey")).expanduser()
    if not (path.is_file() and Path(f"{path}.pub").is_file()):
        return []
    from adb_shell.auth.sign_cryptography import CryptographySigner

    return [CryptographySigner(str(path))]


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
