"""A real OpenSSH server on 127.0.0.1 for the SSH runner's tests: fresh keys, a free port, torn down after.

Skips (with the reason) when /usr/sbin/sshd or ssh-keygen is missing: CI installs Debian's
``openssh-server`` and ``openssh-client``.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class Sshd:
    port: int
    user: str
    identity_file: Path
    known_hosts: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30)


def _config(folder: Path, port: int) -> Path:
    sftp = next(
        (p for p in ("/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server") if Path(p).exists()), None
    )
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {folder / 'host_key'}",
        f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "StrictModes no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "LogLevel ERROR",
    ]
    if sftp:
        lines.append(f"Subsystem sftp {sftp}")  # scp of OpenSSH >= 9 speaks SFTP
    path = folder / "sshd_config"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def running_sshd(folder: Path) -> Iterator[Sshd]:
    """Start sshd as a child on a free port; stop it on exit."""
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None or shutil.which("ssh") is None:
        pytest.skip(
            "needs OpenSSH (/usr/sbin/sshd, ssh, ssh-keygen): apt-get install openssh-server openssh-client"
        )
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        Path("/run/sshd").mkdir(mode=0o755)  # sshd's privilege-separation directory, made by its service
    folder.mkdir(parents=True, exist_ok=True)
    _keygen(folder / "host_key")
    _keygen(folder / "client_key")
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    port = _free_port()
    child = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(_config(folder, port))], stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for(port, child)
        yield Sshd(port, getpass.getuser(), folder / "client_key", folder / "known_hosts")
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def _wait_for(port: int, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if child.poll() is not None:
            pytest.fail(f"sshd exited with {child.returncode}: {child.stderr.read()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    pytest.fail("sshd did not start listening within 15 s")
