"""Runners keyed by name, raising on duplicates (torchvision's model-registry pattern)."""

from __future__ import annotations

from collections.abc import Callable

from common.errors import choice_error

_RUNNERS: dict[str, Callable[..., object]] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator: make a runner available under ``name``.

    Raises:
        ValueError: another runner already has this name.
    """

    def decorate(cls: type) -> type:
        if name in _RUNNERS:
            raise ValueError(f"runner {name!r} is already registered by {_RUNNERS[name]!r}")
        _RUNNERS[name] = cls
        cls.name = name
        return cls

    return decorate


def runner_class(name: str) -> Callable[..., object]:
    """The runner class registered as ``name``.

    Raises:
        InputError: no runner has that name (the message lists those that do).
    """
    _load_builtin_runners()
    if name not in _RUNNERS:
        raise choice_error("runner", name, sorted(_RUNNERS))
    return _RUNNERS[name]


def runner_names() -> list[str]:
    """Every registered runner name, sorted."""
    _load_builtin_runners()
    return sorted(_RUNNERS)


def _load_builtin_runners() -> None:
    # Importing a runner module registers it; kept here so callers need only the registry.
    import importlib

    for module in BUILTIN_RUNNER_MODULES:
        importlib.import_module(module)


# Each module registers one runner. Add new runners here.
BUILTIN_RUNNER_MODULES = [
    "device_runners.host",
    "device_runners.adb",
    "device_runners.coreml_mac",
    "device_runners.ssh",
]
