"""Shared, session-scoped conversions of the tiny fixture detector (each recipe converted once)."""

from __future__ import annotations

import pytest
from conv_tiny_ssd import conversion_inputs, fast_recipe


@pytest.fixture(scope="session")
def fixture_inputs():
    """The random-weight fixture (128-wide convs, 64x64 input): realistic weight statistics."""
    return conversion_inputs(size=64, seed=0, oracle=False)


@pytest.fixture(scope="session")
def oracle_inputs():
    """The hand-set fixture: strong, deterministic detections on colourful images."""
    return conversion_inputs(size=64, seed=0, oracle=True)


@pytest.fixture(scope="session")
def converted(fixture_inputs, tmp_path_factory):
    """recipe name -> Artifact of the random fixture, converted lazily and once per session."""
    from converters import convert

    out = tmp_path_factory.mktemp("artifacts")
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = convert(fixture_inputs, fast_recipe(name), out, tflite_metadata=False)
        return cache[name]

    return get
