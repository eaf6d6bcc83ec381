"""Structural checks of a COCO instances document: keys, types, ids, sizes and boxes.

Each check returns problems as strings ("annotations[4] (id 12): ..."); :func:`raise_problems` turns them
into one InputError line that names the file, the first problem and how many more there are, so a user
fixing a broken export sees where to look without a wall of text.
"""

from __future__ import annotations

from pathlib import Path

from common.errors import InputError

# COCO's own annotations overhang the image border by fractions of a pixel; allow up to one pixel.
BORDER_TOLERANCE_PX = 1.0

_REQUIRED = {
    "images": ("id", "file_name", "width", "height"),
    "annotations": ("id", "image_id", "category_id", "bbox"),
    "categories": ("id", "name"),
}


def raise_problems(path: Path, problems: list[str]) -> None:
    """Raise one InputError line for ``path`` if there is any problem.

    Args:
        path: The file the problems were found in.
        problems: Problem descriptions, most important first.

    Raises:
        InputError: ``"<path>: <first problem> (and N more problems)"``.
    """
    if not problems:
        return
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    raise InputError(f"{path}: {problems[0]}{more}")


def check_document(document: object) -> list[str]:
    """Check a parsed instances JSON; return the problems found (empty when valid).

    Checks, in order: top-level shape and keys; required keys and types of every entry; unique ids;
    positive image sizes; annotations naming known images and categories; positive box sizes; boxes
    inside their image (within :data:`BORDER_TOLERANCE_PX`).
    """
    if not isinstance(document, dict):
        return [f"expected a JSON object with 'images', 'annotations', 'categories'; got {_kind(document)}"]
    problems = []
    for section in ("images", "categories", "annotations"):
        if section not in document:
            problems.append(f"missing top-level key {section!r}")
        elif not isinstance(document[section], list):
            problems.append(f"{section!r} must be a list; got {_kind(document[section])}")
    if problems:
        return problems
    for section in ("images", "categories", "annotations"):
        problems += _check_entries(section, document[section])
    if problems:
        return problems
    problems += _check_images(document["images"])
    problems += _check_categories(document["categories"])
    if problems:
        return problems
    sizes = {img["id"]: (img["width"], img["height"]) for img in document["images"]}
    category_ids = {c["id"] for c in document["categories"]}
    return _check_annotations(document["annotations"], sizes, category_ids)


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _where(section: str, index: int, entry: dict) -> str:
    return f"{section}[{index}] (id {entry['id']})" if "id" in entry else f"{section}[{index}]"


def _check_entries(section: str, entries: list) -> list[str]:
    """Every entry is an object with the required keys, and every id is an integer."""
    problems = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"{section}[{i}]: expected an object; got {_kind(entry)}")
            continue
        missing = [key for key in _REQUIRED[section] if key not in entry]
        if missing:
            problems.append(f"{_where(section, i, entry)}: missing key {', '.join(map(repr, missing))}")
            continue
        for key in ("id", "image_id", "category_id"):
            if key in _REQUIRED[section] and not _is_int(entry[key]):
                problems.append(f"{section}[{i}]: {key!r} must be an integer; got {entry[key]!r}")
    return problems


def _duplicates(section: str, entries: list[dict]) -> list[str]:
    seen: set[int] = set()
    problems = []
    for i, entry in enumerate(entries):
        if entry["id"] in seen:
            problems.append(f"{section}[{i}]: duplicate id {entry['id']}")
        seen.add(entry["id"])
    return problems


def _check_images(images: list[dict]) -> list[str]:
    problems = _duplicates("images", images)
    for i, img in enumerate(images):
        where = _where("images", i, img)
        if not isinstance(img["file_name"], str) or not img["file_name"]:
            problems.append(f"{where}: 'file_name' must be a non-empty string; got {img['file_name']!r}")
        for key in ("width", "height"):
            if not _is_int(img[key]) or img[key] <= 0:
                problems.append(
                    f"{where}: non-positive or non-integer {key!r}: expected > 0, got {img[key]!r}"
                )
    return problems


def _check_categories(categories: list[dict]) -> list[str]:
    problems = _duplicates("categories", categories)
    if not categories:
        problems.append("'categories' is empty: a detection dataset needs at least one category")
    for i, cat in enumerate(categories):
        if not isinstance(cat["name"], str):
            problems.append(f"{_where('categories', i, cat)}: 'name' must be a string; got {cat['name']!r}")
    return problems


def _check_annotations(annotations: list[dict], sizes: dict, category_ids: set[int]) -> list[str]:
    problems = _duplicates("annotations", annotations)
    for i, ann in enumerate(annotations):
        where = _where("annotations", i, ann)
        if ann["image_id"] not in sizes:
            problems.append(f"{where}: unknown image id {ann['image_id']} (not in 'images')")
            continue
        if ann["category_id"] not in category_ids:
            known = ", ".join(map(str, sorted(category_ids)))
            problems.append(f"{where}: unknown category id {ann['category_id']}; known ids: {known}")
        if ann.get("iscrowd", 0) not in (0, 1):
            problems.append(f"{where}: 'iscrowd' must be 0 or 1; got {ann['iscrowd']!r}")
        problems += _check_box(where, ann["bbox"], sizes[ann["image_id"]], ann["image_id"])
    return problems


def _check_box(where: str, bbox: object, size: tuple[int, int], image_id: int) -> list[str]:
    """A box is [x, y, width, height] in pixels, with positive size, inside its image."""
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
        return [f"{where}: 'bbox' must be [x, y, width, height] (4 numbers); got {bbox!r}"]
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return [f"{where}: non-positive box size: bbox {bbox} has width {w}, height {h}; expected > 0"]
    width, height = size
    tol = BORDER_TOLERANCE_PX
    if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
        return [
            f"{where}: box outside the image: bbox [x, y, w, h] = {bbox} spans x {x}..{x + w}, "
            f"y {y}..{y + h} but image {image_id} is {width}x{height}"
        ]
    return []
