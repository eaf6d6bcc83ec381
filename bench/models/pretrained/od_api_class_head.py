"""The class head of an OD API COCO checkpoint, mapped onto a model's classes by name.

The OD API's convolutional class head (predictors/heads/class_head.py) writes, per feature-map cell,
``boxes x (num_classes + 1)`` channels that it reshapes to [anchors, num_classes + 1]: for each box the
background slot first, then COCO ids 1..90 (:mod:`bench.data.coco_labels`). A dataset numbers its own
categories; each of its classes takes the channels of the COCO id of the same name, so a COCO val2017
model predicts exactly the dataset's 80 classes with the published weights.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bench.data.coco_labels import class_slot_names, slots_by_name
from bench.models.pretrained.od_api_table import CLASS_HEAD, OD_API_CLASS_SLOTS, Entry

_MAX_NAMED = 5


def _listed(names: tuple[str, ...]) -> str:
    more = f" and {len(names) - _MAX_NAMED} more" if len(names) > _MAX_NAMED else ""
    return ", ".join(names[:_MAX_NAMED]) + more


def is_class_conv(entry: Entry) -> bool:
    """The final class convolution of a head (its channels are boxes x class slots)."""
    return entry.part == CLASS_HEAD and entry.weight in ("kernel", "bias")


def same_boxes(entry: Entry, weights: dict) -> bool:
    """Only the class count differs: same kernel size, input depth and boxes per cell."""
    ours = tuple(weights[(entry.layer, entry.weight)].shape)
    boxes, rest = divmod(entry.shape[-1], OD_API_CLASS_SLOTS)
    return ours[:-1] == entry.shape[:-1] and rest == 0 and ours[-1] % boxes == 0


def class_sources(
    class_names: tuple[str, ...] | None, slots: int, same_count: bool
) -> list[int | None] | None:
    """For each class slot of the model, the checkpoint slot it takes (None: keeps its fresh init).

    By name when ``class_names`` is given (the background slot 0 is always slot 0); without names the
    head is copied as it is when the counts agree. None when no class is found: the whole head stays
    fresh (the background slot of an unrelated class set is no better than the prior init).
    """
    if class_names is None:
        return list(range(slots)) if same_count else None
    found = slots_by_name(class_names)
    return [0, *found] if any(slot is not None for slot in found) else None


def select_rows(value: np.ndarray, fresh: np.ndarray, sources: list[int | None]) -> np.ndarray:
    """The class channels of ``value`` (boxes x 91, background first, as the OD API's class head
    reshapes them to [anchors, num_classes + 1]) placed at the model's slots; the rest from ``fresh``."""
    boxes = value.shape[-1] // OD_API_CLASS_SLOTS
    theirs = value.reshape(*value.shape[:-1], boxes, OD_API_CLASS_SLOTS)
    ours = fresh.reshape(*fresh.shape[:-1], boxes, len(sources)).copy()
    for slot, source in enumerate(sources):
        if source is not None:
            ours[..., slot] = theirs[..., source]
    return ours.reshape(fresh.shape)


class ClassHead(NamedTuple):
    """How the class head was filled."""

    sources: list[int | None] | None  # checkpoint slot of each model slot; None: fresh head
    names: tuple[str, ...] | None  # the model's class names, if given


def class_note(head: ClassHead, slots: int) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(note for the report, labels of slots 1..N, classes left at the fresh init)."""
    if head.sources is None:
        if head.names is not None:
            return (
                "fresh init: none of the model's classes is named in the checkpoint's COCO label map",
                (),
                head.names,
            )
        note = f"fresh init: the checkpoint has {OD_API_CLASS_SLOTS} class slots, the model {slots}"
        return note, (), ()
    if head.names is None:
        return f"loaded: {OD_API_CLASS_SLOTS} slots, background + COCO ids 1..90", class_slot_names(), ()
    fresh = tuple(n for n, s in zip(head.names, head.sources[1:], strict=True) if s is None)
    found = len(head.names) - len(fresh)
    note = (
        f"by name: {found} of {len(head.names)} classes (and the background) from the checkpoint's COCO slots"
    )
    if fresh:
        note += f"; fresh prior init: {_listed(fresh)}"
    return note, head.names, fresh
