"""Load a COCO-format detection dataset (instances JSON + image folder) into a validated, typed object.

The loader is strict: every kind of broken dataset ends in one :class:`~common.errors.InputError` line
naming the file and the problem (DESIGN.md, Conventions). The structural checks live in
:mod:`bench.data.coco_checks`; this module turns a checked JSON document into :class:`CocoDataset`.

Conventions of the loaded object:
- class indices are contiguous and 0-based, in ascending order of the COCO category id, so a dataset with
  category ids ``[1, 3, 7]`` has classes ``0, 1, 2`` (``class_index[7] == 2``);
- boxes are float32 ``[ymin, xmin, ymax, xmax]`` normalised by the image size (the order TF's image ops
  and the ``TFLite_Detection_PostProcess`` op use), clipped to ``[0, 1]``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.coco_checks import check_document, raise_problems
from common.errors import InputError

# The name every split directory uses for its annotations (train/instances.json, val/instances.json).
INSTANCES_FILE = "instances.json"
IMAGES_DIR = "images"


@dataclass(frozen=True)
class Category:
    """One COCO category.

    Attributes:
        id: The COCO category id as written in the JSON (may be non-contiguous).
        name: The human-readable name.
    """

    id: int
    name: str


@dataclass(frozen=True, eq=False)
class ImageRecord:
    """One image and its ground truth.

    Attributes:
        image_id: The COCO image id.
        path: The image file.
        width: Image width in pixels, as declared in the JSON.
        height: Image height in pixels, as declared in the JSON.
        boxes: float32 [N, 4] normalised ``ymin, xmin, ymax, xmax``.
        classes: int32 [N] contiguous 0-based class indices.
        iscrowd: bool [N]; crowd regions are ignored by COCOeval and dropped by the training pipeline.
    """

    image_id: int
    path: Path
    width: int
    height: int
    boxes: np.ndarray
    classes: np.ndarray
    iscrowd: np.ndarray


@dataclass(frozen=True, eq=False)
class CocoDataset:
    """A loaded, validated COCO-format split.

    Attributes:
        annotations_path: The instances JSON (hand it to COCOeval as the ground truth).
        images_dir: The folder the ``file_name`` entries are relative to.
        categories: Categories sorted by COCO id; the position in this tuple is the class index.
        records: One record per image, in the order of the JSON's ``images`` list.
        dataset_id: Name and content hash of the JSON (see :func:`dataset_id`): names the exact data.
    """

    annotations_path: Path
    images_dir: Path
    categories: tuple[Category, ...]
    records: tuple[ImageRecord, ...]
    dataset_id: str

    @property
    def num_classes(self) -> int:
        """Number of classes (without background)."""
        return len(self.categories)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Category names in class-index order."""
        return tuple(c.name for c in self.categories)

    @property
    def category_ids(self) -> tuple[int, ...]:
        """COCO category id of each class index (``category_ids[class_index]``)."""
        return tuple(c.id for c in self.categories)

    @property
    def class_index(self) -> dict[int, int]:
        """Map from COCO category id to contiguous 0-based class index."""
        return {c.id: i for i, c in enumerate(self.categories)}

    def class_counts(self, include_crowd: bool = False) -> np.ndarray:
        """Number of boxes per class index, int64 [num_classes]."""
        counts = np.zeros(self.num_classes, np.int64)
        for rec in self.records:
            keep = rec.classes if include_crowd else rec.classes[~rec.iscrowd]
            counts += np.bincount(keep, minlength=self.num_classes)
        return counts


def resolve_annotations(path: str | Path) -> Path:
    """Accept either an instances JSON or a split folder holding ``instances.json``."""
    path = Path(path)
    if path.is_dir():
        path = path / INSTANCES_FILE
    if not path.is_file():
        raise InputError(f"{path}: annotations file not found (expected a COCO instances JSON)")
    return path


def read_json(path: Path) -> object:
    """Parse a JSON file, turning every failure into one InputError line naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: malformed JSON: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc


def load_coco(
    annotations: str | Path,
    images_dir: str | Path | None = None,
    *,
    check_files: bool = True,
    check_image_sizes: bool = False,
) -> CocoDataset:
    """Load and validate a COCO-format detection split.

    Args:
        annotations: The instances JSON, or a split folder that holds ``instances.json``.
        images_dir: Folder of the images; defaults to ``images/`` beside the JSON.
        check_files: Require every image file to exist (turn off to evaluate detection files only).
        check_image_sizes: Also open every image header and compare its size with the JSON.

    Returns:
        The loaded split.

    Raises:
        InputError: One line naming the file and the first problem found (and how many more there are).
    """
    path = resolve_annotations(annotations)
    images_root = Path(images_dir) if images_dir is not None else path.parent / IMAGES_DIR
    document = read_json(path)
    problems = check_document(document)
    if not problems and check_files:
        problems = _check_image_files(document["images"], images_root, check_image_sizes)
    raise_problems(path, problems)
    return _build(path, images_root, document)


def _check_image_files(images: list[dict], root: Path, check_sizes: bool) -> list[str]:
    """Every image file must exist (and, optionally, have the size the JSON declares)."""
    if not root.is_dir():
        return [f"images folder not found: {root}"]
    problems = []
    for i, img in enumerate(images):
        file = root / img["file_name"]
        where = f"images[{i}] (id {img['id']})"
        if not file.is_file():
            problems.append(f"{where}: image file not found: {file}")
        elif check_sizes:
            problems.extend(_check_image_size(file, img, where))
    return problems


def _check_image_size(file: Path, img: dict, where: str) -> list[str]:
    from PIL import Image, UnidentifiedImageError  # lazy: only the deep check needs Pillow

    try:
        with Image.open(file) as im:
            size = im.size
    except (OSError, UnidentifiedImageError) as exc:
        return [f"{where}: cannot read image {file}: {exc}"]
    if size != (img["width"], img["height"]):
        return [f"{where}: {file} is {size[0]}x{size[1]} but the JSON says {img['width']}x{img['height']}"]
    return []


def _build(path: Path, images_root: Path, document: dict) -> CocoDataset:
    categories = tuple(
        Category(int(c["id"]), str(c["name"])) for c in sorted(document["categories"], key=lambda c: c["id"])
    )
    class_index = {c.id: i for i, c in enumerate(categories)}
    by_image: dict[int, list[dict]] = {img["id"]: [] for img in document["images"]}
    for ann in document.get("annotations", []):
        by_image[ann["image_id"]].append(ann)
    records = tuple(_record(img, by_image[img["id"]], images_root, class_index) for img in document["images"])
    return CocoDataset(path, images_root, categories, records, dataset_id(path))


def dataset_id(path: Path) -> str:
    """Name + content hash: ``<dataset>/<split>@<sha256[:12]>`` for ``<dataset>/<split>/instances.json``
    (the synthetic layout), otherwise ``<folder>/<file stem>@<sha256[:12]>``."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    if path.name == INSTANCES_FILE:
        return f"{path.parent.parent.name}/{path.parent.name}@{digest}"
    return f"{path.parent.name}/{path.stem}@{digest}"


def _record(img: dict, anns: list[dict], root: Path, class_index: dict[int, int]) -> ImageRecord:
    width, height = int(img["width"]), int(img["height"])
    xywh = np.array([a["bbox"] for a in anns], np.float64).reshape(-1, 4)
    # Normalise, then clip: the checks allow boxes to overhang the border by a pixel (COCO's own do).
    boxes = np.stack(
        [
            xywh[:, 1] / height,
            xywh[:, 0] / width,
            (xywh[:, 1] + xywh[:, 3]) / height,
            (xywh[:, 0] + xywh[:, 2]) / width,
        ],
        axis=1,
    )
    return ImageRecord(
        image_id=int(img["id"]),
        path=root / img["file_name"],
        width=width,
        height=height,
        boxes=np.clip(boxes, 0.0, 1.0).astype(np.float32),
        classes=np.array([class_index[a["category_id"]] for a in anns], np.int32),
        iscrowd=np.array([bool(a.get("iscrowd", 0)) for a in anns], bool),
    )
