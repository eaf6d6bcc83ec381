"""The one way edgebench shells out: an argv list, a timeout, typed errors. Never ``shell=True``."""

from __future__ import annotations

import shlex
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

_TAIL_LINES = 20


@dataclass(frozen=True)
class Completed:
    """A command that exited 0."""

    argv: list[str]
    stdout: str
    stderr: str


class CommandError(Exception):
    """A command exited non-zero or was killed by a signal (``returncode`` < 0 is the signal number)."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        reason = tail(stderr, 3) or "(no stderr)"
        super().__init__(f"{shlex.join(self.argv)} {self.describe_exit()}: {reason}")

    @property
    def signal(self) -> int | None:
        """The signal that killed the command, if one did."""
        return -self.returncode if self.returncode < 0 else None

    def describe_exit(self) -> str:
        """'exited with 1' or 'was killed by SIGSEGV'."""
        if self.signal is None:
            return f"exited with {self.returncode}"
        try:
            return f"was killed by {signal.Signals(self.signal).name}"
        except ValueError:
            return f"was killed by signal {self.signal}"


class CommandTimeout(Exception):
    """A command ran longer than its timeout and was killed."""

    def __init__(self, argv: Sequence[str], timeout: float, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"{shlex.join(self.argv)} timed out after {timeout:g} s")


def run(
    argv: Sequence[str],
    timeout: float,
    *,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> Completed:
    """Run a command to completion.

    Args:
        argv: The program and its arguments; no shell is involved, so nothing needs quoting.
        timeout: Seconds before the command is killed.
        input_text: Text for its standard input.
        env: The full environment (the current one when None).
        cwd: Working directory.

    Returns:
        Its output, when it exited 0.

    Raises:
        CommandError: it exited non-zero or died from a signal.
        CommandTimeout: it did not finish in time.
        FileNotFoundError: the program does not exist.
    """
    argv = [str(part) for part in argv]
    try:
        done = subprocess.run(
            argv,
            input=input_text,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=env,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        raise CommandTimeout(argv, timeout, _text(expired.stdout), _text(expired.stderr)) from None
    if done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stdout, done.stderr)
    return Completed(argv, done.stdout, done.stderr)


def tail(text: str, lines: int = _TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of ``text``, for error messages and records."""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value
