"""A fake Android device that speaks the ADB wire protocol on 127.0.0.1, for the adb runner's tests.

adb-shell connects to it exactly as to a phone in ``adb tcpip`` mode: CNXN handshake (optionally with
AUTH token / signature / public key), then OPEN / OKAY / WRTE / CLSE streams for the ``shell:`` and
``sync:`` services (SEND / DATA / DONE, RECV, STAT, QUIT). Shell commands are tokenised like a POSIX shell
(``shlex`` with punctuation), so a badly quoted argument really does run a second command here (``touch``
creates a file in the device's file system, a temp directory): the injection tests can fail.
``benchmark_model`` replays recorded outputs chosen by its delegate flags.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dr_fake_shell import FakeShell

MAXDATA = 256 * 1024
_HEADER = struct.Struct("<6I")
A_CNXN, A_AUTH, A_OPEN, A_OKAY, A_WRTE, A_CLSE = (
    int.from_bytes(name, "little") for name in (b"CNXN", b"AUTH", b"OPEN", b"OKAY", b"WRTE", b"CLSE")
)
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3


@dataclass
class DeviceConfig:
    """What the fake device is and how it behaves."""

    root: Path  # the device's file system lives under this directory
    getprop: str
    thermal: list[tuple[str, str]]  # (dumpsys thermalservice, dumpsys battery) per reading; the last repeats
    benchmark_outputs: dict[str, str]  # "cpu" / "xnnpack" / "gpu" / "nnapi" -> recorded stdout
    proto: bytes | None = None  # written to --result_file_path when given (None: the binary writes none)
    old_binary: str | None = None  # "warn": prints "Unconsumed cmdline flags" and runs; "fail": exits 1
    drop_when: Callable[[str], bool] | None = None  # close the connection instead of answering this command
    benchmark_exit: int = 0  # e.g. 139 for a segfault
    auth_key: object | None = None  # cryptography RSA public key: require AUTH with this key
    sysfs: dict[str, list[str]] = field(default_factory=dict)  # device path -> values `cat` gives in turn
    battery: str | None = (
        None  # `dumpsys battery` output (else the thermal script's); "powered: false" unplugged
    )
    battery_unplugged: bool = False  # `dumpsys battery unplug` is in effect (until `reset`)
    screen: list[str] = field(default_factory=list)  # `dumpsys power` mWakefulness in turn
    commands: list[str] = field(default_factory=list)  # every shell command received, raw
    pushes: list[tuple[str, int, str]] = field(default_factory=list)  # (path, mode, sha256 of the bytes)
    connections: int = 0


class FakeAdbDevice:
    """Listens on 127.0.0.1 (a free port) until :meth:`stop`."""

    def __init__(self, config: DeviceConfig) -> None:
        self.config = config
        self.shell = FakeShell(config)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # so the accept loop notices stop() quickly
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.config.connections += 1
            threading.Thread(target=_Connection(self, connection).run, daemon=True).start()


class _Dropped(Exception):
    """The device hangs up (a cable pulled, adbd restarted)."""


class _Connection:
    def __init__(self, device: FakeAdbDevice, sock: socket.socket) -> None:
        self.device, self.config, self.sock = device, device.config, sock
        self.streams: dict[int, _SyncStream] = {}
        self.next_id = 100
        self.token = os.urandom(20)

    def run(self) -> None:
        try:
            while True:
                command, arg0, arg1, data = self._read()
                self._dispatch(command, arg0, arg1, data)
        except (_Dropped, ConnectionError, OSError):
            pass
        finally:
            self.sock.close()

    def _read(self):
        header = self._exact(_HEADER.size)
        command, arg0, arg1, length, checksum, magic = _HEADER.unpack(header)
        if magic != command ^ 0xFFFFFFFF:
            raise _Dropped("bad magic")
        data = self._exact(length) if length else b""
        return command, arg0, arg1, data

    def _exact(self, size: int) -> bytes:
        chunks = b""
        while len(chunks) < size:
            chunk = self.sock.recv(size - len(chunks))
            if not chunk:
                raise _Dropped("client closed")
            chunks += chunk
        return chunks

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        header = _HEADER.pack(command, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, command ^ 0xFFFFFFFF)
        self.sock.sendall(header + data)

    def _dispatch(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == A_CNXN:
            self._hello() if self.config.auth_key is None else self.send(A_AUTH, AUTH_TOKEN, 0, self.token)
        elif command == A_AUTH:
            self._auth(arg0, data)
        elif command == A_OPEN:
            self._open(arg0, data.rstrip(b"\0").decode())
        elif command == A_WRTE:
            self.send(A_OKAY, arg1, arg0)  # flow control: acknowledge every write
            if arg1 in self.streams:
                self.streams[arg1].feed(data)
        elif command == A_CLSE and self.streams.pop(arg1, None) is not None:
            self.send(A_CLSE, arg1, arg0)
        # OKAY from the client acknowledges our writes: nothing to do.

    def _hello(self) -> None:
        self.send(A_CNXN, 0x01000000, MAXDATA, b"device::ro.product.name=panther;ro.product.model=Pixel 7;\0")

    def _auth(self, kind: int, data: bytes) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, utils

        if kind == AUTH_SIGNATURE:
            try:
                self.config.auth_key.verify(
                    data, self.token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1())
                )
            except InvalidSignature:
                self.send(A_AUTH, AUTH_TOKEN, 0, self.token)
                return
            self._hello()
        # AUTH_RSAPUBLICKEY would need the user to accept the key on the phone: never answered here.

    def _open(self, local_id: int, destination: str) -> None:
        remote_id, self.next_id = self.next_id, self.next_id + 1
        service, _, command = destination.partition(":")
        self.send(A_OKAY, remote_id, local_id)
        if service == "shell":
            self.config.commands.append(command)
            if self.config.drop_when and self.config.drop_when(command):
                self._write(remote_id, local_id, b"INFO: STARTING!\n")
                raise _Dropped("dropped on purpose")
            output = self.device.shell.run(command)
            for start in range(0, len(output), 4096):
                self._write(remote_id, local_id, output[start : start + 4096])
            self.send(A_CLSE, remote_id, local_id)
        elif service == "sync":
            self.streams[remote_id] = _SyncStream(self, remote_id, local_id)
        else:
            self.send(A_CLSE, remote_id, local_id)

    def _write(self, remote_id: int, local_id: int, data: bytes) -> None:
        self.send(A_WRTE, remote_id, local_id, data)


class _SyncStream:
    """The file-sync protocol of one ``sync:`` stream (requests arrive split over WRTE packets)."""

    def __init__(self, connection: _Connection, remote_id: int, local_id: int) -> None:
        self.connection, self.remote_id, self.local_id = connection, remote_id, local_id
        self.buffer = b""
        self.sending: tuple[str, int] | None = None  # (path, mode) of a SEND in progress
        self.received = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 8:
            ident, size = struct.unpack("<4sI", self.buffer[:8])
            body_size = 0 if ident in (b"DONE", b"QUIT") else size
            if len(self.buffer) < 8 + body_size:
                return
            body, self.buffer = self.buffer[8 : 8 + body_size], self.buffer[8 + body_size :]
            self._request(ident, size, body)

    def _reply(self, data: bytes) -> None:
        self.connection._write(self.remote_id, self.local_id, data)

    def _request(self, ident: bytes, size: int, body: bytes) -> None:
        shell = self.connection.device.shell
        if ident == b"SEND":
            path, _, mode = body.decode().rpartition(",")
            self.sending, self.received = (path, int(mode)), b""
        elif ident == b"DATA":
            self.received += body
        elif ident == b"DONE" and self.sending:
            path, mode = self.sending
            shell.write_file(path, self.received, mode)
            digest = hashlib.sha256(self.received).hexdigest()
            self.connection.config.pushes.append((path, mode, digest))
            self.sending = None
            self._reply(b"OKAY" + struct.pack("<I", 0))
        elif ident == b"RECV":
            self._recv(body.decode())
        elif ident == b"STAT":
            local = shell.local(body.decode())
            stat = local.stat() if local.exists() else None
            values = (stat.st_mode, stat.st_size, int(stat.st_mtime)) if stat else (0, 0, 0)
            self._reply(b"STAT" + struct.pack("<3I", *values))
        elif ident == b"QUIT":
            self.connection.streams.pop(self.remote_id, None)
            self.connection.send(A_CLSE, self.remote_id, self.local_id)

    def _recv(self, path: str) -> None:
        local = self.connection.device.shell.local(path)
        if not local.is_file():
            message = b"No such file or directory"
            self._reply(b"FAIL" + struct.pack("<I", len(message)) + message)
            return
        data = local.read_bytes()
        reply = b"".join(
            b"DATA" + struct.pack("<I", len(data[i : i + 65536])) + data[i : i + 65536]
            for i in range(0, len(data), 65536)
        )
        self._reply(reply + b"DONE" + struct.pack("<I", 0))


def quoted_words(command: str) -> list[str]:
    """The words of a device command as the device shell would split them (for assertions)."""
    return shlex.split(command)
