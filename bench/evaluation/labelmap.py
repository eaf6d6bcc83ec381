"""Label maps: which dataset category each of a model's class indices means, matched by name.

A model's class index need not be the dataset's category order: the TF Object Detection API's COCO exports
count in COCO's 90-id space (80 used ids), and a user's detector may know classes the data does not have.
Three sources of the model's class names are read:

* ``labelmap.txt``: one name per line, line i = class i. ``???`` lines are unused ids. A first line ``???``
  is the background slot of the OD API's TFLite exports (``TFLite_Detection_PostProcess`` skips background,
  so class 0 is the second line); it is dropped, as the TFLite Android detection example does.
* an OD API ``.pbtxt`` (``item { id: N name: '...' display_name: '...' }``): ids are 1-based with 0 =
  background (object_detection/protos/string_int_label_map.proto), so class index = id - 1. An item matches
  a category by its display_name or its name.
* the label file packed in a ``.tflite``'s metadata (MediaPipe / TFLite Support metadata writers append
  their associated files to the flatbuffer as a zip archive; the ``TENSOR_AXIS_LABELS`` file is a text file).

Names match the dataset's category names case-insensitively, with surrounding white space stripped.
Detections of a class with no category in the data are dropped (ignored, said once), and categories the
model cannot predict are listed: their recall is zero.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.evaluation.detectors import Detections, Detector
from common.errors import InputError

UNUSED = "???"  # the OD API's placeholder for an unused id
_ITEM = re.compile(r"item\s*\{(.*?)\}", re.S)
_FIELD = re.compile(r"(\w+)\s*:\s*(?:\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'|(-?\d+))")


def _norm(name: str) -> str:
    return name.strip().lower()


def read_labelmap_txt(text: str) -> list[tuple[str, ...]]:
    """Names per class index of a ``labelmap.txt`` (empty tuple = unused index)."""
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if lines and lines[0] == UNUSED:
        lines = lines[1:]  # the background slot (see the module docstring)
    return [() if line in ("", UNUSED) else (line,) for line in lines]


def read_pbtxt(text: str, where: str) -> list[tuple[str, ...]]:
    """Names per class index of an OD API ``StringIntLabelMap`` text proto (class = id - 1).

    Raises:
        InputError: no items, an item without an id or a name, an id below 1 or given twice.
    """
    items: dict[int, tuple[str, ...]] = {}
    for number, body in enumerate(_ITEM.findall(text)):
        fields = {m[0]: m[1] or m[2] or m[3] for m in _FIELD.findall(body)}
        if "id" not in fields or not fields["id"].lstrip("-").isdigit():
            raise InputError(f"{where}: item {number} has no integer id")
        index = int(fields["id"]) - 1
        names = tuple(dict.fromkeys(fields[k] for k in ("display_name", "name") if fields.get(k)))
        if index < 0 or index in items or not names:
            problem = "no name" if not names else ("id below 1" if index < 0 else "a repeated id")
            raise InputError(f"{where}: item {number} (id {fields['id']}) has {problem}")
        items[index] = names
    if not items:
        raise InputError(f"{where}: no `item {{ id: N name: '...' }}` entries found")
    return [items.get(i, ()) for i in range(max(items) + 1)]


def metadata_labels(path: str | Path) -> str | None:
    """The label file packed in a ``.tflite``'s metadata (its appended zip), or None when it has none."""
    path = Path(path)
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as archive:
            texts = [n for n in archive.namelist() if n.lower().endswith(".txt")]
            if not texts:
                return None
            labels = [n for n in texts if "label" in n.lower()] or texts
            return archive.read(sorted(labels)[0]).decode("utf-8")
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the label file in its metadata: {exc}") from exc


def read_class_names(path: str | Path) -> list[tuple[str, ...]]:
    """A label map file's names per class index: ``.pbtxt``, ``.tflite`` (metadata) or text.

    Raises:
        InputError: the file is missing, unreadable, or (a .tflite) carries no label file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"--labelmap: {path}: file not found")
    if path.suffix.lower() == ".tflite":
        text = metadata_labels(path)
        if text is None:
            raise InputError(f"--labelmap: {path}: the model's metadata holds no label file")
        return read_labelmap_txt(text)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--labelmap: {path}: cannot read: {exc}") from exc
    if path.suffix.lower() == ".pbtxt" or _ITEM.search(text):
        return read_pbtxt(text, f"--labelmap {path}")
    names = read_labelmap_txt(text)
    if not any(names):
        raise InputError(f"--labelmap: {path}: no class names in it")
    return names


@dataclass(frozen=True)
class LabelMapping:
    """Model class index -> dataset class index, by name.

    Attributes:
        model_names: The model's name for each class index ("" = unused index).
        to_dataset: int64 [num model classes], the dataset class index or -1 (ignored).
        ignored: Names of model classes with no category in the data (their detections are dropped).
        unpredictable: Dataset categories no model class maps to.
    """

    model_names: tuple[str, ...]
    to_dataset: np.ndarray
    ignored: tuple[str, ...]
    unpredictable: tuple[str, ...]

    def describe(self) -> str:
        """One line for the user: how many classes matched, which are ignored, which cannot be predicted."""
        matched = int((self.to_dataset >= 0).sum())
        parts = [f"label map: {matched} model classes matched dataset categories"]
        if self.ignored:
            parts.append(f"{len(self.ignored)} ignored (not in the data): {_short(self.ignored)}")
        if self.unpredictable:
            parts.append(
                f"{len(self.unpredictable)} categories the model cannot predict: {_short(self.unpredictable)}"
            )
        return "; ".join(parts)


def _short(names: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... (+{len(names) - limit})" if len(names) > limit else "")


def build_mapping(names: list[tuple[str, ...]], categories: list[str]) -> LabelMapping:
    """Match each model class's names to the dataset's categories (case-insensitive, stripped).

    Raises:
        InputError: no model class matches any category (a wrong label map, not a partial one).
    """
    wanted = {_norm(c): i for i, c in enumerate(categories)}
    to_dataset = np.full(len(names), -1, dtype=np.int64)
    for index, options in enumerate(names):
        for option in options:
            if _norm(option) in wanted:
                to_dataset[index] = wanted[_norm(option)]
                break
    if not (to_dataset >= 0).any():
        raise InputError(
            f"label map: none of its {sum(1 for n in names if n)} class names matches a dataset category "
            f"(categories: {_short(tuple(categories))})"
        )
    covered = set(to_dataset[to_dataset >= 0].tolist())
    return LabelMapping(
        model_names=tuple(n[0] if n else "" for n in names),
        to_dataset=to_dataset,
        ignored=tuple(n[0] for n, d in zip(names, to_dataset, strict=True) if n and d < 0),
        unpredictable=tuple(c for i, c in enumerate(categories) if i not in covered),
    )


def load_mapping(path: str | Path, categories: list[str]) -> LabelMapping:
    """:func:`read_class_names` then :func:`build_mapping`."""
    return build_mapping(read_class_names(path), categories)


class MappedDetector:
    """A detector whose class indices are translated to the dataset's through a :class:`LabelMapping`.

    Detections of ignored classes are dropped; an index beyond the label map is an error, since it means
    the label map belongs to another model.
    """

    def __init__(self, detector: Detector, mapping: LabelMapping) -> None:
        self.detector = detector
        self.mapping = mapping

    def __call__(self, image: np.ndarray) -> Detections:
        """Detect with the wrapped detector, then map and filter the classes."""
        boxes, classes, scores = (np.asarray(a) for a in self.detector(image))
        classes = classes.reshape(-1).astype(np.int64)
        size = len(self.mapping.to_dataset)
        bad = (classes < 0) | (classes >= size)
        if bad.any():
            raise InputError(
                f"model class index {int(classes[bad][0])} outside the label map's 0..{size - 1}: "
                "the label map does not belong to this model"
            )
        mapped = self.mapping.to_dataset[classes]
        keep = mapped >= 0
        return Detections(boxes.reshape(-1, 4)[keep], mapped[keep], scores.reshape(-1)[keep])
