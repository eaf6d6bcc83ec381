"""Keep TensorFlow's start-up noise off a new user's first screen (``edgebench --verbose`` shows it).

TensorFlow 2.21 logs through absl from its shared libraries as they load, *before* ``absl::InitializeLog()``
runs, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence those lines (oneDNN, "Could not find cuda drivers", the
absl banner, and cuInit when the CUDA libraries are present but no GPU is). :func:`install` therefore
wraps the first ``import tensorflow`` (and the device enumeration that calls cuInit) in a redirect of file
descriptor 2 and writes back every captured line that is not known start-up noise, so real errors and
warnings still show. It also sets the environment child processes inherit. Imports no TensorFlow itself.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

# Lines TensorFlow / XLA print at start-up on a machine without a usable GPU; nothing a user acts on.
NOISE = re.compile(
    "|".join(
        (
            r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
            r"oneDNN custom operations are on",
            r"Could not find cuda drivers",
            r"failed call to cuInit",
            r"Could not load dynamic library 'lib(cud|nvinfer)",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"computation placer already registered",
            r"TF-TRT Warning",
            r"This TensorFlow binary is optimized to use available CPU instructions",
            r"rebuild TensorFlow with the appropriate compiler flags",
            r"Attempting to register factory for plugin",
        )
    )
)
TF_PACKAGE = "tensorflow"


def install(verbose: bool = False) -> None:
    """Set TensorFlow's logging for this process and its children; call before TensorFlow is imported.

    Args:
        verbose: Show everything (C++ INFO logs included); otherwise C++ logs below warnings are dropped
            and the start-up lines of :data:`NOISE` are filtered out of the first import.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "2"  # children inherit it
    if verbose:
        logging.getLogger(TF_PACKAGE).setLevel(logging.INFO)
        return
    if TF_PACKAGE not in sys.modules and not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Capture file descriptor 2 (C++ and Python writes alike); write back all but :data:`NOISE` lines."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not NOISE.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


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
