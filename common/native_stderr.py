"""What TensorFlow's native code writes to file descriptor 2, minus the lines nobody can act on.

TensorFlow logs through absl from its shared libraries, and its TFLite converter prints from C++; neither
goes through Python's ``sys.stderr`` or ``logging``, and ``TF_CPP_MIN_LOG_LEVEL`` does not silence the absl
lines written before ``absl::InitializeLog()`` runs. :func:`filtered_stderr` therefore captures the file
descriptor itself and writes back every captured line that is not in :data:`NOISE`, so real errors and
warnings still show (after the wrapped call). Imports no TensorFlow itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

# Lines TensorFlow, XLA and the TFLite converter print on a machine without a usable GPU; nothing a user
# acts on. The last two come from every TFLite conversion of a tf.function (a graph attribute newer than
# the op registry, ignored) and every post-training quantization (a debug print of its settings); LiteRT
# prints the XNNPack line whenever an interpreter applies its default delegate (every evaluation).
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
            r"NodeDef mentions attribute \w+ which is not in the op definition",
            r"^fully_quantize: \d+, inference_type: \d+",
            r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU",
        )
    )
)


def tensorflow_verbose() -> bool:
    """Whether this process asked for all of TensorFlow's logs (``TF_CPP_MIN_LOG_LEVEL`` unset or 0).

    ``edgebench`` sets the level to 2 unless ``--verbose``; a library caller that sets nothing sees all.
    """
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") == "0"


@contextlib.contextmanager
def filtered_stderr(enabled: bool = True) -> Iterator[None]:
    """Capture file descriptor 2 (C++ and Python writes alike); write back all but :data:`NOISE` lines.

    Args:
        enabled: False passes everything through untouched (a verbose run).
    """
    if not enabled:
        yield
        return
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
