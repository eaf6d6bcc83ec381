"""The one retry loop: call again on the errors named, waiting a backoff that doubles, then give up.

Runners use it for transport trouble (a dropped adb connection, an ssh link that does not answer);
errors of any other type pass straight through on the first attempt, so only what a fresh try can fix is
retried. The waits follow the usual exponential backoff: ``first``, ``2 * first``, ``4 * first``...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class GaveUp(Exception):
    """Every attempt failed with a retryable error; ``last`` is the final one."""

    def __init__(self, attempts: int, last: BaseException) -> None:
        self.attempts = attempts
        self.last = last
        super().__init__(f"gave up after {attempts} attempts; last: {last}")


def retry(
    call: Callable[[], T],
    *,
    on: tuple[type[BaseException], ...],
    attempts: int,
    first_backoff_secs: float,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Call ``call()`` until it returns, retrying on the given error types with doubling waits.

    Args:
        call: The attempt; takes no arguments.
        on: The exception types worth another attempt; any other exception propagates at once.
        attempts: How many calls at most (at least 1).
        first_backoff_secs: The wait before the second attempt; each later wait doubles it.
        sleep: The wait function (tests pass a recorder).

    Returns:
        What the first successful call returned.

    Raises:
        GaveUp: every attempt raised one of ``on``; it carries the last error as ``last`` and ``__cause__``.
        ValueError: ``attempts`` is below 1.
    """
    if attempts < 1:
        raise ValueError(f"attempts: must be at least 1; got {attempts}")
    for attempt in range(attempts):
        if attempt:
            sleep(first_backoff_secs * 2 ** (attempt - 1))
        try:
            return call()
        except on as error:
            last = error
    raise GaveUp(attempts, last) from last
