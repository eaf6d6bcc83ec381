"""The 90-id COCO label map of the TF Object Detection API (``mscoco_label_map.pbtxt``).

COCO's category ids run 1..90 with ten ids unused (the 2014 paper's categories that were never
annotated: street sign, hat, shoe, eye glasses, plate, mirror, window, desk, door, blender). The OD
API's COCO models predict 91 class slots: slot 0 is the background and slot ``i`` is COCO id ``i``,
unused ids included; their exported ``labelmap.txt`` writes ``???`` for the background and each
unused id.
"""

from __future__ import annotations

UNUSED = "???"  # the name labelmap.txt gives the background and the unused ids

# id -> name for the 80 ids in use (COCO 2017 instances_val2017.json "categories").
COCO_NAMES: dict[int, str] = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train",
    8: "truck", 9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign",
    14: "parking meter", 15: "bench", 16: "bird", 17: "cat", 18: "dog", 19: "horse", 20: "sheep",
    21: "cow", 22: "elephant", 23: "bear", 24: "zebra", 25: "giraffe", 27: "backpack",
    28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase", 34: "frisbee", 35: "skis",
    36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat", 40: "baseball glove",
    41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass",
    47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple",
    54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog", 59: "pizza",
    60: "donut", 61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed",
    67: "dining table", 70: "toilet", 72: "tv", 73: "laptop", 74: "mouse", 75: "remote",
    76: "keyboard", 77: "cell phone", 78: "microwave", 79: "oven", 80: "toaster", 81: "sink",
    82: "refrigerator", 84: "book", 85: "clock", 86: "vase", 87: "scissors", 88: "teddy bear",
    89: "hair drier", 90: "toothbrush",
}  # fmt: skip
NUM_IDS = 90  # highest COCO category id; the OD API models have NUM_IDS + 1 class slots
UNUSED_IDS = tuple(i for i in range(1, NUM_IDS + 1) if i not in COCO_NAMES)


def class_slot_names() -> tuple[str, ...]:
    """The name of every class slot 1..90 of an OD API COCO model (slot i = COCO id i; ``???`` unused).

    Returns:
        90 names, the model's class order without the background slot.
    """
    return tuple(COCO_NAMES.get(i, UNUSED) for i in range(1, NUM_IDS + 1))


def labelmap_lines() -> list[str]:
    """The 91 lines of the OD API's exported ``labelmap.txt``: background and unused ids as ``???``."""
    return [UNUSED, *class_slot_names()]


def slots_by_name(names: tuple[str, ...] | list[str]) -> list[int | None]:
    """The OD API class slot (= COCO id) of each name, by name (case and spacing ignored); None if absent.

    This is how a dataset's categories find their rows in a published COCO head: bench numbers a
    dataset's classes in its own category order, which need not be COCO's id order nor all 80.
    """
    by_name = {_key(name): index for index, name in COCO_NAMES.items()}
    return [by_name.get(_key(name)) for name in names]


def _key(name: str) -> str:
    return " ".join(name.lower().split())
