"""Ids: the one way every command names a run, and this machine's stable id.

``<kind>-<label>-YYYYmmdd-HHMMSS-<16 hex>``: readable and sortable by time, with 64 random bits so runs
that several hosts start in the same second into one shared store do not collide (with 16 bits, two
hundred runs in one second would collide more often than not, by the birthday bound).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import socket
from datetime import UTC, datetime
from pathlib import Path

RANDOM_BYTES = 8  # 64 bits


def new_run_id(kind: str, label: str | None = None) -> str:
    """A fresh run id, e.g. ``bench-smoke-20260101-120000-0123456789abcdef`` (UTC).

    Args:
        kind: What made the run: ``bench`` (a plan) or ``time`` (ad-hoc timing).
        label: The plan name, if any; characters outside ``[A-Za-z0-9_.-]`` become ``_``, and it is cut
            to 48 characters so the id fits the store's column.
    """
    parts = [kind]
    if label:
        parts.append(re.sub(r"[^A-Za-z0-9_.-]", "_", label)[:48])
    parts += [f"{datetime.now(UTC):%Y%m%d-%H%M%S}", secrets.token_hex(RANDOM_BYTES)]
    return "-".join(parts)


HOST_ID_ENV = "EDGEBENCH_HOST_ID"
_MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


@functools.cache
def host_id() -> str:
    """This machine's stable id, what host records carry as ``device_id``.

    ``$EDGEBENCH_HOST_ID`` when set (a name the team chose, e.g. ``ci-runner-3``); else ``host-`` and 16 hex
    digits of a hash of the systemd machine id (stable across reboots and renames; hashed with an
    edgebench-specific prefix, as systemd's machine-id(5) asks of applications, so the raw id never leaves
    the machine); else the hostname, when no machine id exists (macOS, minimal containers).
    """
    configured = os.environ.get(HOST_ID_ENV, "").strip()
    if configured:
        return configured
    for path in _MACHINE_ID_FILES:
        try:
            machine = path.read_text().strip()
        except OSError:
            continue
        if machine:
            return "host-" + hashlib.sha256(f"edgebench-host:{machine}".encode()).hexdigest()[:16]
    return socket.gethostname() or "local"
