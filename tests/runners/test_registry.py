"""The runner registry: the one list of runners, and what each registered class must say of itself."""

from __future__ import annotations

import pytest

import device_runners.registry as registry
from common.errors import InputError
from device_runners.base import Runner
from device_runners.targets import TargetConfig
from results.schema import ArtifactFormat, Delegate

BUILTIN = {
    "host": ((ArtifactFormat.TFLITE,), (Delegate.CPU, Delegate.XNNPACK)),
    "adb": ((ArtifactFormat.TFLITE,), (Delegate.CPU, Delegate.XNNPACK, Delegate.GPU)),
    "coreml_mac": ((ArtifactFormat.COREML,), (Delegate.COREML_ALL,)),
    "ssh": ((ArtifactFormat.TFLITE,), (Delegate.CPU, Delegate.XNNPACK)),
}
TARGETS = {"host": {}, "adb": {}, "coreml_mac": {}, "ssh": {"host": "pi.local"}}


def test_the_builtin_runners_in_order_with_their_formats_and_defaults():
    assert registry.runner_names()[:4] == ["host", "adb", "coreml_mac", "ssh"]
    for name, (formats, defaults) in BUILTIN.items():
        cls = registry.runner_class(name)
        target = TargetConfig(runner=name, **TARGETS[name])
        assert issubclass(cls, Runner) and cls.name == name
        assert cls.formats == formats and cls.default_delegates(target) == defaults
        other = next(f for f in ArtifactFormat if f not in formats)
        assert cls.takes(formats[0]) and not cls.takes(other)


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(InputError, match="runner: got 'usb'; allowed: adb, coreml_mac, host, ios, ssh"):
        registry.runner_class("usb")


class _Tiny(Runner):
    formats = (ArtifactFormat.TFLITE,)

    def probe(self):
        return []

    def supports(self, job):
        raise NotImplementedError

    def time(self, job):
        raise NotImplementedError


def test_register_refuses_duplicates_non_runners_and_runners_without_formats():
    registry.runner_names()
    with pytest.raises(ValueError, match="already registered"):
        registry.register("host")(_Tiny)
    with pytest.raises(TypeError, match="does not derive from device_runners.base.Runner"):
        registry.register("plain")(type("Plain", (), {"formats": (ArtifactFormat.TFLITE,)}))
    with pytest.raises(TypeError, match="names no artifact format"):
        registry.register("formless")(type("Formless", (_Tiny,), {"formats": ()}))
    assert not {"plain", "formless"} & set(registry.runner_names())
