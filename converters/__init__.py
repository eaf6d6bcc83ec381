"""Named compression recipes and the functions that turn a trained Keras detector into an artifact."""

import os

# tfmot supports Keras 2 only: tf_keras must be the Keras TensorFlow uses, set before TF is imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from converters.artifact import Artifact, load_artifact
from converters.convert import convert
from converters.inputs import ConversionInputs
from converters.recipes import Recipe, get_recipe, parse_recipe, recipe_names, register

__all__ = [
    "Artifact",
    "ConversionInputs",
    "Recipe",
    "convert",
    "get_recipe",
    "load_artifact",
    "parse_recipe",
    "recipe_names",
    "register",
]
