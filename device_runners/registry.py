"""Runners keyed by name, raising on duplicates (torchvision's model-registry pattern).

The registry is the one list of runners: plans validate ``runner:`` against it, ``edgebench devices``
discovers through every entry, and the pipeline asks the registered class which formats it takes and
which delegates it times by default. A new runner is a module whose class derives from
:class:`device_runners.base.Runner` and is decorated with ``@register("name")``, plus its line in
``BUILTIN_RUNNER_MODULES`` below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from common.errors import choice_error
from device_runners.base import Runner

_RUNNERS: dict[str, type[Runner]] = {}

# Each module registers one runner. Add new runners here.
BUILTIN_RUNNER_MODULES = [
    "device_runners.host",
    "device_runners.adb",
    "device_runners.coreml_mac",
    "device_runners.ssh",
    "device_runners.ios",
]


def register(name: str) -> Callable[[type[Runner]], type[Runner]]:
    """Class decorator: make a runner available under ``name``.

    Raises:
        ValueError: another runner already has this name.
        TypeError: the class is not a Runner or names no artifact format.
    """

    def decorate(cls: type[Runner]) -> type[Runner]:
        if name in _RUNNERS:
            raise ValueError(f"runner {name!r} is already registered by {_RUNNERS[name]!r}")
        if not (isinstance(cls, type) and issubclass(cls, Runner)):
            raise TypeError(f"runner {name!r}: {cls!r} does not derive from device_runners.base.Runner")
        if not cls.formats:
            raise TypeError(f"runner {name!r}: {cls.__name__}.formats names no artifact format")
        _RUNNERS[name] = cls
        cls.name = name
        return cls

    return decorate


def runner_class(name: str) -> type[Runner]:
    """The runner class registered as ``name``.

    Raises:
        InputError: no runner has that name (the message lists those that do).
    """
    _load_builtin_runners()
    if name not in _RUNNERS:
        raise choice_error("runner", name, sorted(_RUNNERS))
    return _RUNNERS[name]


def runner_names() -> list[str]:
    """Every registered runner name: the built-in ones in the order of their modules below, then others."""
    _load_builtin_runners()
    builtin = {module: rank for rank, module in enumerate(BUILTIN_RUNNER_MODULES)}
    # Stable, so runners registered later (a plugin, a test) keep their registration order.
    return sorted(_RUNNERS, key=lambda name: builtin.get(_RUNNERS[name].__module__, len(builtin)))


def _load_builtin_runners() -> None:
    # Importing a runner module registers it; kept here so callers need only the registry.
    for module in BUILTIN_RUNNER_MODULES:
        importlib.import_module(module)
