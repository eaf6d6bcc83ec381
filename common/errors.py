"""The one error type that means "the user gave us something we cannot use".

Every package may raise :class:`InputError`; the CLI turns it into one line on stderr and exit code 2.
Messages name the argument, the allowed values and what was received (DESIGN.md, Conventions).
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a missing or corrupt file, a malformed plan, an unknown name.

    The message is shown to the user as is, on one line, so it must say what is wrong and where.
    """


def choice_error(argument: str, received: object, allowed: list[str] | tuple[str, ...]) -> InputError:
    """Build the standard "unknown value" error.

    Args:
        argument: The name of the argument or key, e.g. ``--delegate`` or ``plan.targets[0].runner``.
        received: What the user gave.
        allowed: Every value that would have been accepted.

    Returns:
        An InputError whose message names all three.
    """
    return InputError(f"{argument}: got {received!r}; allowed: {', '.join(map(str, allowed))}")


class EdgebenchWarning(UserWarning):
    """A warning edgebench itself raises; the test suite turns these into errors."""
