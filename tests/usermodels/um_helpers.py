"""Helpers of the user-model tests (imported as ``um_helpers``)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

# The split's categories, with non-contiguous ids and names in mixed case (matching is case-insensitive).
CATEGORIES = ((3, "Car"), (7, "person"), (9, "dog"))
# The tiny zoo models' classes, in the OD API's habit: a 90-id-like space with unused ids.
MODEL_CLASSES = ("person", "bicycle", "car", "???", "cat")


def with_label_file(model: Path, out: Path, labels: str) -> Path:
    """A copy of ``model`` with a label file appended as a zip, as metadata writers pack it."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("labels.txt", labels)
    out.write_bytes(model.read_bytes() + archive.getvalue())
    return out
