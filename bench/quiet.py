"""Keep TensorFlow's start-up noise off a new user's first screen (``edgebench --verbose`` shows it).

TensorFlow 2.21 logs through absl from its shared libraries as they load, *before* ``absl::InitializeLog()``
runs, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence those lines (oneDNN, "Could not find cuda drivers", the
absl banner, and cuInit when the CUDA libraries are present but no GPU is). :func:`install` therefore
wraps the first ``import tensorflow`` (and the device enumeration that calls cuInit) in
:func:`common.native_stderr.filtered_stderr`, which writes back every captured line that is not known
noise, so real errors and warnings still show. It also sets the environment child processes inherit.
Imports no TensorFlow itself.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import sys

from common.native_stderr import filtered_stderr

TF_PACKAGE = "tensorflow"


def install(verbose: bool = False) -> None:
    """Set TensorFlow's logging for this process and its children; call before TensorFlow is imported.

    Args:
        verbose: Show everything (C++ INFO logs included); otherwise C++ logs below warnings are dropped
            and the lines of :data:`common.native_stderr.NOISE` are filtered out of the first import
            (``converters.tflite`` filters every TFLite conversion the same way).
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "2"  # children inherit it
    if verbose:
        logging.getLogger(TF_PACKAGE).setLevel(logging.INFO)
        return
    if TF_PACKAGE not in sys.modules and not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds the top-level ``tensorflow`` package as usual and wraps its loader in :func:`filtered_stderr`."""

    def find_spec(self, name, path, target=None):
        if name != TF_PACKAGE:
            return None
        sys.meta_path.remove(self)  # once: later imports of TensorFlow are cached anyway
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """Delegates to TensorFlow's own loader; its ``exec_module`` runs with stderr filtered."""

    def __init__(self, loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with filtered_stderr():
            self._loader.exec_module(module)
            # Device enumeration is where cuInit runs (and complains when no GPU answers): do it now.
            module.config.list_physical_devices("GPU")

    def __getattr__(self, name: str):
        return getattr(self._loader, name)
