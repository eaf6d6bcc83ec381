"""Shared, session-scoped conversions of a tiny zoo variant (each recipe converted once).

The detector is the zoo's ``tiny_ssdlite_mobilenet_v2`` handed over as the pipeline hands it over
(``bench.pipeline.inputs.conversion_inputs``: training split, plan sections, bench's fine-tuning loop).
"""

from __future__ import annotations

import numpy as np
import pytest
from tiny_zoo import TINY, fast_recipe, pipeline_inputs, realistic_tiny, synthetic_split


@pytest.fixture(scope="session")
def tiny_split(tmp_path_factory):
    """A few synthetic training images (8 classes)."""
    return synthetic_split(tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="session")
def fixture_inputs(tiny_split):
    """The tiny variant with spread-out predictions, as the pipeline's export stage builds its inputs."""
    config, model = realistic_tiny(TINY, np.random.default_rng(0), num_classes=tiny_split.num_classes)
    return pipeline_inputs(config, model, tiny_split)


@pytest.fixture(scope="session")
def converted(fixture_inputs, tmp_path_factory):
    """recipe name -> Artifact of the tiny variant, converted lazily and once per session."""
    from converters import convert

    out = tmp_path_factory.mktemp("artifacts")
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = convert(fixture_inputs, fast_recipe(name), out, tflite_metadata=False)
        return cache[name]

    return get
