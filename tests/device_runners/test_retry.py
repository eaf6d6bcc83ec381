"""common.retry: retries only the named errors, doubles the wait, gives up with the last error."""

from __future__ import annotations

import pytest

from common.retry import GaveUp, retry


class Flaky:
    """Raises the given errors in turn, then returns "done"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_succeeds_after_retryable_errors_with_doubling_waits():
    sleeps: list[float] = []
    call = Flaky(ConnectionError("a"), ConnectionError("b"))
    assert (
        retry(call, on=(ConnectionError,), attempts=4, first_backoff_secs=0.5, sleep=sleeps.append) == "done"
    )
    assert call.calls == 3 and sleeps == [0.5, 1.0]


def test_gives_up_with_the_last_error():
    sleeps: list[float] = []
    call = Flaky(OSError("first"), OSError("second"), OSError("third"))
    with pytest.raises(GaveUp) as caught:
        retry(call, on=(OSError,), attempts=3, first_backoff_secs=2.0, sleep=sleeps.append)
    assert caught.value.attempts == 3 and str(caught.value.last) == "third"
    assert str(caught.value) == "gave up after 3 attempts; last: third"
    assert caught.value.__cause__ is caught.value.last and sleeps == [2.0, 4.0]


def test_other_errors_pass_through_at_once():
    sleeps: list[float] = []
    call = Flaky(KeyError("not a link problem"))
    with pytest.raises(KeyError):
        retry(call, on=(OSError,), attempts=5, first_backoff_secs=1.0, sleep=sleeps.append)
    assert call.calls == 1 and sleeps == []


def test_one_attempt_never_sleeps_and_zero_is_refused():
    sleeps: list[float] = []
    with pytest.raises(GaveUp):
        retry(Flaky(OSError("x")), on=(OSError,), attempts=1, first_backoff_secs=1.0, sleep=sleeps.append)
    assert sleeps == []
    with pytest.raises(ValueError, match="attempts"):
        retry(Flaky(), on=(OSError,), attempts=0, first_backoff_secs=1.0)
