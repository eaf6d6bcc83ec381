"""Commands and copies on a Linux board over OpenSSH's ``ssh`` and ``scp``, through ``process.run``.

Every remote command is an argv list joined with ``shlex.join`` (the remote side always runs it through
the login shell, so each word is quoted), followed by an exit-status marker: ssh's own exit status is
255 for its errors and otherwise the remote shell's, and the marker tells "the command ran and exited
N" apart from "the connection failed". Host names go after ``--`` so a host like ``-oProxyCommand=...``
is a host name, never an option. Options: BatchMode (never prompt), ConnectTimeout, StrictHostKeyChecking,
the identity file and port of the target, and connection multiplexing (ControlMaster) unless disabled.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import process
from device_runners.base import DeviceInfo
from device_runners.targets import TargetConfig

EXIT_MARKER = "__EDGEBENCH_EXIT__="
_EXIT = re.compile(rf"{re.escape(EXIT_MARKER)}(\d+)\s*$")
SSH_FAILURE = 255  # ssh's own exit status for connection and authentication errors


class SshError(Exception):
    """ssh or scp could not reach the board (or lost it); worth a retry."""


@dataclass(frozen=True)
class RemoteResult:
    """A remote command that ran: its output and exit status (128 + N when killed by signal N)."""

    argv: list[str]
    stdout: str
    stderr: str
    exit_code: int


class SshClient:
    """One board, as a target describes it."""

    def __init__(self, target: TargetConfig, ssh: str = "ssh", scp: str = "scp") -> None:
        self.target = target
        self.ssh = ssh
        self.scp = scp

    def options(self, port_flag: str) -> list[str]:
        """Options common to ssh (``-p``) and scp (``-P``)."""
        target = self.target
        options = [
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={max(1, round(target.connect_timeout_secs))}",
            "-o",
            f"StrictHostKeyChecking={target.strict_host_key_checking}",
        ]
        if target.known_hosts_file is not None:
            options += ["-o", f"UserKnownHostsFile={_config_value(str(target.known_hosts_file))}"]
        if target.identity_file is not None:
            options += ["-i", str(Path(target.identity_file).expanduser()), "-o", "IdentitiesOnly=yes"]
        if target.user:
            options += ["-o", f"User={_config_value(target.user)}"]
        if target.port:
            options += [port_flag, str(target.port)]
        if target.multiplex:
            # One TCP connection and key exchange for the ~7 commands of a timing, not one each (a
            # handshake costs 0.3-1 s on a small board); the master exits 30 s after its last use.
            options += [
                "-o",
                "ControlMaster=auto",
                "-o",
                f"ControlPath={_control_dir()}/%C",
                "-o",
                "ControlPersist=30",
            ]
        return options

    def run(self, argv: Sequence[str], timeout: float) -> RemoteResult:
        """Run one command on the board.

        Raises:
            SshError: ssh failed (exit 255) or the output ended before the command did.
            CommandTimeout: it did not finish within ``timeout`` (from common.process).
        """
        command = f"{shlex.join(str(word) for word in argv)}; echo {EXIT_MARKER}$?"
        local = [self.ssh, *self.options("-p"), "--", self.target.host, command]
        try:
            done = process.run(local, timeout)
            stdout, stderr = done.stdout, done.stderr
        except process.CommandError as error:
            if error.returncode == SSH_FAILURE or not _EXIT.search(error.stdout):
                raise SshError(
                    f"ssh {self.target.host}: {process.tail(error.stderr, 2) or error.describe_exit()}"
                ) from None
            stdout, stderr = error.stdout, error.stderr
        match = _EXIT.search(stdout)
        if not match:
            raise SshError(f"ssh {self.target.host}: the output ended before the command finished")
        return RemoteResult(list(argv), stdout[: match.start()], stderr, int(match.group(1)))

    def copy_to(self, local: Path, remote: str, timeout: float) -> None:
        """Copy a file to the board; ``remote`` is a path the runner made (no shell characters).

        Raises:
            SshError: the copy failed.
        """
        # An absolute local path: a name with ':' is never taken for host:path, nor '-x' for an option.
        source = str(Path(local).resolve())
        destination = f"{_bracketed(self.target.host)}:{remote}"
        try:
            process.run([self.scp, "-q", *self.options("-P"), "--", source, destination], timeout)
        except (process.CommandError, process.CommandTimeout) as error:
            raise SshError(
                f"scp to {self.target.host}: {process.tail(getattr(error, 'stderr', ''), 2) or error}"
            ) from None


def _control_dir() -> str:
    """A private directory for ssh's multiplexing sockets (short: socket paths are limited to ~100 bytes)."""
    folder = Path(tempfile.gettempdir()) / f"edgebench-ssh-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return str(folder)


def _config_value(value: str) -> str:
    # ssh parses "-o Key=value" like a config line: a value with spaces must be double-quoted.
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# Constant text (no user values): uname, the device-tree model and compatible list (boards), /proc/cpuinfo.
_INFO_SCRIPT = (
    "uname -srm; echo __EB__; cat /proc/device-tree/model 2>/dev/null; echo; echo __EB__; "
    "cat /proc/device-tree/compatible 2>/dev/null | tr '\\000' ' '; echo; echo __EB__; "
    "cat /proc/cpuinfo 2>/dev/null"
)


def board_info(client: SshClient, delegates: tuple = ()) -> DeviceInfo:
    """Model, OS, SoC and ABI of a board.

    Raises:
        SshError: the board does not answer.
    """
    done = client.run(["sh", "-c", _INFO_SCRIPT], 60.0)
    return parse_board_info(done.stdout, client.target.device_id, delegates)


def parse_board_info(text: str, device_id: str, delegates: tuple = ()) -> DeviceInfo:
    """The info script's output as a DeviceInfo.

    Model: the device-tree model ("Raspberry Pi 5 Model B Rev 1.0"), else the CPU's name. SoC: cpuinfo's
    Hardware line (older Pi kernels), else the last device-tree compatible entry ("brcm,bcm2712").
    """
    parts = (text.split("__EB__\n") + ["", "", "", ""])[:4]
    uname = parts[0].split()
    tree_model = parts[1].replace("\x00", "").strip() or None
    compatible = parts[2].split()
    cpuinfo = _cpuinfo(parts[3])
    return DeviceInfo(
        runner="ssh",
        device_id=device_id,
        model=tree_model or cpuinfo.get("model name") or cpuinfo.get("Model"),
        os=" ".join(uname[:2]) or None,
        soc=cpuinfo.get("Hardware") or (compatible[-1] if compatible else None),
        abi=uname[2] if len(uname) > 2 else None,
        delegates=delegates,
    )


def _cpuinfo(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if value.strip():
            fields.setdefault(key.strip(), value.strip())
    return fields


def board_temperature(client: SshClient) -> str | None:
    """The hottest /sys/class/thermal zone as '52.1C', for ``thermal_before`` / ``thermal_after``.

    Returns None when the board has no thermal zone or does not answer.
    """
    try:
        done = client.run(["sh", "-c", "cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null"], 30.0)
    except (SshError, process.CommandTimeout):
        return None
    readings = [int(word) for word in done.stdout.split() if word.lstrip("-").isdigit()]
    if not readings:
        return None
    hottest = max(readings)
    return f"{hottest / 1000.0 if abs(hottest) > 1000 else float(hottest):.1f}C"  # sysfs: millidegrees
